"""The summary, engine-goal and table logic on hand-made results."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench.runners import (
    ENGINE,
    GOAL_REFERENCE,
    TEXTURE_CONFIGS,
    TEXTURE_ENGINE,
    TEXTURE_TIME_FLOORS,
    TEXTURE_TIME_REFERENCE,
)

from bench import report


def _row(model: str, config: str, out: int | None, seconds: float = 1.0, ssim: float | None = 0.99, **extra):
    row = {"model": model, "config": config, "tool": config.split()[0], "ok": out is not None, "error": "",
           "input_bytes": 1000, "seconds": seconds, "peak_mb": 50.0}  # fmt: skip
    if out is not None:
        row.update(output_bytes=out, ratio=out / 1000, deterministic=True)
        if ssim is not None:
            row["fidelity"] = {"ssim_min": ssim, "ssim_mean": ssim, "psnr_min": 40.0, "psnr_mean": 40.0}
    else:
        row["error"] = "exit 1: cannot read"
    row.update(extra)
    return row


def _models(table: dict[str, dict[str, int | None]], seconds: dict[str, float] | None = None) -> list[dict]:
    """{model: {config: output bytes or None}} -> the bench's per-model results."""
    seconds = seconds or {}
    return [
        {
            "name": name,
            "input_bytes": 1000,
            "results": [_row(name, c, out, seconds.get(c, 1.0)) for c, out in row.items()],
        }
        for name, row in table.items()
    ]


def test_geomeans_are_over_the_models_every_configuration_processed() -> None:
    models = _models({"a": {"x": 100, "y": 400}, "b": {"x": 400, "y": 100}, "c": {"x": 10, "y": None}})
    summary = {s["config"]: s for s in report.summarize(models)}
    assert report.common_models(models, ["x", "y"]) == ["a", "b"]
    assert summary["x"]["geomean_ratio"] == pytest.approx(0.2)  # sqrt(0.1 * 0.4), "c" left out
    assert summary["y"]["geomean_ratio"] == pytest.approx(0.2)
    assert summary["y"]["failed"] == ["c"] and summary["x"]["failed"] == []
    assert summary["x"]["common"] == 2


def test_a_configuration_that_failed_everywhere_does_not_empty_the_comparison() -> None:
    models = _models({"a": {"x": 100, "broken": None}, "b": {"x": 400, "broken": None}})
    summary = {s["config"]: s for s in report.summarize(models)}
    assert summary["x"]["geomean_ratio"] == pytest.approx(0.2)
    assert summary["broken"]["geomean_ratio"] is None
    assert summary["broken"]["failed"] == ["a", "b"]


def test_refused_target_sizes_do_not_shrink_the_other_configurations_models() -> None:
    """A target-size run refuses a budget the model cannot meet (by design): the other
    configurations are still summarized over every model they share."""
    models = _models({"a": {"x": 100}, "b": {"x": 400}})
    models[0]["results"].append(_row("a", "glbcompress target 50%", 50, budget_bytes=50, budget_hit=True))
    models[1]["results"].append(_row("b", "glbcompress target 50%", None, budget_bytes=200, budget_hit=False))
    summary = {s["config"]: s for s in report.summarize(models)}
    assert summary["x"]["common"] == 2 and summary["x"]["geomean_ratio"] == pytest.approx(0.2)
    assert summary["glbcompress target 50%"]["failed"] == ["b"]


def test_an_output_that_does_not_render_counts_as_ssim_zero() -> None:
    models = _models({"a": {"x": 100}, "b": {"x": 100}, "c": {"x": 100}})
    del models[2]["results"][0]["fidelity"]
    models[2]["results"][0]["render_error"] = "Unexpected token"
    summary = report.summarize(models)[0]
    assert summary["lowest_ssim_min"] == 0.0
    assert summary["median_ssim_min"] == pytest.approx(0.99)
    assert summary["render_failures"] == ["c"]
    # ...but when the original itself did not render, nobody is blamed.
    models[2]["render_error"] = "original failed"
    assert report.summarize(models)[0]["lowest_ssim_min"] == pytest.approx(0.99)


def test_new_validator_errors_are_counted_on_output_or_decoded_copy() -> None:
    models = _models({"a": {"x": 100}, "b": {"x": 100}})
    models[0]["results"][0]["validator"] = {"errors": 0, "warnings": 0, "new_errors": {}}
    models[0]["results"][0]["decoded"] = {"errors": 3, "warnings": 0, "new_errors": {"ACCESSOR_INDEX_OOB": 3}}
    assert report.summarize(models)[0]["new_validator_errors"] == ["a"]


