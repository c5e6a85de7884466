"""Unpacking a job's input (``jobs/archive.py``): zips of a model with its files, refused when they
try to leave their folder, hide links or special files, are encrypted, bombs, too many entries, or
hold no model or several; a lone .gltf can reach no other file in storage. Real zips, real files,
the real engine."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

import glbcompress
from glbcompress.engine.errors import InvalidModel, LimitExceeded, UnsupportedModel
from glbcompress.service.jobs.archive import ArchiveLimits, prepare_input, safe_name, unpack_zip
from glbcompress.service.jobs.runner import compress_model
from tests.fixtures.models import generate_all


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_all(tmp_path_factory.mktemp("models"))


def make_zip(path: Path, entries: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def gltf_with_bin(models: dict[str, Path]) -> dict[str, bytes]:
    folder = models["interleaved.gltf"].parent
    return {
        "interleaved.gltf": models["interleaved.gltf"].read_bytes(),
        "box data #1.bin": (folder / "box data #1.bin").read_bytes(),
    }


def test_a_model_in_a_folder_is_found_and_compressed(models: dict[str, Path], tmp_path: Path) -> None:
    files = gltf_with_bin(models)
    entries = {f"chair/{name}": data for name, data in files.items()}
    entries |= {"__MACOSX/chair/._interleaved.gltf": b"junk", "chair/.DS_Store": b"junk", "chair/": b""}
    archive = make_zip(tmp_path / "chair.zip", entries, zipfile.ZIP_DEFLATED)
    work = tmp_path / "work"
    work.mkdir()
    model = prepare_input(archive, work)
    assert model == work / "input" / "chair" / "interleaved.gltf"
    assert sorted(p.name for p in (work / "input").rglob("*") if p.is_file()) == sorted(files)
    assert not (work / "input" / "__MACOSX").exists()

    job_work = tmp_path / "job"
    job_work.mkdir()
    progress: list[str] = []
    report = compress_model(archive, job_work / "output.glb", {}, lambda step, _f: progress.append(step))
    assert progress[0] == "unpack" and progress[-1] == "done"
    direct = glbcompress.compress(models["interleaved.gltf"], tmp_path / "direct.glb")
    assert report["output_bytes"] == direct.output_bytes
    assert (job_work / "output.glb").read_bytes() == (tmp_path / "direct.glb").read_bytes()


def test_a_glb_in_a_zip(models: dict[str, Path], tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "a.zip", {"x/rig.GLB": models["skinned_rig.glb"].read_bytes()})
    work = tmp_path / "work"
    work.mkdir()
    assert prepare_input(archive, work).name == "rig.GLB"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("../evil.bin", "leaves its folder"),
        ("a/../../evil.bin", "leaves its folder"),
        ("/etc/evil.bin", "absolute path"),
        ("C:/evil.bin", "absolute path"),
        ("..\\evil.bin", "leaves its folder"),
    ],
)
def test_paths_that_leave_the_folder_are_refused(
    models: dict[str, Path], tmp_path: Path, name: str, message: str
) -> None:
    entries = {**gltf_with_bin(models), name: b"x"}
    archive = make_zip(tmp_path / "bad.zip", entries)
    folder = tmp_path / "out" / "input"
    folder.mkdir(parents=True)
    with pytest.raises(UnsupportedModel, match=message):
        unpack_zip(archive, folder)
    assert not (tmp_path / "evil.bin").exists() and not (tmp_path / "out" / "evil.bin").exists()


def _entry_with_mode(path: Path, name: str, data: bytes, mode: int) -> Path:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    with zipfile.ZipFile(path, "a") as z:
        z.writestr(info, data)
    return path


def test_links_and_special_files_are_refused(models: dict[str, Path], tmp_path: Path) -> None:
    base = gltf_with_bin(models)
    link = _entry_with_mode(
        make_zip(tmp_path / "link.zip", base), "tex.png", b"/etc/passwd", stat.S_IFLNK | 0o777
    )
    with pytest.raises(UnsupportedModel, match="contains a link"):
        unpack_zip(link, tmp_path)
    fifo = _entry_with_mode(make_zip(tmp_path / "fifo.zip", base), "pipe", b"", stat.S_IFIFO | 0o644)
    with pytest.raises(UnsupportedModel, match="special file"):
        unpack_zip(fifo, tmp_path)
    # A plain file with Unix permissions is fine.
    plain = _entry_with_mode(make_zip(tmp_path / "plain.zip", base), "notes.txt", b"hi", stat.S_IFREG | 0o644)
    folder = tmp_path / "plain"
    folder.mkdir()
    assert unpack_zip(plain, folder).name == "interleaved.gltf"


def test_encrypted_entries_are_refused(models: dict[str, Path], tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "enc.zip", gltf_with_bin(models))
    data = bytearray(archive.read_bytes())
    # Set the "encrypted" flag in every local and central header (zipfile cannot write encrypted zips).
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (found := data.find(signature, start)) >= 0:
            data[found + offset] |= 0x1
            start = found + 4
    archive.write_bytes(bytes(data))
    with pytest.raises(UnsupportedModel, match="password-protected"):
        unpack_zip(archive, tmp_path)


def test_bombs_and_floods_are_refused(models: dict[str, Path], tmp_path: Path) -> None:
    bomb = make_zip(
        tmp_path / "bomb.zip",
        {**gltf_with_bin(models), "zeros.bin": b"\0" * (64 * 1024**2)},
        zipfile.ZIP_DEFLATED,
    )
    assert bomb.stat().st_size < 1024**2
    with pytest.raises(LimitExceeded, match="zip bomb"):
        unpack_zip(bomb, tmp_path)
    small = ArchiveLimits(max_unpacked_bytes=1000)
    folder = tmp_path / "small"
    folder.mkdir()
    with pytest.raises(LimitExceeded, match="unpacks to more than"):
        unpack_zip(
            make_zip(tmp_path / "big.zip", {**gltf_with_bin(models), "big.bin": b"x" * 5000}), folder, small
        )
    flood = make_zip(tmp_path / "flood.zip", {f"f{i}.bin": b"" for i in range(30)})
    with pytest.raises(LimitExceeded, match="30 entries"):
        unpack_zip(flood, tmp_path, ArchiveLimits(max_entries=20))


def test_no_model_several_models_duplicates_and_garbage(models: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(InvalidModel, match=r"holds no \.gltf or \.glb model"):
        unpack_zip(make_zip(tmp_path / "none.zip", {"readme.txt": b"hi"}), tmp_path)
    two = {"a.glb": models["skinned_rig.glb"].read_bytes(), "b/c.gltf": b"{}"}
    with pytest.raises(
        UnsupportedModel, match=r"holds 2 models \(a.glb, b/c.gltf\); put one model in each zip"
    ):
        unpack_zip(make_zip(tmp_path / "two.zip", two), tmp_path)
    with pytest.raises(InvalidModel, match="twice"):
        unpack_zip(make_zip(tmp_path / "dup.zip", {"a.glb": b"1", "A.GLB": b"2"}), tmp_path)
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"PK\x03\x04 but nothing else")
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(InvalidModel, match="cannot be read"):
        prepare_input(garbage, work)


def test_safe_names() -> None:
    assert str(safe_name("a/./b//c.png")) == "a/b/c.png"
    assert safe_name("dir/") is None
    assert safe_name("__MACOSX/x") is None
    with pytest.raises(UnsupportedModel):
        safe_name("a/\x00b")


def test_a_lone_gltf_reaches_no_other_stored_file(models: dict[str, Path], tmp_path: Path) -> None:
    """A .gltf is read from a folder of its own: a URI naming a file beside it in storage (another
    upload of the same job, say) finds nothing."""
    stored = tmp_path / "blobs" / "jobs" / "j1"
    stored.mkdir(parents=True)
    (stored / "input.gltf").write_bytes(models["interleaved.gltf"].read_bytes())
    (stored / "box data #1.bin").write_bytes(
        (models["interleaved.gltf"].parent / "box data #1.bin").read_bytes()
    )
    work = tmp_path / "work"
    work.mkdir()
    with pytest.raises(InvalidModel, match="is missing"):
        compress_model(stored / "input.gltf", work / "output.glb", {}, lambda *_: None)
