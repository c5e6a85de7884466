"""Summaries, the goal checks (engine, textures, simplification), the markdown tables and the chart.

Geometric means compare configurations on the same models: only those every selected
configuration could process (the "common" models). A configuration that processed no model at
all is left out of that rule (it would empty the set) and shows as failed everywhere. A model whose output does not render (while
its original does) counts as worst-view SSIM 0 in the fidelity figures: a broken model is the
worst fidelity there is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .metrics import geomean, median
from .runners import (
    BUDGET_REFERENCE,
    ENGINE,
    GOAL_CONFIGS,
    GOAL_REFERENCE,
    SIMPLIFY_RATIOS,
    TEXTURE_CONFIGS,
    TEXTURE_ENGINE,
    TEXTURE_REFERENCES,
    TEXTURE_TIME_FLOORS,
    TEXTURE_TIME_REFERENCE,
)

GOAL_MARGIN = 1.05  # no model may be more than 5% above the reference
TEXTURE_SIZE_SHARE = 0.9
"""Texture goal: balanced's geomean output/input at most this times the smallest reference's."""
TEXTURE_SSIM_FLOOR = 0.98
"""Texture goal: every model's worst-view SSIM at least this."""
TEXTURE_TIME_FACTOR = 2.0
"""Texture goal: balanced's total wall time at most this times native gltfpack -tw's."""


def rows_by_config(models: list[dict]) -> dict[str, dict[str, dict]]:
    """config -> model name -> result row, in the order the configurations ran."""
    table: dict[str, dict[str, dict]] = {}
    for model in models:
        for row in model["results"]:
            table.setdefault(row["config"], {})[model["name"]] = row
    return table


def common_models(models: list[dict], configs: list[str]) -> list[str]:
    """Models every one of configs processed (configs that processed none are not counted)."""
    table = rows_by_config(models)
    working = [c for c in configs if any(r["ok"] for r in table.get(c, {}).values())]
    return [m["name"] for m in models if all(table[c].get(m["name"], {}).get("ok") for c in working)]


def worst_ssim(row: dict, model: dict) -> float | None:
    """Worst-view SSIM of a result: None when not rendered, 0.0 when only the output failed to render."""
    if row.get("fidelity"):
        return row["fidelity"]["ssim_min"]
    if row.get("render_error") and not model.get("render_error"):
        return 0.0
    return None


def _invalid(row: dict) -> bool:
    return any((row.get(k) or {}).get("new_errors") for k in ("validator", "decoded"))


def summarize(models: list[dict]) -> list[dict[str, Any]]:
    """One line per configuration: failures, geomean ratio and medians over the common models
    (those every configuration processed, target-size runs aside: a budget that a model cannot
    meet is refused by design, and must not shrink every other configuration's set of models)."""
    table = rows_by_config(models)
    measured = [c for c, rows in table.items() if not any("budget_bytes" in r for r in rows.values())]
    common = set(common_models(models, measured))
    by_name = {m["name"]: m for m in models}
    out = []
    for config, rows in table.items():
        shared = [r for name, r in rows.items() if name in common and r["ok"]]
        ssims = [s for r in shared if (s := worst_ssim(r, by_name[r["model"]])) is not None]
        ok = [r for r in rows.values() if r["ok"]]
        out.append(
            {
                "config": config,
                "tool": next(iter(rows.values()))["tool"],
                "models": len(rows),
                "failed": sorted(name for name, r in rows.items() if not r["ok"]),
                "common": len(shared),
                "geomean_ratio": geomean(r["ratio"] for r in shared),
                "median_ssim_min": median(ssims),
                "lowest_ssim_min": min(ssims) if ssims else None,
                "median_seconds": median(r["seconds"] for r in shared),
                "max_peak_mb": max((r["peak_mb"] for r in ok if r["peak_mb"] is not None), default=None),
                "new_validator_errors": sorted(r["model"] for r in ok if _invalid(r)),
                "render_failures": sorted(r["model"] for r in ok if r.get("render_error")),
                "nondeterministic": sorted(r["model"] for r in ok if r.get("deterministic") is False),
            }
        )
    return out


