"""Running tools: time limits, exit codes, peak memory, and unreadable models as reported failures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from bench.corpus import Model
from bench.measure import Settings, measure_model
from bench.runners import CONFIGS, GNU_TIME, Config, run_command, run_config
from bench.validate import validator_available

from tests.fixtures.models import textured_box


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_command_past_its_time_limit_is_stopped_and_reported() -> None:
    result = run_command(_python("import time; time.sleep(30)"), timeout=0.5)
    assert not result.ok
    assert result.error == "timed out after 0.5 s"
    assert result.seconds < 10


def test_a_failing_command_reports_its_exit_code_and_last_words() -> None:
    result = run_command(
        _python("import sys; print('reading'); sys.exit('cannot read this model')"), timeout=30
    )
    assert not result.ok and result.returncode == 1
    assert result.error == "exit 1: cannot read this model"


def test_peak_memory_is_measured() -> None:
    result = run_command(_python("b = bytearray(300 * 2**20); b[::4096] = b'x' * len(b[::4096])"), timeout=60)
    assert result.ok
    assert result.peak_mb is not None and 300 <= result.peak_mb < 1000


@pytest.mark.skipif(not GNU_TIME.exists(), reason="GNU time (/usr/bin/time) missing: apt-get install time")
def test_the_benchs_own_size_does_not_count_as_the_tools_peak() -> None:
    ballast = bytearray(400 * 2**20)
    ballast[:: 2**12] = b"x" * len(ballast[:: 2**12])  # touch every page: 400 MB resident here
    result = run_command(["/bin/sh", "-c", "exit 0"], timeout=30)
    assert result.ok
    assert result.peak_mb is not None and result.peak_mb < 50
    del ballast


def test_a_missing_tool_is_a_failure() -> None:
    config = Config("nothing", "nothing", lambda s, d: ["/nonexistent/tool"], Path("/nonexistent/tool"))
    result = run_config(config, Path("in.glb"), Path("out.glb"), timeout=5)
    assert not result.ok and "not installed" in result.error


def test_exit_zero_without_an_output_is_a_failure(tmp_path: Path) -> None:
    config = Config("quiet", "quiet", lambda s, d: _python("print('done')"))
    result = run_config(config, tmp_path / "in.glb", tmp_path / "out.glb", timeout=30)
    assert not result.ok and result.error == "exit 0 but no output written: done"


@pytest.fixture
def garbage(tmp_path: Path) -> Model:
    path = tmp_path / "garbage.glb"
    path.write_bytes(b"<!DOCTYPE html><html>not a model</html>")
    return Model("garbage", path, path.stat().st_size)


def test_glbcompress_runner_compresses_a_model(tmp_path: Path) -> None:
    src = textured_box(tmp_path / "box.glb")
    result = run_config(CONFIGS["glbcompress lossless"], src, tmp_path / "out.glb", timeout=120)
    assert result.ok, result.error
    assert (tmp_path / "out.glb").read_bytes()[:4] == b"glTF"
    assert '"output_bytes"' in result.stdout


@pytest.mark.parametrize("name", ["glbcompress balanced", "gltfpack -cc", "gltf-transform optimize"])
def test_an_unreadable_model_is_a_reported_failure(name: str, garbage: Model, tmp_path: Path) -> None:
    config = CONFIGS[name]
    if config.executable is not None and not config.executable.exists():
        pytest.skip(f"{config.executable.name} not installed: run bench/setup")
    result = run_config(config, garbage.path, tmp_path / "out.glb", timeout=120)
    assert not result.ok
    assert result.error.startswith("exit ")


def test_measure_model_records_failures_without_crashing(garbage: Model, tmp_path: Path) -> None:
    failing = Config("failing", "failing", lambda s, d: _python("import sys; sys.exit('unreadable')"))
    copying = Config(
        "copying", "copying", lambda s, d: _python(f"import shutil; shutil.copy({str(s)!r}, {str(d)!r})")
    )
    settings = Settings(out=tmp_path / "out", repeat=2, check_validity=validator_available() is None)
    entry = measure_model(garbage, [failing, copying], settings, renderer=None)
    bad, good = entry["results"]
    assert not bad["ok"] and bad["error"] == "exit 1: unreadable" and len(bad["seconds_runs"]) == 1
    assert good["ok"] and good["output_bytes"] == garbage.input_bytes and good["ratio"] == 1.0
    assert good["deterministic"] and len(good["seconds_runs"]) == 2
    if settings.check_validity:
        assert "could not detect glTF format" in entry["input_validator"]["fatal"]
        assert good["validator"]["new_errors"] == {}  # as unreadable as its input: nothing new
        assert "error" in good["decoded"]  # gltf-transform cannot read it either


def test_a_target_size_run_takes_its_budget_from_the_reference_run(tmp_path: Path) -> None:
    from bench.measure import budget_hit

    from tests.fixtures.simplify_models import uv_sphere

    src = uv_sphere(tmp_path / "sphere.glb")
    model = Model("sphere", src, src.stat().st_size)
    settings = Settings(out=tmp_path / "out", check_validity=False)
    entry = measure_model(model, [CONFIGS["glbcompress target 50%"]], settings, renderer=None)
    reference, target = entry["results"]
    assert reference["config"] == "glbcompress balanced" and reference["ok"], reference["error"]
    assert target["budget_bytes"] == int(0.5 * reference["output_bytes"])
    assert target["ok"], target["error"]
    assert target["budget_hit"] == budget_hit(target["output_bytes"], target["budget_bytes"])
    assert target["output_bytes"] <= target["budget_bytes"]
    assert entry["triangles"] == 9024 and 0 < target["triangles"] <= entry["triangles"]
    assert (
        budget_hit(95, 100) and budget_hit(100, 100) and not budget_hit(94, 100) and not budget_hit(101, 100)
    )


def test_a_refused_target_size_is_run_again_at_the_floor_it_names(tmp_path: Path) -> None:
    """The engine refuses half of balanced's output for this small box and names the smallest size
    it reaches; the floor check asks for exactly that and must land within 5% under it. Both
    refused budgets name the same floor: it runs once."""
    from bench.measure import MEGABYTE, budget_hit, refusal_floor

    src = textured_box(tmp_path / "box.glb")
    model = Model("box", src, src.stat().st_size)
    settings = Settings(out=tmp_path / "out", check_validity=False)
    targets = [CONFIGS["glbcompress target 50%"], CONFIGS["glbcompress target 25%"]]
    entry = measure_model(model, targets, settings, renderer=None)
    reference, half, quarter = entry["results"]
    assert reference["ok"], reference["error"]
    for row in (half, quarter):
        assert not row["ok"] and row["returncode"] == 2 and row["refused"] and not row["budget_hit"]
        assert row["refusal"].startswith("The model cannot be made") and row["refusal"].endswith(
            "MB or more."
        )
        floor = refusal_floor(row["refusal"])
        assert floor is not None and row["floor_mb"] == float(floor) > row["budget_bytes"] / MEGABYTE
        assert row["floor_error"] == "" and row["floor_hit"], row["floor_error"]
        assert budget_hit(row["floor_bytes"], row["floor_mb"] * MEGABYTE)
    assert half["floor_bytes"] == quarter["floor_bytes"] and half["floor_seconds"] == quarter["floor_seconds"]
    assert (tmp_path / "out" / "box" / "glbcompress-target-50-floor.glb").stat().st_size == half[
        "floor_bytes"
    ]
