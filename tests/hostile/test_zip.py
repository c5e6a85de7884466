"""Zip-upload attacks, through the service's real job task (``jobs/runner.compress_model``, which
unpacks with ``jobs/archive.py``): path traversal in every spelling, links, names that collide as
file and folder, sizes that lie, and decompression bombs -- one entry, many modest entries, and
many entries sharing one compressed block (each small, together gigabytes). Refused before they
can fill the disk, in bounded memory and time. (tests/service/test_archive.py covers the basics.)"""

from __future__ import annotations

import stat
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from glbcompress.engine.errors import LimitExceeded
from glbcompress.service.jobs.archive import ArchiveLimits, unpack_zip
from tests.hostile.support import job_outcome, record_bounded, run_bounded

MODEL = "scene.gltf"


@pytest.fixture(scope="module")
def gltf_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from tests.fixtures.models import interleaved_gltf

    folder = tmp_path_factory.mktemp("gltf")
    path = interleaved_gltf(folder / "m.gltf")
    return {"m.gltf": path.read_bytes(), "box data #1.bin": (folder / "box data #1.bin").read_bytes()}


def make_zip(path: Path, entries: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "name",
    [
        "../evil.bin",
        "model/../../evil.bin",
        "./../evil.bin",
        "..\\evil.bin",
        "model\\..\\..\\evil.bin",
        "/tmp/evil.bin",
        "\\\\server\\share\\evil.bin",
        "C:\\Windows\\evil.bin",
        "c:evil.bin",
        "..",
        "a/b/../../../evil.bin",
    ],
)
def test_traversal_is_refused(gltf_files: dict[str, bytes], tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "t.zip", {**gltf_files, name: b"gotcha"})
    result = job_outcome(archive)
    assert result.kind == "unsupported-model", (name, result)
    assert not (tmp_path / "evil.bin").exists()


def test_a_model_that_reaches_outside_its_folder_in_the_zip(
    gltf_files: dict[str, bytes], tmp_path: Path
) -> None:
    """model/m.gltf asking for ../secret.bin, which the zip itself holds one folder up."""
    gltf = gltf_files["m.gltf"].replace(b"box%20data%20%231.bin", b"../secret.bin")
    archive = make_zip(
        tmp_path / "up.zip", {"model/m.gltf": gltf, "secret.bin": gltf_files["box data #1.bin"]}
    )
    result = job_outcome(archive)
    assert result.kind == "unsupported-model" and "outside" in result.message, result


@pytest.mark.parametrize("mode", [stat.S_IFLNK | 0o777, stat.S_IFCHR | 0o666, stat.S_IFBLK | 0o666])
def test_links_and_devices_are_refused(gltf_files: dict[str, bytes], tmp_path: Path, mode: int) -> None:
    archive = make_zip(tmp_path / "l.zip", gltf_files)
    info = zipfile.ZipInfo("box data #1.bin.link")
    info.external_attr = mode << 16
    with zipfile.ZipFile(archive, "a") as z:
        z.writestr(info, b"/etc/passwd")
    result = job_outcome(archive)
    assert result.kind == "unsupported-model", result


def test_a_name_used_as_file_and_folder(gltf_files: dict[str, bytes], tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "c.zip", {**gltf_files, "tex": b"1", "tex/a.png": b"2"})
    result = job_outcome(archive)
    assert result.kind == "invalid-model" and "both a file and a folder" in result.message, result


def _patch_sizes(archive: Path, name: bytes, size: int) -> None:
    """Make the zip claim size bytes for the entry name (in its local and central headers)."""
    data = bytearray(archive.read_bytes())
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = 0
        while (found := data.find(signature, start)) >= 0:
            if data[found + name_at : found + name_at + len(name)] == name:
                struct.pack_into("<I", data, found + size_at, size)
            start = found + 4
    archive.write_bytes(bytes(data))


def test_sizes_that_lie(gltf_files: dict[str, bytes], tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "lie.zip", {**gltf_files, "pad.bin": b"\0" * 100_000})
    _patch_sizes(archive, b"pad.bin", 10)
    result = job_outcome(archive)
    assert result.kind == "invalid-model", result


def shared_block_bomb(path: Path, entries: int, entry_bytes: int) -> Path:
    """A zip whose many central-directory entries all point at one deflated block of zeros: the
    file stays tiny while its directory promises entries x entry_bytes."""
    zeros = bytes(entry_bytes)
    raw = zlib.compressobj(1, zlib.DEFLATED, -15)
    block = raw.compress(zeros) + raw.flush()
    crc = zlib.crc32(zeros)
    local = struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(block), entry_bytes, 5, 0)
    body = local + b"k.bin" + block
    central = b""
    for i in range(entries):
        name = f"part{i:05d}.bin".encode()
        central += (
            struct.pack(
                "<4s6H3I5H2I",
                b"PK\x01\x02",
                20,
                20,
                0,
                8,
                0,
                0,
                crc,
                len(block),
                entry_bytes,
                len(name),
                0,
                0,
                0,
                0,
                0,
                0,
            )
            + name
        )
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, entries, entries, len(central), len(body), 0)
    path.write_bytes(body + central + end)
    return path


def test_shared_block_bomb_is_refused_from_its_directory(tmp_path: Path) -> None:
    """1000 entries of 15 MB (each under the per-entry ratio check's floor) = 15 GB from ~60 kB."""
    archive = shared_block_bomb(tmp_path / "bomb.zip", 1000, 15 * 1024**2)
    assert archive.stat().st_size < 200_000
    bounded = run_bounded(archive, job=True, memory_bytes=512 * 1024**2)
    record_bounded("zip bombs", "1000 x 15 MB entries sharing one block (15 GB)", bounded)
    assert bounded.outcome.kind == "limit-exceeded", bounded
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(LimitExceeded, match=r"zip bomb|unpacks to more than"):
        unpack_zip(archive, work)
    assert not any(work.iterdir())


def test_many_modest_entries_are_a_bomb_too(gltf_files: dict[str, bytes], tmp_path: Path) -> None:
    """Thirty entries of 1 MB of zeros each pass the per-entry check (floor 2 MB here) but not the
    whole zip's ratio."""
    entries = {**gltf_files, **{f"z{i}.bin": b"\0" * 1024**2 for i in range(30)}}
    archive = make_zip(tmp_path / "modest.zip", entries)
    work = tmp_path / "work"
    work.mkdir()
    limits = ArchiveLimits(ratio_floor_bytes=2 * 1024**2)
    with pytest.raises(LimitExceeded, match="zip bomb"):
        unpack_zip(archive, work, limits)
    assert not any(work.iterdir())
    # The same files without the padding unpack fine.
    fine = make_zip(tmp_path / "fine.zip", gltf_files)
    (tmp_path / "fine").mkdir()
    assert unpack_zip(fine, tmp_path / "fine", limits).name == "m.gltf"


def test_a_zip_in_a_zip_is_not_unpacked(gltf_files: dict[str, bytes], tmp_path: Path) -> None:
    inner = make_zip(tmp_path / "inner.zip", gltf_files)
    outer = make_zip(tmp_path / "outer.zip", {"inner.zip": inner.read_bytes()})
    result = job_outcome(outer)
    assert result.kind == "invalid-model" and "no .gltf or .glb" in result.message, result