def _goal(ours: list[int | None], ref: list[int], our_s: float = 0.5, ref_s: float = 1.0) -> dict:
    table = {f"m{i}": {ENGINE: o, GOAL_REFERENCE: r} for i, (o, r) in enumerate(zip(ours, ref, strict=True))}
    goal = report.engine_goal(_models(table, {ENGINE: our_s, GOAL_REFERENCE: ref_s}))
    assert goal is not None
    return goal


def test_engine_goal_passes_when_smaller_everywhere_and_faster() -> None:
    goal = _goal([90, 200], [100, 200])
    assert goal["bytes_pass"] and goal["margin_pass"] and goal["time_pass"]
    assert all(line.startswith("PASS") for line in report.goal_lines(goal))


def test_engine_goal_fails_on_one_model_over_five_percent_even_with_a_better_geomean() -> None:
    goal = _goal([50, 106], [100, 100])
    assert goal["bytes_pass"]
    assert not goal["margin_pass"] and goal["above_margin"] == ["m1"]
    assert [line[:4] for line in report.goal_lines(goal)] == ["PASS", "FAIL", "PASS"]


def test_engine_goal_counts_an_engine_failure_as_above_and_fails_on_time() -> None:
    goal = _goal([None, 100], [100, 100], our_s=2.0, ref_s=1.0)
    assert goal["above_margin"] == ["m0"]
    assert goal["models"] == 1
    assert not goal["time_pass"]


def test_engine_goal_needs_both_configurations() -> None:
    assert report.engine_goal(_models({"a": {"x": 1}})) is None


def test_markdown_has_every_model_and_the_goal_lines() -> None:
    models = _models({"a": {ENGINE: 90, GOAL_REFERENCE: 100}, "b": {ENGINE: None, GOAL_REFERENCE: 100}})
    result = {
        "meta": {"corpus": "/corpus", "repeat": 3},
        "models": models,
        "summary": report.summarize(models),
        "engine_goal": report.engine_goal(models),
    }
    text = report.markdown(result)
    assert f"| a | {ENGINE} | 90 | 0.090 |" in text
    assert f"| b | {ENGINE} | failed |" in text
    assert "FAIL no model more than 5% above gltfpack -cc (above or failed: b)" in text
    assert f"- {ENGINE}: failed on b" in text


