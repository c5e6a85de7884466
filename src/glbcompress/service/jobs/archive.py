"""Unpacking a job's input: a .zip holding one model with its files, or a lone .gltf, into a private
folder the engine reads from.

Runs inside the job's own process (under its memory and time limits). A zip is hostile until
checked: only plain files with relative names that stay inside the folder are written (no ``..``,
no absolute paths or drive letters, no links or devices, no password-protected entries), and the
number of entries, the unpacked bytes and the compression ratio are bounded, counting the bytes
actually written rather than trusting the sizes the zip declares.

>>> model = prepare_input(Path("jobs/42/input"), Path(work))   # -> work/input/scene.gltf
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from glbcompress.engine.errors import InvalidModel, LimitExceeded, UnsupportedModel

ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
"""A zip starts with a local file header, or (empty, or spanned) an end record or a split marker."""
GLB_MAGIC = b"glTF"
MODEL_SUFFIXES = (".gltf", ".glb")
JUNK = ("__MACOSX",)
"""Folders archivers add that are never part of a model."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 10_000
    max_unpacked_bytes: int = 8 * 1024**3
    max_ratio: float = 200.0
    """Largest unpacked/packed ratio of an entry, and of the whole zip, beyond ratio_floor_bytes (a
    zip bomb's tell)."""
    ratio_floor_bytes: int = 16 * 1024**2


DEFAULT_ARCHIVE_LIMITS = ArchiveLimits()
CHUNK = 1 << 20


