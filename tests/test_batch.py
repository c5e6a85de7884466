"""Planning a batch: which files are found, where each output goes, and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from glbcompress import batch
from tests.fixtures.cli_models import model_tree


def names(tasks: list[batch.Task], root: Path) -> list[tuple[str, str | None]]:
    return [(str(t.src.relative_to(root)), str(t.dst.relative_to(root)) if t.dst else None) for t in tasks]


def test_default_outputs_sit_next_to_their_inputs(tmp_path: Path) -> None:
    model_tree(tmp_path)
    tasks = batch.plan([tmp_path])
    assert all(not t.refused for t in tasks) and len(tasks) == 7
    assert ("nested/deeper/morph_cube.glb", "nested/deeper/morph_cube.min.glb") in names(tasks, tmp_path)
    assert ("nested/deeper/interleaved.gltf", "nested/deeper/interleaved.min.glb") in names(tasks, tmp_path)


def test_output_folder_mirrors_the_input_folder(tmp_path: Path) -> None:
    model_tree(tmp_path / "in")
    tasks = batch.plan([tmp_path / "in"], tmp_path / "out")
    assert ("in/nested/deeper/morph_cube.glb", "out/nested/deeper/morph_cube.glb") in names(tasks, tmp_path)


def test_output_file_only_for_one_input_file(tmp_path: Path) -> None:
    tree = model_tree(tmp_path)
    one = tree["interleaved.gltf"]
    gltf = "nested/deeper/interleaved.gltf"
    assert names(batch.plan([one], tmp_path / "x.glb"), tmp_path) == [(gltf, "x.glb")]
    assert names(batch.plan([one], tmp_path / "dir"), tmp_path) == [(gltf, "dir/interleaved.glb")]
    with pytest.raises(batch.UsageError):
        batch.plan([one, tree["textured_box.glb"]], tmp_path / "x.glb")
    with pytest.raises(batch.UsageError):
        batch.plan([tmp_path], tmp_path / "x.glb")
    with pytest.raises(batch.UsageError):
        batch.plan([one], tmp_path / "x.gltf")


def test_output_folder_inside_the_input_folder_is_not_read_again(tmp_path: Path) -> None:
    model_tree(tmp_path)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "textured_box.glb").write_bytes(b"an output of an earlier run")
    tasks = batch.plan([tmp_path], tmp_path / "out")
    assert not any("out" in t.src.relative_to(tmp_path).parts for t in tasks)


def test_a_file_named_twice_is_compressed_once(tmp_path: Path) -> None:
    tree = model_tree(tmp_path)
    tasks = batch.plan([tree["textured_box.glb"], tmp_path, tree["textured_box.glb"]])
    assert [t.src.name for t in tasks].count("textured_box.glb") == 1
    assert tasks[0].src == tree["textured_box.glb"]


def test_missing_inputs_and_empty_folders_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    tasks = batch.plan([tmp_path / "missing.glb", tmp_path / "empty"])
    assert [(t.kind, t.dst) for t in tasks] == [("missing-input", None), ("missing-input", None)]
    outcomes = batch.run(tasks, batch.api.resolve())
    assert batch.exit_code(outcomes) == batch.EXIT_BAD_INPUT


def test_exit_code_worst_wins() -> None:
    def outcome(code: int) -> batch.Outcome:
        return batch.Outcome(Path("x"), None, code=code)

    assert batch.exit_code([outcome(0), outcome(0)]) == 0
    assert batch.exit_code([outcome(0), outcome(2)]) == 2
    assert batch.exit_code([outcome(2), outcome(1), outcome(0)]) == 1