def test_chart_is_written(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib is in the bench extra: pip install -e '.[bench]'")
    models = _models({"a": {"x": 100, "y": 200}, "b": {"x": 300, "y": 50}})
    path = tmp_path / "chart.png"
    report.chart({"models": models, "summary": report.summarize(models)}, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_simplify_goal_compares_fidelity_per_ratio_and_checks_budgets() -> None:
    table = {
        "a": {"glbcompress simplify 0.5": 300, "gltfpack -si 0.5": 320, "gltf-transform simplify 0.5": 900},
        "b": {"glbcompress simplify 0.5": 200, "gltfpack -si 0.5": 180, "gltf-transform simplify 0.5": 700},
    }
    models = _models(table)
    ssims = {"glbcompress": 0.98, "gltfpack": 0.97, "gltf-transform": 0.99}
    for m in models:
        m["triangles"] = 1000
        for r in m["results"]:
            r["triangles"] = 500 if m["name"] == "a" else 400
            r["fidelity"]["ssim_min"] = ssims[r["tool"]] - (0.02 if m["name"] == "b" else 0.0)
    # ratio 0.25: only glbcompress and gltfpack ran; glbcompress loses on fidelity.
    for m, (ours, theirs) in zip(models, [(0.90, 0.95), (0.92, 0.93)], strict=True):
        m["results"].append(_row(m["name"], "glbcompress simplify 0.25", 150, ssim=ours, triangles=250))
        m["results"].append(_row(m["name"], "gltfpack -si 0.25", 160, ssim=theirs, triangles=250))
    models[0]["results"] += [
        _row("a", "glbcompress target 50%", 480, budget_bytes=500, budget_hit=True),
        _row("a", "glbcompress target 25%", None, budget_bytes=250, budget_hit=False),
    ]
    models[1]["results"].append(_row("b", "glbcompress target 50%", 510, budget_bytes=500, budget_hit=False))
    summary = {(s["ratio"], s["config"]): s for s in report.simplify_summary(models)}
    ours = summary[("0.5", "glbcompress simplify 0.5")]
    assert ours["models"] == 2 and ours["median_triangles_kept"] == pytest.approx(0.45)
    assert ours["mean_ssim_min"] == pytest.approx(0.97) and ours["lowest_ssim_min"] == pytest.approx(0.96)
    assert ours["geomean_ratio"] == pytest.approx((0.3 * 0.2) ** 0.5)
    goal = report.simplify_goal(models)
    assert goal is not None
    half = goal["ratios"]["0.5"]
    assert not half["pass"]  # gltf-transform's 0.98 beats our 0.97 (gltfpack's 0.96 does not)
    assert [(c["reference"], c["models"]) for c in half["comparisons"]] == [
        ("gltfpack -si 0.5", 2),
        ("gltf-transform simplify 0.5", 2),
    ]
    assert half["comparisons"][1]["ours"] == pytest.approx(0.97)
    assert half["comparisons"][1]["theirs"] == pytest.approx(0.98)
    assert not goal["ratios"]["0.25"]["pass"] and "0.1" not in goal["ratios"]
    assert (goal["target_runs"], goal["budget_runs"], goal["budget_hits"], goal["refused"]) == (3, 3, 1, 0)
    assert goal["budget_misses"] == ["a (glbcompress target 25%)", "b (glbcompress target 50%)"]
    lines = report.simplify_goal_lines(goal)
    assert lines[0].startswith("FAIL ratio 0.5") and lines[-1].startswith("FAIL target size")

    # A reference that kept (nearly) every triangle of a model did not simplify it: that model is
    # left out of the comparison with it (here b, where both scored lower: now 0.98 vs 0.99) ...
    def keep_all(model: str) -> None:
        for m in models:
            for r in m["results"]:
                if r["config"] == "gltf-transform simplify 0.5" and m["name"] == model:
                    r["triangles"] = 1000

    keep_all("b")
    goal = report.simplify_goal(models)
    assert goal is not None and not goal["ratios"]["0.5"]["pass"]
    compared = goal["ratios"]["0.5"]["comparisons"][1]
    assert compared["models"] == 1 and compared["ours"] == pytest.approx(0.98)
    assert compared["not_compared"] == ["b (gltf-transform simplify 0.5)"]
    assert "not compared, kept too many triangles: b (gltf-transform" in report.simplify_goal_lines(goal)[0]
    # ... and one that simplified none is not compared at all.
    keep_all("a")
    goal = report.simplify_goal(models)
    assert goal is not None and goal["ratios"]["0.5"]["pass"]
    assert [c["reference"] for c in goal["ratios"]["0.5"]["comparisons"]] == ["gltfpack -si 0.5"]
    text = "\n".join(report.target_table(models))
    assert "| a | glbcompress target 50% | 500 | 480 | 0.960 | hit | – | – | – |" in text
    assert "| b | glbcompress target 50% | 500 | 510 | 1.020 | miss |" in text
    assert "| glbcompress target 25% | 250 | exit 1: cannot read | – | failed |" in text
    assert "## Simplification (issue 5)" in report.markdown(
        {"meta": {"corpus": "c", "repeat": 1}, "models": models, "summary": report.summarize(models)}
    )


def test_no_simplify_goal_without_its_configurations() -> None:
    assert report.simplify_goal(_models({"a": {"x": 100}})) is None


# ---------------------------------------------------------------- target sizes: met, or refused and verified

REFUSAL = (
    "exit 2: glbcompress: error: m.glb: The model cannot be made 0.0001 MB or smaller without destroying "
    "it: its smallest faithful version (geometric error 5% of its size) is 0.000249 MB. Ask for 0.00025 MB or more."
)


def _target(model: str, out: int | None, budget: int = 1000, **extra) -> dict:
    """A target-size row as measure_model writes it (budget_hit by the bench's own rule)."""
    from bench.measure import budget_hit

    hit = out is not None and budget_hit(out, budget)
    return _row(
        model,
        "glbcompress target 50%",
        out,
        budget_bytes=budget,
        budget_hit=hit,
        **{"refused": False, **extra},
    )


def _refused(model: str, floor_mb: float | None, floor_bytes: int | None, floor_error: str = "") -> dict:
    from bench.measure import MEGABYTE, budget_hit

    hit = floor_mb is not None and floor_bytes is not None and budget_hit(floor_bytes, floor_mb * MEGABYTE)
    row = _target(model, None, budget=100, refused=True, refusal=REFUSAL)
    row.update(
        error=REFUSAL, floor_mb=floor_mb, floor_bytes=floor_bytes, floor_hit=hit, floor_error=floor_error
    )
    return row


def _targets(*rows: dict) -> dict:
    goal = report.simplify_goal([{"name": r["model"], "input_bytes": 1000, "results": [r]} for r in rows])
    assert goal is not None
    return goal


def test_target_sizes_pass_when_every_budget_is_hit_and_every_refusal_is_verified() -> None:
    goal = _targets(_target("hit", 980), _refused("small", 0.00025, 245))
    assert goal["targets_pass"]
    assert report.simplify_goal_lines(goal) == [
        "PASS target sizes: 1/1 budgets hit within 5%; 1 refused, 1/1 floors verified"
    ]


def test_a_missed_budget_fails_even_with_every_refusal_verified() -> None:
    goal = _targets(
        _target("hit", 980), _target("over", 1010), _target("under", 900), _refused("small", 0.00025, 250)
    )
    assert not goal["targets_pass"] and goal["budget_misses"] == ["over (glbcompress target 50%)",
                                                                 "under (glbcompress target 50%)"]  # fmt: skip
    assert report.simplify_goal_lines(goal) == [
        "FAIL target sizes: 1/3 budgets hit within 5% (miss: over (glbcompress target 50%), "
        "under (glbcompress target 50%)); 1 refused, 1/1 floors verified"
    ]


def test_a_failure_that_is_not_a_refusal_is_a_miss() -> None:
    crashed = _target("crashed", None)  # exit 1: the engine did not refuse, it failed
    goal = _targets(crashed)
    assert not goal["targets_pass"] and (goal["budget_runs"], goal["budget_hits"], goal["refused"]) == (
        1,
        0,
        0,
    )


def test_a_refusal_whose_floor_run_misses_or_fails_is_not_verified() -> None:
    too_big = _refused("big", 0.00025, 251, "251 bytes, not within 5% under 250")
    too_small = _refused("tiny", 0.00025, 200, "200 bytes, not within 5% under 250")
    refused_again = _refused("again", 0.00025, None, "exit 2: ... Ask for 0.00031 MB or more.")
    goal = _targets(_target("hit", 1000), too_big, too_small, refused_again)
    assert not goal["targets_pass"]
    assert (goal["budget_hits"], goal["refused"], goal["floors_verified"]) == (1, 3, 0)
    assert report.simplify_goal_lines(goal)[0] == (
        "FAIL target sizes: 1/1 budgets hit within 5%; 3 refused, 0/3 floors verified (not verified: "
        "again (glbcompress target 50%), big (glbcompress target 50%), tiny (glbcompress target 50%))"
    )
    text = "\n".join(report.target_table([{"name": "big", "input_bytes": 1000, "results": [too_big]}]))
    assert "| refused | 0.00025 | 251 | not verified: 251 bytes, not within 5% under 250 |" in text


def test_a_refusal_naming_no_floor_is_not_verified() -> None:
    from bench.measure import refusal_floor

    vague = _refused("vague", None, None, "the refusal names no size (no 'Ask for X MB or more.')")
    vague["refusal"] = vague["error"] = "exit 2: glbcompress: error: m.glb: The model cannot be made smaller."
    assert refusal_floor(vague["refusal"]) is None
    goal = _targets(vague)
    assert not goal["targets_pass"] and goal["not_verified"] == ["vague (glbcompress target 50%)"]
    # A floor_hit left over without a floor does not verify it either.
    vague["floor_hit"] = True
    assert not _targets(vague)["targets_pass"]
    text = "\n".join(report.target_table([{"name": "vague", "input_bytes": 1000, "results": [vague]}]))
    assert "| refused | – | – | not verified: the refusal names no size" in text


def test_the_floor_is_read_from_the_refusal_as_written() -> None:
    from bench.measure import refusal_floor

    assert refusal_floor(REFUSAL) == "0.00025"
    assert refusal_floor("... is 1.23e+03 MB. Ask for 1.24e+03 MB or more.") == "1.24e+03"
    assert refusal_floor("... Ask for 12 MB or more.") == "12"
    assert refusal_floor("... Ask for 0 MB or more.") is None
    assert refusal_floor(REFUSAL[:-25]) is None  # cut before the size


# ---------------------------------------------------------------- texture goal (issue 4)

_REFS = [c for c in TEXTURE_CONFIGS if c != TEXTURE_ENGINE]


def _texture_models(
    ours: list[float | None],
    refs: list[float],
    ssims: list[float | None],
    ours_s: float = 1.0,
    tw_s: float = 0.6,
) -> list[dict]:
    """One model per entry: balanced's output/input, the four references' (the same on every
    model, in TEXTURE_CONFIGS' order), balanced's worst-view SSIM; seconds per model."""
    models = []
    for i, (ratio, ssim) in enumerate(zip(ours, ssims, strict=True)):
        name = f"m{i}"
        results = [_row(name, TEXTURE_ENGINE, None if ratio is None else round(ratio * 1000), ours_s, ssim)]
        for config, ref in zip(_REFS, refs, strict=True):
            seconds = tw_s if config == TEXTURE_TIME_REFERENCE else 5.0
            results.append(_row(name, config, round(ref * 1000), seconds, 0.999))
        models.append({"name": name, "input_bytes": 1000, "results": results})
    return models


def _texture_goal(models: list[dict]) -> dict:
    goal = report.texture_goal(models)
    assert goal is not None
    return goal


def test_texture_goal_passes_when_smaller_faithful_and_fast_enough() -> None:
    goal = _texture_goal(_texture_models([0.08, 0.09], [0.1, 0.2, 0.3, 0.4], [0.99, 0.985]))
    assert goal["smallest_reference"] == "gltfpack -cc -tw" and goal["models"] == 2
    assert goal["geomean_ratio"] == pytest.approx((0.08 * 0.09) ** 0.5)
    assert goal["lowest_ssim_model"] == "m1"
    assert report.texture_goal_lines(goal) == [
        "PASS geomean output/input 0.0849 <= 0.9 x smallest reference (gltfpack -cc -tw) 0.1000 = 0.0900 (2 models)",
        "PASS every model's worst-view SSIM >= 0.98: lowest 0.9850 (m1)",
        "PASS total wall time 2.00 s <= 2 x gltfpack -cc -tw 1.20 s = 2.40 s",
        "INFO total wall time of every configuration over the same models: glbcompress balanced 2.00 s, "
        + ", ".join(f"{c} {1.2 if c == TEXTURE_TIME_REFERENCE else 10.0:.2f} s" for c in _REFS),
    ]


def test_texture_goal_size_is_held_against_the_smallest_reference_of_the_run() -> None:
    # 0.095 beats the -tw reference's 0.1 but not by 10%; the smallest here is gltf-transform's.
    goal = _texture_goal(_texture_models([0.095, 0.095], [0.2, 0.3, 0.1, 0.4], [0.99, 0.99]))
    assert not goal["size_pass"] and goal["smallest_reference"] == "gltf-transform optimize"
    lines = report.texture_goal_lines(goal)
    assert lines[0] == (
        "FAIL geomean output/input 0.0950 <= 0.9 x smallest reference (gltf-transform optimize) 0.1000 = 0.0900 "
        "(2 models)"
    )
    assert [line[:4] for line in lines] == ["FAIL", "PASS", "PASS", "INFO"]


def test_texture_goal_fails_on_one_model_below_the_ssim_floor_and_on_time() -> None:
    goal = _texture_goal(_texture_models([0.05, 0.05, 0.05], [0.1] * 4, [0.99, 0.979, 0.999], ours_s=1.3))
    assert goal["fidelity_pass"] is False and goal["lowest_ssim_model"] == "m1"
    assert not goal["time_pass"]
    lines = report.texture_goal_lines(goal)
    assert lines[1] == "FAIL every model's worst-view SSIM >= 0.98: lowest 0.9790 (m1)"
    assert lines[2] == "FAIL total wall time 3.90 s <= 2 x gltfpack -cc -tw 1.80 s = 3.60 s"


def test_texture_goal_counts_an_output_that_does_not_render_as_ssim_zero() -> None:
    models = _texture_models([0.05, 0.05], [0.1] * 4, [0.99, 0.99])
    ours = models[1]["results"][0]
    del ours["fidelity"]
    ours["render_error"] = "Unexpected token"
    goal = _texture_goal(models)
    assert goal["fidelity_pass"] is False and (goal["lowest_ssim_min"], goal["lowest_ssim_model"]) == (
        0.0,
        "m1",
    )


def test_texture_goal_fidelity_not_rendered_is_not_measured_rather_than_pass() -> None:
    models = _texture_models([0.05, 0.05], [0.1] * 4, [None, None])
    for m in models:
        for r in m["results"]:
            r.pop("fidelity", None)  # --no-render: no row has fidelity
    goal = _texture_goal(models)
    assert goal["fidelity_pass"] is None
    assert report.texture_goal_lines(goal)[1] == (
        "NOT MEASURED every model's worst-view SSIM >= 0.98 (rendering skipped)"
    )
    for m in models:
        m["render_error"] = "original failed"  # rendering ran, but no original rendered
    assert report.texture_goal_lines(_texture_goal(models))[1] == (
        "NOT MEASURED every model's worst-view SSIM >= 0.98 (not rendered: m0, m1)"
    )
    # One model rendered and passed, the other's original did not render: still not measured.
    models = _texture_models([0.05, 0.05], [0.1] * 4, [0.99, None])
    models[1]["render_error"] = "original failed"
    goal = _texture_goal(models)
    assert goal["fidelity_pass"] is None
    assert report.texture_goal_lines(goal)[1] == (
        "NOT MEASURED every model's worst-view SSIM >= 0.98 (not rendered: m1; lowest 0.9900 (m0))"
    )


def test_texture_goal_is_over_the_models_every_configuration_processed() -> None:
    models = _texture_models([0.05, None, 0.05], [0.1] * 4, [0.99, 0.5, 0.99])
    models[2]["results"][2] = _row("m2", _REFS[1], None)  # a reference failed on m2
    goal = _texture_goal(models)
    assert goal["models"] == 1 and goal["total_seconds"] == pytest.approx(1.0)
    assert [line[:4] for line in report.texture_goal_lines(goal)] == ["PASS", "PASS", "PASS", "INFO"]
    assert goal["config_total_seconds"][TEXTURE_ENGINE] == pytest.approx(1.0)
    nothing = _texture_goal(_texture_models([None], [0.1] * 4, [None]))
    assert nothing["models"] == 0 and report.texture_goal_lines(nothing)[0].startswith("FAIL no model")


def test_texture_goal_reports_the_time_lines_floors_where_they_ran_on_every_model() -> None:
    # Without the search and with textures untouched, over the models the goal counts; a floor
    # that failed on one of them is left out rather than summed over fewer models.
    models = _texture_models([0.08, 0.09], [0.1, 0.2, 0.3, 0.4], [0.99, 0.985])
    fixed, untouched = TEXTURE_TIME_FLOORS
    for model, (s_fixed, s_untouched) in zip(models, [(0.5, 0.2), (0.7, 0.3)], strict=True):
        model["results"] += [
            _row(model["name"], fixed, 100, s_fixed),
            _row(model["name"], untouched, 900, s_untouched),
        ]
    goal = _texture_goal(models)
    assert goal["floor_seconds"] == {fixed: pytest.approx(1.2), untouched: pytest.approx(0.5)}
    assert report.texture_goal_lines(goal)[-1] == (
        f"INFO the time line's floors, against {TEXTURE_TIME_REFERENCE}: "
        f"{fixed} 1.20 s (1.0 x), {untouched} 0.50 s (0.4 x)"
    )
    models[1]["results"][-2] = _row("m1", fixed, None)
    goal = _texture_goal(models)
    assert list(goal["floor_seconds"]) == [untouched]
    plain = _texture_goal(_texture_models([0.08], [0.1] * 4, [0.99]))
    assert plain["floor_seconds"] == {} and report.texture_goal_lines(plain)[-1].startswith("INFO total")


def test_texture_goal_needs_every_configuration() -> None:
    models = _texture_models([0.05], [0.1] * 4, [0.99])
    models[0]["results"].pop()
    assert report.texture_goal(models) is None


def test_markdown_has_the_texture_goal() -> None:
    models = _texture_models([0.08, 0.09], [0.1, 0.2, 0.3, 0.4], [0.99, 0.985])
    result = {
        "meta": {"corpus": "/corpus", "repeat": 1},
        "models": models,
        "summary": report.summarize(models),
        "texture_goal": report.texture_goal(models),
    }
    text = report.markdown(result)
    assert "## Texture goal (issue 4)" in text
    assert "| m1 | 1,000 | 0.0900 | 0.1000 | 0.2000 | 0.3000 | 0.4000 | 0.9850 | 1.00 | 0.60 |" in text
    assert "PASS every model's worst-view SSIM >= 0.98: lowest 0.9850 (m1)" in text