def prepare_input(src: Path, work: Path, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> Path:
    """The model file to compress for the stored input src, unpacked under work/input when needed.

    A GLB is read where it is. A .gltf is copied alone into a folder of its own, so its relative
    URIs can only name files uploaded with it (in a zip), never other files in storage."""
    if looks_like_zip(src):
        folder = work / "input"
        folder.mkdir(parents=True, exist_ok=False)
        return unpack_zip(src, folder, limits)
    with open(src, "rb") as f:
        magic = f.read(4)
    if magic == GLB_MAGIC:
        return src
    folder = work / "input"
    folder.mkdir(parents=True, exist_ok=False)
    target = folder / "model.gltf"
    shutil.copyfile(src, target)
    return target


def looks_like_zip(path: Path) -> bool:
    """By its first bytes, or by its name (stored inputs keep the upload's .zip suffix), so that a
    broken .zip is reported as a broken zip rather than as a broken model."""
    with open(path, "rb") as f:
        return f.read(4) in ZIP_MAGICS or path.suffix.lower() == ".zip"


def safe_name(name: str) -> PurePosixPath | None:
    """The entry's relative path, or None for entries to skip (folders, archiver junk); raises
    UnsupportedModel for names that would leave the folder."""
    cleaned = name.replace("\\", "/")
    if "\x00" in cleaned or cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise UnsupportedModel(
            f"The zip contains an absolute path ('{name}'); only relative paths are allowed."
        )
    parts = [p for p in cleaned.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise UnsupportedModel(f"The zip contains a path that leaves its folder ('{name}').")
    if not parts or cleaned.endswith("/") or parts[0] in JUNK:
        return None
    if parts[-1].startswith("._") or parts[-1] == ".DS_Store":
        return None
    return PurePosixPath(*parts)


def _check_entry(info: zipfile.ZipInfo, limits: ArchiveLimits) -> None:
    mode = info.external_attr >> 16
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        raise UnsupportedModel(f"The zip contains a link ('{info.filename}'); only plain files are allowed.")
    if kind not in (0, stat.S_IFREG) and not info.is_dir():
        raise UnsupportedModel(
            f"The zip contains a special file ('{info.filename}'); only plain files are allowed."
        )
    if info.flag_bits & 0x1:
        raise UnsupportedModel("The zip is password-protected; upload an unencrypted zip.")
    if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(
        info.compress_size, 1
    ):
        raise LimitExceeded(
            f"'{info.filename}' in the zip unpacks to far more than it stores (a zip bomb?); it was refused."
        )


def unpack_zip(src: Path, folder: Path, limits: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS) -> Path:
    """Unpack the zip at src into folder and return the one model (.gltf or .glb) it holds."""
    try:
        archive = zipfile.ZipFile(src)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InvalidModel(f"The zip file cannot be read ({exc}).") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_entries:
            raise LimitExceeded(
                f"The zip holds {len(entries)} entries; at most {limits.max_entries} are allowed."
            )
        wanted: list[tuple[zipfile.ZipInfo, PurePosixPath]] = []
        seen: set[str] = set()
        for info in entries:
            _check_entry(info, limits)
            name = safe_name(info.filename)
            if name is None or info.is_dir():
                continue
            key = name.as_posix().lower()
            if key in seen:
                raise InvalidModel(f"The zip lists '{name}' twice.")
            seen.add(key)
            wanted.append((info, name))
        declared = sum(info.file_size for info, _ in wanted)
        if declared > limits.max_unpacked_bytes:
            raise LimitExceeded(_too_big(limits))
        # Real bytes never exceed these declared sizes (_extract stops an entry that runs longer).
        packed = max(1, src.stat().st_size)
        if _bomb(declared, packed, limits):
            raise LimitExceeded(_bomb_message(declared, packed))
        models = [name for _, name in wanted if name.suffix.lower() in MODEL_SUFFIXES]
        if not models:
            raise InvalidModel("The zip holds no .gltf or .glb model.")
        if len(models) > 1:
            listed = ", ".join(str(m) for m in sorted(models)[:5])
            raise UnsupportedModel(
                f"The zip holds {len(models)} models ({listed}); put one model in each zip."
            )
        written = 0
        for info, name in wanted:
            written = _extract(archive, info, folder, name, written, limits)
    return folder.joinpath(*models[0].parts)


def _extract(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    folder: Path,
    name: PurePosixPath,
    written: int,
    limits: ArchiveLimits,
) -> int:
    """Write one entry under folder, counting real bytes against the limits; returns the new total."""
    target = folder.joinpath(*name.parts)
    if not target.resolve().is_relative_to(folder.resolve()):
        raise UnsupportedModel(f"The zip contains a path that leaves its folder ('{info.filename}').")
    entry_bytes = 0
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(info) as packed, open(target, "xb") as out:
            while chunk := packed.read(CHUNK):
                entry_bytes += len(chunk)
                written += len(chunk)
                if written > limits.max_unpacked_bytes:
                    raise LimitExceeded(_too_big(limits))
                if entry_bytes > info.file_size:
                    raise InvalidModel(f"'{info.filename}' in the zip is longer than the zip says.")
                out.write(chunk)
    except (zipfile.BadZipFile, EOFError, NotImplementedError, OSError) as exc:
        if isinstance(exc, FileExistsError | NotADirectoryError | IsADirectoryError):
            raise InvalidModel(f"The zip lists '{name}' twice, or as both a file and a folder.") from None
        raise InvalidModel(f"'{info.filename}' in the zip cannot be unpacked ({exc}).") from None
    except RuntimeError as exc:  # zipfile's "encrypted" refusals and the like
        raise UnsupportedModel(f"'{info.filename}' in the zip cannot be unpacked ({exc}).") from None
    return written


def _bomb(unpacked: int, packed: int, limits: ArchiveLimits) -> bool:
    """Whether the whole zip unpacks to far more than its own size (each entry may look modest)."""
    return unpacked > limits.ratio_floor_bytes and unpacked > limits.max_ratio * packed


def _bomb_message(unpacked: int, packed: int) -> str:
    return f"The zip's {packed:,} bytes unpack to {unpacked:,}, far more than it stores (a zip bomb?); it was refused."


def _too_big(limits: ArchiveLimits) -> str:
    return (
        f"The zip unpacks to more than {limits.max_unpacked_bytes // 1024**2} MB, the most a job may unpack."
    )
