"""The benchmark: glbcompress beside gltfpack and glTF-Transform on a corpus of models.

    python -m bench.run                 # the whole public corpus, every configuration
    python -m bench.run --quick         # a handful of models, for development
    python -m bench.run --goal          # the engine issue's comparison (3 configurations)
    python -m bench.run --simplify-goal # simplification at ratios and target sizes (issue 5)
    python -m bench.run --texture-goal  # glbcompress balanced against the texture references (issue 4)

Writes results.json, results.md and chart.png to --out (bench/out by default) and prints the
per-configuration summary, then the PASS/FAIL lines of each goal whose configurations ran.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from . import report
from .corpus import discover, select
from .measure import Settings, measure_model
from .paths import CHROMIUM, DEFAULT_CORPUS, DEFAULT_OUT, NATIVE_GLTFPACK, NODE_MODULES, ROOT
from .render import Renderer, renderer_available
from .runners import CONFIGS, GOAL_CONFIGS, SIMPLIFY_CONFIGS, TEXTURE_RUNS, Config
from .validate import validator_available


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n\n")[0])
    p.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS, help="folder of models")
    p.add_argument("--quick", action="store_true", help="only a handful of models")
    p.add_argument("--models", help="comma-separated model names")
    p.add_argument("--configs", help="comma-separated configuration names (see --list)")
    p.add_argument(
        "--goal", action="store_true", help=f"only the engine goal's configurations: {GOAL_CONFIGS}"
    )
    p.add_argument(
        "--simplify-goal",
        action="store_true",
        help="only the simplification comparison: ratios 0.5/0.25/0.1 against gltfpack and "
        "glTF-Transform, and target sizes at 50%% and 25%% of balanced",
    )
    p.add_argument(
        "--texture-goal",
        action="store_true",
        help=f"only the texture goal's configurations (issue 4): {', '.join(TEXTURE_RUNS)}",
    )
    p.add_argument("--list", action="store_true", help="list the configurations and exit")
    p.add_argument("--repeat", type=int, default=1, help="runs per model and configuration (time = median)")
    p.add_argument(
        "--timeout", type=float, default=300, help="seconds per model and run before it counts as failed"
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for outputs and results")
    p.add_argument(
        "--images", type=Path, help="save side-by-side renders (original above, output below) here"
    )
    p.add_argument("--size", type=int, default=512, help="rendered view size in pixels")
    p.add_argument("--no-render", action="store_true", help="skip rendered fidelity")
    p.add_argument("--no-validate", action="store_true", help="skip the glTF-Validator")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be at least 1")
    return args


def choose_configs(args: argparse.Namespace) -> list[Config]:
    goals = (
        (args.goal, GOAL_CONFIGS),
        (args.simplify_goal, SIMPLIFY_CONFIGS),
        (args.texture_goal, TEXTURE_RUNS),
    )
    if any(chosen for chosen, _ in goals):
        names = [name for chosen, configs in goals if chosen for name in configs]
        return [CONFIGS[name] for name in dict.fromkeys(names)]
    if not args.configs:
        return list(CONFIGS.values())
    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        raise SystemExit(f"unknown configuration(s): {', '.join(unknown)}; see --list")
    return [CONFIGS[n] for n in names]


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "unavailable"
    text = (out.stdout or out.stderr).strip().splitlines()
    return text[0].strip() if text else "unavailable"


def _npm_version(package: str) -> str:
    try:
        return json.loads((NODE_MODULES / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "unavailable"


def environment(args: argparse.Namespace) -> dict[str, Any]:
    """What produced the figures: tool versions, the engine's commit, the machine."""
    commit = _version(["git", "-C", str(ROOT), "describe", "--always", "--dirty"])
    return {
        "corpus": str(args.corpus),
        "repeat": args.repeat,
        "timeout": args.timeout,
        "render_size": args.size,
        "glbcompress": commit,
        "gltfpack (npm)": _npm_version("gltfpack"),
        "gltfpack (native)": _version([str(NATIVE_GLTFPACK), "-v"]),
        "gltf-transform": _npm_version("@gltf-transform/cli"),
        "gltf-validator": _npm_version("gltf-validator"),
        "three": _npm_version("three"),
        "chromium": _version([str(CHROMIUM), "--version"]),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {platform.system()}",
    }


def warn_missing(console: Console, configs: list[Config], args: argparse.Namespace) -> None:
    missing = sorted({str(c.executable.name) for c in configs if c.executable and not c.executable.exists()})
    if missing:
        console.print(f"[yellow]not installed: {', '.join(missing)} (run bench/setup); their runs will fail")
    if not args.no_validate and (reason := validator_available()):
        console.print(f"[yellow]validator unavailable: {reason}")
    if not args.no_render and (reason := renderer_available()):
        console.print(f"[yellow]rendering unavailable, skipped: {reason}")


def compile_bytecode() -> None:
    """Time the engine as installed: pip compiles bytecode at install, while a source checkout
    run with PYTHONDONTWRITEBYTECODE set would recompile every module edited since, on each run."""
    import compileall

    compileall.compile_dir(ROOT / "src", quiet=2)


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    configs = choose_configs(args)
    if any(c.tool == "glbcompress" for c in configs):
        compile_bytecode()
    models = select(discover(args.corpus), args.models.split(",") if args.models else None, args.quick)
    if not models:
        raise SystemExit(f"no models found in {args.corpus}")
    warn_missing(console, configs, args)
    settings = Settings(
        out=args.out / "files",
        repeat=args.repeat,
        timeout=args.timeout,
        check_validity=not args.no_validate and validator_available() is None,
        images=args.images,
    )
    render = not args.no_render and renderer_available() is None
    results = []
    columns = [TextColumn("{task.description:<48}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("starting", total=len(models) * (len(configs) + 2))

        def step(description: str) -> None:
            progress.update(task, description=description[:48], advance=1)

        with Renderer(size=args.size, timeout=args.timeout) if render else nullcontext() as renderer:
            for model in models:
                done = progress.tasks[0].completed
                results.append(measure_model(model, configs, settings, renderer, step))
                progress.update(task, completed=done + len(configs) + 2)
    return {
        "meta": {**environment(args), "configs": {c.name: c.describe() for c in configs}},
        "models": results,
        "summary": report.summarize(results),
        "engine_goal": report.engine_goal(results),
        "texture_goal": report.texture_goal(results),
        "simplify_goal": report.simplify_goal(results),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    if args.list:
        for c in CONFIGS.values():
            print(f"{c.name:<36} {c.describe()}")
        return 0
    result = run(args, console)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "results.md").write_text(report.markdown(result))
    report.chart(result, args.out / "chart.png")
    print("\n".join(report.summary_table(result["summary"])))
    if result["engine_goal"] is not None:
        print()
        print("\n".join(report.engine_table(result["models"])))
        print()
        print("\n".join(report.goal_lines(result["engine_goal"])))
    if result["texture_goal"] is not None:
        print()
        print("\n".join(report.texture_table(result["models"])))
        print()
        print("\n".join(report.texture_goal_lines(result["texture_goal"])))
    if result["simplify_goal"] is not None:
        print()
        print("\n".join(report.simplify_table(result["models"])))
        print()
        print("\n".join(report.target_table(result["models"])))
        print()
        print("\n".join(report.simplify_goal_lines(result["simplify_goal"])))
    console.print(f"\nwrote {args.out / 'results.md'}, results.json and chart.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