def engine_goal(models: list[dict]) -> dict[str, Any] | None:
    """The engine issue's goal against gltfpack -cc: geomean bytes, no model > 5% above, median time.

    None when either configuration was not run."""
    table = rows_by_config(models)
    if ENGINE not in table or GOAL_REFERENCE not in table:
        return None
    ours, ref = table[ENGINE], table[GOAL_REFERENCE]
    both = [name for name in ref if ref[name]["ok"] and ours.get(name, {}).get("ok")]
    above = sorted(
        name
        for name, r in ref.items()
        if r["ok"]
        and (not ours.get(name, {}).get("ok") or ours[name]["output_bytes"] > GOAL_MARGIN * r["output_bytes"])
    )
    g_ours = geomean(ours[n]["output_bytes"] for n in both)
    g_ref = geomean(ref[n]["output_bytes"] for n in both)
    t_ours = median(ours[n]["seconds"] for n in both)
    t_ref = median(ref[n]["seconds"] for n in both)
    return {
        "models": len(both),
        "geomean_bytes": g_ours,
        "reference_geomean_bytes": g_ref,
        "bytes_pass": bool(both) and g_ours <= g_ref,
        "above_margin": above,
        "margin_pass": bool(both) and not above,
        "median_seconds": t_ours,
        "reference_median_seconds": t_ref,
        "time_pass": bool(both) and t_ours <= t_ref,
    }


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def goal_lines(goal: dict[str, Any]) -> list[str]:
    n = goal["models"]
    if not n:
        return [f"FAIL no model that both {ENGINE} and {GOAL_REFERENCE} could process"]
    above = ", ".join(goal["above_margin"]) or "none"
    return [
        f"{_verdict(goal['bytes_pass'])} geomean bytes {goal['geomean_bytes']:,.0f} <= {GOAL_REFERENCE} "
        f"{goal['reference_geomean_bytes']:,.0f} ({n} models)",
        f"{_verdict(goal['margin_pass'])} no model more than 5% above {GOAL_REFERENCE} (above or failed: {above})",
        f"{_verdict(goal['time_pass'])} median wall time {goal['median_seconds']:.3f} s <= {GOAL_REFERENCE} "
        f"{goal['reference_median_seconds']:.3f} s",
    ]


# ---------------------------------------------------------------- textures (issue 4)


def texture_goal(models: list[dict]) -> dict[str, Any] | None:
    """The texture issue's goal, over the models all five configurations processed: balanced's
    geomean output/input at least 10% below the smallest of the four references' (measured in the
    same run, so the bar moves with the tools), every model's worst-view SSIM at least 0.98, and
    total wall time at most twice native gltfpack -tw's. None when a configuration was not run.

    fidelity_pass is None when a model's fidelity was not measured (rendering skipped, or its
    original did not render) and no measured model fails: not measured is not a pass.
    floor_seconds: the total wall times of TEXTURE_TIME_FLOORS over the same models, where they
    ran and processed every one (what the time line would cost without the quality search)."""
    table = rows_by_config(models)
    if any(c not in table for c in TEXTURE_CONFIGS):
        return None
    by_name = {m["name"]: m for m in models}
    common = [
        m["name"] for m in models if all(table[c].get(m["name"], {}).get("ok") for c in TEXTURE_CONFIGS)
    ]
    ours = [table[TEXTURE_ENGINE][n] for n in common]
    g_ours = geomean(r["ratio"] for r in ours)
    g_refs = {c: geomean(table[c][n]["ratio"] for n in common) for c in TEXTURE_REFERENCES}
    smallest = min(TEXTURE_REFERENCES, key=lambda c: g_refs[c] or 0.0)
    ssims = {r["model"]: worst_ssim(r, by_name[r["model"]]) for r in ours}
    measured = {n: s for n, s in ssims.items() if s is not None}
    lowest = min(measured, key=measured.__getitem__, default=None)
    unmeasured = [n for n, s in ssims.items() if s is None]
    if lowest is not None and measured[lowest] < TEXTURE_SSIM_FLOOR:
        fidelity_pass: bool | None = False
    else:
        fidelity_pass = None if unmeasured or not common else True
    t_ours = sum(r["seconds"] for r in ours)
    t_ref = sum(table[TEXTURE_TIME_REFERENCE][n]["seconds"] for n in common)
    return {
        "models": len(common),
        "geomean_ratio": g_ours,
        "reference_geomean_ratios": g_refs,
        "smallest_reference": smallest,
        "size_pass": bool(common) and g_ours <= TEXTURE_SIZE_SHARE * g_refs[smallest],
        "lowest_ssim_min": measured[lowest] if lowest is not None else None,
        "lowest_ssim_model": lowest,
        "ssim_unmeasured": unmeasured,
        "render_skipped": not any(
            m.get("render_error") or any(r.get("fidelity") or r.get("render_error") for r in m["results"])
            for m in models
        ),
        "fidelity_pass": fidelity_pass,
        "total_seconds": t_ours,
        "reference_total_seconds": t_ref,
        "config_total_seconds": {c: sum(table[c][n]["seconds"] for n in common) for c in TEXTURE_CONFIGS},
        "floor_seconds": {
            c: sum(table[c][n]["seconds"] for n in common)
            for c in TEXTURE_TIME_FLOORS
            if c in table and all(table[c].get(n, {}).get("ok") for n in common)
        },
        "time_pass": bool(common) and t_ours <= TEXTURE_TIME_FACTOR * t_ref,
    }


