"""Finding models in a corpus folder and counting their input bytes."""

from __future__ import annotations

from pathlib import Path

from bench.corpus import QUICK, discover, input_bytes, select

from tests.fixtures.models import interleaved_gltf, textured_box


def test_a_gltf_counts_the_files_it_references(tmp_path: Path) -> None:
    gltf = interleaved_gltf(tmp_path / "scene.gltf")
    (tmp_path / "unrelated.bin").write_bytes(b"x" * 1000)
    referenced = tmp_path / "box data #1.bin"  # named percent-encoded in the .gltf
    assert referenced.exists()
    assert input_bytes(gltf) == gltf.stat().st_size + referenced.stat().st_size


def test_discover_names_models_by_file_or_folder(tmp_path: Path) -> None:
    textured_box(tmp_path / "Top.glb")
    (tmp_path / "Boxy").mkdir()
    textured_box(tmp_path / "Boxy" / "whatever.glb")
    (tmp_path / "Pair").mkdir()
    textured_box(tmp_path / "Pair" / "a.glb")
    interleaved_gltf(tmp_path / "Pair" / "b.gltf")
    (tmp_path / "notes.txt").write_text("not a model")
    models = discover(tmp_path)
    assert [m.name for m in models] == ["Boxy", "Pair/a", "Pair/b", "Top"]
    assert all(m.input_bytes == input_bytes(m.path) for m in models)


def test_select_by_name_or_quick(tmp_path: Path) -> None:
    for name in ["Fox", "Zebra", "Horse"]:
        textured_box(tmp_path / f"{name}.glb")
    models = discover(tmp_path)
    assert [m.name for m in select(models, ["zebra"])] == ["Zebra"]
    assert [m.name for m in select(models, quick=True)] == ["Fox", "Horse"]
    assert {"Fox", "Horse"} <= set(QUICK)
    assert len(select(models)) == 3