def texture_goal_lines(goal: dict[str, Any]) -> list[str]:
    n = goal["models"]
    if not n:
        return [f"FAIL no model that {TEXTURE_ENGINE} and all of {', '.join(TEXTURE_REFERENCES)} processed"]
    ref = goal["smallest_reference"]
    g_ref = goal["reference_geomean_ratios"][ref]
    lines = [
        f"{_verdict(goal['size_pass'])} geomean output/input {goal['geomean_ratio']:.4f} <= "
        f"{TEXTURE_SIZE_SHARE:g} x smallest reference ({ref}) {g_ref:.4f} = {TEXTURE_SIZE_SHARE * g_ref:.4f} "
        f"({n} models)"
    ]
    claim = f"every model's worst-view SSIM >= {TEXTURE_SSIM_FLOOR:g}"
    lowest = (
        f"lowest {goal['lowest_ssim_min']:.4f} ({goal['lowest_ssim_model']})"
        if goal["lowest_ssim_model"] is not None
        else ""
    )
    if goal["fidelity_pass"] is None:
        missing = goal["ssim_unmeasured"]
        where = "rendering skipped" if goal.get("render_skipped") else f"not rendered: {', '.join(missing)}"
        lines.append(f"NOT MEASURED {claim} ({where}{'; ' + lowest if lowest else ''})")
    else:
        lines.append(f"{_verdict(goal['fidelity_pass'])} {claim}: {lowest}")
    t, t_ref = goal["total_seconds"], goal["reference_total_seconds"]
    lines.append(
        f"{_verdict(goal['time_pass'])} total wall time {t:.2f} s <= {TEXTURE_TIME_FACTOR:g} x "
        f"{TEXTURE_TIME_REFERENCE} {t_ref:.2f} s = {TEXTURE_TIME_FACTOR * t_ref:.2f} s"
    )
    totals = ", ".join(f"{c} {s:.2f} s" for c, s in goal["config_total_seconds"].items())
    lines.append(f"INFO total wall time of every configuration over the same models: {totals}")
    floors = goal.get("floor_seconds") or {}
    if floors and t_ref:
        parts = ", ".join(f"{c} {s:.2f} s ({s / t_ref:.1f} x)" for c, s in floors.items())
        lines.append(f"INFO the time line's floors, against {TEXTURE_TIME_REFERENCE}: {parts}")
    return lines


def texture_table(models: list[dict]) -> list[str]:
    """Issue 4's table: output/input per model for the five configurations, balanced's worst-view
    SSIM, and the two wall times the time line adds up."""
    table = rows_by_config(models)
    configs = [c for c in TEXTURE_CONFIGS if c in table]
    by_name = {m["name"]: m for m in models}
    header = (
        ["model", "input bytes"]
        + [f"{c} ratio" for c in configs]
        + [f"{TEXTURE_ENGINE} worst SSIM", f"{TEXTURE_ENGINE} s", f"{TEXTURE_TIME_REFERENCE} s"]
    )
    rows = []
    for m in models:
        cells = [table[c].get(m["name"], {}) for c in configs]
        ours = table.get(TEXTURE_ENGINE, {}).get(m["name"], {})
        ref = table.get(TEXTURE_TIME_REFERENCE, {}).get(m["name"], {})
        ssim = worst_ssim(ours, by_name[m["name"]]) if ours.get("ok") else None
        rows.append(
            [m["name"], f"{m['input_bytes']:,}"]
            + [f"{r['ratio']:.4f}" if r.get("ok") else "failed" for r in cells]
            + [_f(ssim, ".4f")]
            + [f"{r['seconds']:.2f}" if r.get("ok") else "–" for r in (ours, ref)]
        )
    return _table(header, rows)


# ---------------------------------------------------------------- simplification (issue 5)

SIMPLIFY_TOOLS = ("glbcompress simplify {}", "gltfpack -si {}", "gltf-transform simplify {}")


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def simplify_summary(models: list[dict]) -> list[dict[str, Any]]:
    """Per ratio and tool, over the models all three tools processed at that ratio: bytes
    (geomean output/input), triangles kept (median share of the input's), worst-view SSIM (mean
    and lowest) and mean-view SSIM (mean)."""
    table = rows_by_config(models)
    by_name = {m["name"]: m for m in models}
    out = []
    for ratio in SIMPLIFY_RATIOS:
        configs = [c.format(ratio) for c in SIMPLIFY_TOOLS if c.format(ratio) in table]
        if not configs:
            continue
        common = common_models(models, configs)
        for config in configs:
            rows = [table[config][n] for n in common if table[config][n]["ok"]]
            worst = [w for r in rows if (w := worst_ssim(r, by_name[r["model"]])) is not None]
            kept = [
                r["triangles"] / by_name[r["model"]]["triangles"]
                for r in rows
                if r.get("triangles") is not None and by_name[r["model"]].get("triangles")
            ]
            out.append(
                {
                    "ratio": ratio,
                    "config": config,
                    "tool": table[config][next(iter(table[config]))]["tool"],
                    "models": len(rows),
                    "failed": sorted(n for n, r in table[config].items() if not r["ok"]),
                    "geomean_ratio": geomean(r["ratio"] for r in rows),
                    "median_triangles_kept": median(kept),
                    "mean_ssim_min": _mean(worst),
                    "lowest_ssim_min": min(worst) if worst else None,
                    "mean_ssim_mean": _mean([r["fidelity"]["ssim_mean"] for r in rows if r.get("fidelity")]),
                }
            )
    return out


def simplify_goal(models: list[dict]) -> dict[str, Any] | None:
    """Issue 5's goal: at each ratio, glbcompress's mean worst-view SSIM at or above each
    reference's, over the models where both simplified to about the ratio asked (a tool that kept
    far more triangles than asked on a model did not simplify it: its fidelity there proves
    nothing); every target-size run within 5% under its budget or refused with a verified floor
    (see targets_verdict). None when nothing was run."""
    table = rows_by_config(models)
    by_name = {m["name"]: m for m in models}
    targets = [r for rows in table.values() for r in rows.values() if "budget_bytes" in r]
    ratios = {}
    for ratio in SIMPLIFY_RATIOS:
        ours_config, *references = (c.format(ratio) for c in SIMPLIFY_TOOLS)
        comparisons = [
            c
            for ref in references
            if ref in table and (c := _paired(table, by_name, ours_config, ref, ratio))
        ]
        if comparisons:
            ratios[ratio] = {
                "comparisons": comparisons,
                "pass": all(c["ours"] >= c["theirs"] for c in comparisons),
            }
    if not ratios and not targets:
        return None
    return {"ratios": ratios, **targets_verdict(targets)}


def targets_verdict(targets: list[dict]) -> dict[str, Any]:
    """Target sizes: met or refused with a clear message (issue 5), made falsifiable. A run the
    engine did not refuse must hit its budget (a failure of any other kind is a miss); a refusal
    counts only when verified: its floor check (the same model asked for the size the refusal
    names) succeeded and hit that size, which proves the message names a size the engine really
    reaches. A refusal naming no size is not verified."""
    budgeted = [r for r in targets if not r.get("refused")]
    refused = [r for r in targets if r.get("refused")]

    def name(r: dict) -> str:
        return f"{r['model']} ({r['config']})"

    misses = sorted(name(r) for r in budgeted if not r.get("budget_hit"))
    unverified = sorted(name(r) for r in refused if not refusal_verified(r))
    return {
        "target_runs": len(targets),
        "budget_runs": len(budgeted),
        "budget_hits": len(budgeted) - len(misses),
        "budget_misses": misses,
        "refused": len(refused),
        "floors_verified": len(refused) - len(unverified),
        "not_verified": unverified,
        "targets_pass": not misses and not unverified,
    }


def refusal_verified(row: dict) -> bool:
    """A refused target-size run whose floor check hit the floor its message names."""
    return bool(row.get("refused")) and row.get("floor_mb") is not None and row.get("floor_hit") is True


REACHED = 1.25
"""A tool reached a ratio on a model when the share of triangles it kept is at most this times it."""


def _kept(row: dict, model: dict) -> float | None:
    if row.get("triangles") is None or not model.get("triangles"):
        return None
    return row["triangles"] / model["triangles"]


def _paired(
    table: dict[str, dict[str, dict]], by_name: dict[str, dict], ours: str, theirs: str, ratio: str
) -> dict[str, Any] | None:
    """Mean worst-view SSIM of ours and a reference over the models both rendered where both
    reached the ratio; the models left out for not reaching it, by tool."""
    pairs, short = [], []
    for name, row in table.get(ours, {}).items():
        other, model = table[theirs].get(name), by_name[name]
        if not row["ok"] or other is None or not other["ok"]:
            continue
        a, b = worst_ssim(row, model), worst_ssim(other, model)
        if a is None or b is None:
            continue
        missed = [
            config
            for config, r in ((ours, row), (theirs, other))
            if (k := _kept(r, model)) is None or k > REACHED * float(ratio)
        ]
        if missed:
            short += [f"{name} ({config})" for config in missed]
        else:
            pairs.append((a, b))
    if not pairs:
        return None
    return {
        "reference": theirs,
        "models": len(pairs),
        "ours": _mean([a for a, _ in pairs]),
        "theirs": _mean([b for _, b in pairs]),
        "not_compared": short,
    }


def simplify_goal_lines(goal: dict[str, Any]) -> list[str]:
    lines = []
    for ratio, g in goal["ratios"].items():
        verdict = _verdict(g["pass"])
        parts = []
        for c in g["comparisons"]:
            skipped = f"; not compared, kept too many triangles: {', '.join(c['not_compared'])}"
            parts.append(
                f"{c['ours']:.4f} vs {c['reference']} {c['theirs']:.4f} "
                f"({c['models']} models{skipped if c['not_compared'] else ''})"
            )
        lines.append(f"{verdict} ratio {ratio}: mean worst-view SSIM " + "; ".join(parts))
    if goal["target_runs"]:
        lines.append(targets_line(goal))
    return lines


def targets_line(goal: dict[str, Any]) -> str:
    verdict = _verdict(goal["targets_pass"])
    misses = f" (miss: {', '.join(goal['budget_misses'])})" if goal["budget_misses"] else ""
    unverified = f" (not verified: {', '.join(goal['not_verified'])})" if goal["not_verified"] else ""
    return (
        f"{verdict} target sizes: {goal['budget_hits']}/{goal['budget_runs']} budgets hit within 5%{misses}; "
        f"{goal['refused']} refused, {goal['floors_verified']}/{goal['refused']} floors verified{unverified}"
    )


def simplify_table(models: list[dict]) -> list[str]:
    rows = [
        [
            s["ratio"],
            s["config"],
            f"{s['models']}" + (f" ({len(s['failed'])} failed)" if s["failed"] else ""),
            _f(s["geomean_ratio"], ".3f"),
            _f(s["median_triangles_kept"], ".3f"),
            _f(s["mean_ssim_min"], ".4f"),
            _f(s["lowest_ssim_min"], ".4f"),
            _f(s["mean_ssim_mean"], ".4f"),
        ]
        for s in simplify_summary(models)
    ]
    header = [
        "ratio",
        "configuration",
        "models",
        "output/input (geomean)",
        "triangles kept (median)",
        "worst-view SSIM (mean)",
        "worst-view SSIM (lowest)",
        "mean-view SSIM (mean)",
    ]
    return _table(header, rows)


def target_table(models: list[dict]) -> list[str]:
    """Target-size runs per model: the budget, the output and whether it landed within 5% under;
    for a refusal, the floor it names and what the floor check made of it."""
    rows = []
    for m in models:
        for r in m["results"]:
            if "budget_bytes" not in r:
                continue
            fid = r.get("fidelity")
            if r.get("refused"):
                verdict = "refused"
            else:
                verdict = "hit" if r.get("budget_hit") else ("failed" if not r["ok"] else "miss")
            rows.append(
                [
                    m["name"],
                    r["config"],
                    f"{r['budget_bytes']:,}",
                    _target_output(r),
                    f"{r['output_bytes'] / r['budget_bytes']:.3f}" if r["ok"] else "–",
                    verdict,
                    *_floor_cells(r),
                    f"{fid['ssim_min']:.4f}/{fid['ssim_mean']:.4f}" if fid else "–",
                ]
            )
    header = [
        "model",
        "configuration",
        "budget bytes",
        "output bytes",
        "output/budget",
        "verdict",
        "floor MB",
        "floor output bytes",
        "floor check",
        "SSIM min/mean",
    ]
    return _table(header, rows)


def _target_output(row: dict) -> str:
    """Output bytes; a failure's last words, except a refusal's (its floor columns say more)."""
    if row["ok"]:
        return f"{row['output_bytes']:,}"
    return "–" if row.get("refused") else (row["error"] or "failed").replace("|", "/")[:80]


def _floor_cells(row: dict) -> list[str]:
    if not row.get("refused"):
        return ["–", "–", "–"]
    floor_bytes = row.get("floor_bytes")
    check = (
        "verified" if refusal_verified(row) else f"not verified: {row.get('floor_error') or 'no floor check'}"
    )
    return [
        _f(row.get("floor_mb"), "g"),
        f"{floor_bytes:,}" if floor_bytes is not None else "–",
        check.replace("|", "/")[:100],
    ]


# ---------------------------------------------------------------- markdown


def _f(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def summary_table(summary: list[dict]) -> list[str]:
    rows = [
        [
            s["config"],
            f"{s['models'] - len(s['failed'])}/{s['models']}",
            _f(s["geomean_ratio"], ".3f"),
            _f(s["median_ssim_min"], ".4f"),
            _f(s["lowest_ssim_min"], ".4f"),
            _f(s["median_seconds"], ".2f"),
            _f(s["max_peak_mb"], ".0f"),
            str(len(s["new_validator_errors"])),
            str(len(s["render_failures"])),
        ]
        for s in summary
    ]
    header = [
        "configuration",
        "ok",
        "output/input (geomean)",
        "worst-view SSIM (median)",
        "worst-view SSIM (lowest)",
        "time s (median)",
        "peak MB (max)",
        "new validator errors",
        "render failures",
    ]
    return _table(header, rows)


def engine_table(models: list[dict]) -> list[str]:
    """Issue 2's table: bytes and wall time per model for the three configurations it names."""
    table = rows_by_config(models)
    configs = [c for c in GOAL_CONFIGS if c in table]
    header = ["model", "input bytes"] + [f"{c} bytes" for c in configs] + [f"{c} s" for c in configs]
    rows = []
    for m in models:
        cells = [table[c].get(m["name"], {}) for c in configs]
        rows.append(
            [m["name"], f"{m['input_bytes']:,}"]
            + [f"{r['output_bytes']:,}" if r.get("ok") else "failed" for r in cells]
            + [f"{r['seconds']:.2f}" if r.get("ok") else "–" for r in cells]
        )
    common = common_models(models, configs)
    shared = [[table[c][n] for n in common if table[c][n]["ok"]] for c in configs]
    g_bytes = [geomean(r["output_bytes"] for r in rows_) for rows_ in shared]
    g_secs = [geomean(r["seconds"] for r in rows_) for rows_ in shared]
    g_in = geomean(m["input_bytes"] for m in models if m["name"] in common)
    rows.append(
        [f"**geomean ({len(common)} models)**", _f(g_in, ",.0f")]
        + [_f(v, ",.0f") for v in g_bytes]
        + [_f(v, ".2f") for v in g_secs]
    )
    return _table(header, rows)


def _validity_cell(check: dict | None) -> str:
    if not check:
        return "–"
    if "error" in check:
        return "failed"
    new = sum(check["new_errors"].values())
    return f"{check['errors']}/{check['warnings']}" + (f" (+{new})" if new else "")


def model_table(models: list[dict]) -> list[str]:
    header = [
        "model",
        "configuration",
        "output bytes",
        "ratio",
        "time s",
        "peak MB",
        "validator E/W",
        "decoded E/W",
        "SSIM min/mean",
        "PSNR min/mean",
        "note",
    ]
    rows = []
    for m in models:
        for r in m["results"]:
            fid = r.get("fidelity")
            note = r["error"] or r.get("render_error") or m.get("render_error", "")
            rows.append(
                [
                    m["name"],
                    r["config"],
                    f"{r['output_bytes']:,}" if r["ok"] else "failed",
                    f"{r['ratio']:.3f}" if r["ok"] else "–",
                    f"{r['seconds']:.2f}",
                    _f(r["peak_mb"], ".0f"),
                    _validity_cell(r.get("validator")),
                    _validity_cell(r.get("decoded")),
                    f"{fid['ssim_min']:.4f}/{fid['ssim_mean']:.4f}" if fid else "–",
                    f"{fid['psnr_min']:.1f}/{fid['psnr_mean']:.1f}" if fid else "–",
                    note.replace("|", "/")[:120],
                ]
            )
    return _table(header, rows)


def markdown(result: dict[str, Any]) -> str:
    models, summary, goal = result["models"], result["summary"], result.get("engine_goal")
    lines = [
        "# glbcompress benchmark",
        "",
        f"{len(models)} models from `{result['meta']['corpus']}`; times are medians of "
        f"{result['meta']['repeat']} run(s). Geometric means and medians are over the "
        f"{len(common_models(models, [s['config'] for s in summary]))} models every configuration processed.",
        "",
        "## Per configuration",
        "",
        *summary_table(summary),
        "",
    ]
    failed = [f"- {s['config']}: failed on {', '.join(s['failed'])}" for s in summary if s["failed"]]
    if failed:
        lines += ["Failures:", "", *failed, ""]
    if goal is not None:
        lines += [
            "## Engine goal (issue 2)",
            "",
            *engine_table(models),
            "",
            "```",
            *goal_lines(goal),
            "```",
            "",
        ]
    texture = result.get("texture_goal")
    if texture is not None:
        lines += [
            "## Texture goal (issue 4)",
            "",
            *texture_table(models),
            "",
            "```",
            *texture_goal_lines(texture),
            "```",
            "",
        ]
    simplify = simplify_goal(models)
    if simplify is not None:
        lines += [
            "## Simplification (issue 5)",
            "",
            "Every tool asked for the same share of triangles with its error bound out of the way, "
            f"textures untouched; target sizes are fractions of `{BUDGET_REFERENCE}`'s output.",
            "",
            *simplify_table(models),
            "",
            *target_table(models),
            "",
            "```",
            *simplify_goal_lines(simplify),
            "```",
            "",
        ]
    lines += ["## Per model", "", *model_table(models), ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- chart

_TOOL_COLORS = {"glbcompress": "tab:green", "gltfpack": "tab:blue", "gltf-transform": "tab:orange"}
_MARKERS = "os^DvP*X"


SSIM_LOSS_FLOOR = 1e-5  # where identical renders (1 - SSIM = 0) sit on the log axis


def _loss(ssim: float) -> float:
    return max(1.0 - ssim, SSIM_LOSS_FLOOR)


def chart(result: dict[str, Any], path: Path) -> None:
    """Size ratio (geomean) against worst-view SSIM (median) per configuration, with each model
    as a faint point behind. Fidelity is drawn as 1 - SSIM on a log axis (better is higher), which
    spreads the values that crowd just below 1."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = result["models"]
    by_name = {m["name"]: m for m in models}
    table = rows_by_config(models)
    common = set(common_models(models, list(table)))
    fig, ax = plt.subplots(figsize=(12, 6), dpi=110)
    for i, s in enumerate(result["summary"]):
        color = _TOOL_COLORS.get(s["tool"], "tab:gray")
        marker = _MARKERS[i % len(_MARKERS)]
        points = [
            (r["ratio"], _loss(ssim))
            for name, r in table[s["config"]].items()
            if name in common and r["ok"] and (ssim := worst_ssim(r, by_name[name])) is not None
        ]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.scatter(xs, ys, color=color, marker=marker, alpha=0.18, s=14)
        if s["geomean_ratio"] is not None and s["median_ssim_min"] is not None:
            ax.scatter(
                s["geomean_ratio"], _loss(s["median_ssim_min"]), color=color, marker=marker, s=110,
                edgecolors="black", label=f"{s['config']} ({s['median_ssim_min']:.4f})", zorder=3,
            )  # fmt: skip
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("output / input bytes (log; geometric mean large, per model faint)")
    ax.set_ylabel(f"1 - worst-view SSIM (log, better is higher; identical = {SSIM_LOSS_FLOOR:g})")
    ax.set_title(f"Size vs rendered fidelity ({len(common)} models; median SSIM in the legend)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
