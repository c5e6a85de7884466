"""Start-up stays lean: what the command line imports before it has any work to do.

Each check runs a fresh interpreter, since this test process has long imported everything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.models import textured_box

HEAVY = (
    *("DracoPy", "scipy", "PIL", "rich", "multiprocessing", "concurrent.futures"),
    *("fastapi", "sqlalchemy", "pydantic", "httpx"),
)
"""Imported only by the runs that need them (Draco data, pictures, a terminal table or progress bar,
a thread or process pool, the web service): inside the functions that use them, not at the top of a
module (see engine/passes/__init__.py)."""


def loaded_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running code."""
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.splitlines()[-1]))


@pytest.mark.parametrize("code", ["import glbcompress", "import glbcompress.cli"])
def test_import_loads_no_heavy_module(code: str) -> None:
    assert not [name for name in HEAVY if name in loaded_after(code)]


def test_package_import_leaves_the_engine_for_later() -> None:
    """``import glbcompress`` loads neither the engine nor numpy; the CLI limits numpy's threads
    before numpy loads, so it must get there first."""
    loaded = loaded_after("import glbcompress")
    assert "numpy" not in loaded and "glbcompress.engine.api" not in loaded
    loaded = loaded_after("import glbcompress; glbcompress.compress")
    assert "glbcompress.engine.api" in loaded


def test_cli_limits_blas_threads_unless_told() -> None:
    code = "import os, glbcompress.cli; print(os.environ['OPENBLAS_NUM_THREADS'])"
    env = {name: value for name, value in os.environ.items() if name != "OPENBLAS_NUM_THREADS"}
    for given, expected in ((None, "1"), ("3", "3")):
        extra = {"OPENBLAS_NUM_THREADS": given} if given else {}
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={**env, **extra}
        )
        assert out.stdout.strip() == expected


def test_compressing_a_glb_without_draco_loads_no_heavy_module(tmp_path: Path) -> None:
    src = textured_box(tmp_path / "box.glb")
    # Texture compression needs Pillow by nature; this checks everything else.
    args = ["compress", str(src), "-q", "--no-textures"]
    code = f"from glbcompress.cli import cli\nassert cli.main({args!r}, standalone_mode=False) == 0"
    loaded = loaded_after(code)
    assert (tmp_path / "box.min.glb").is_file()
    assert not [name for name in HEAVY if name in loaded]


def test_a_run_loads_only_the_passes_it_runs(tmp_path: Path) -> None:
    """The flags come from engine/pass_options.py, so a pass's module (and what it imports) loads
    only when the pass runs; the Draco codec only for Draco input or a mesh Draco could make smaller
    (not a 12-triangle box), traceback only for a bug, and hashlib (which loads OpenSSL) not for
    dedup's BLAKE2 digests."""
    from glbcompress.engine.options import PASSES
    from glbcompress.engine.presets import resolve

    src = textured_box(tmp_path / "box.glb")
    args = ["compress", str(src), "-q", "--no-textures"]
    code = f"from glbcompress.cli import cli\nassert cli.main({args!r}, standalone_mode=False) == 0"
    idle = set(PASSES) - set(resolve("balanced", {"textures": False}).enabled())
    assert idle >= {"simplify", "textures", "instance"}
    unwanted = {f"glbcompress.engine.passes.{name}" for name in idle}
    unwanted |= {"DracoPy", "traceback", "hashlib"}
    assert not unwanted & loaded_after(code)
    assert not unwanted & loaded_after("import glbcompress.cli")


def test_summary_to_a_pipe_is_plain_text_without_rich(tmp_path: Path) -> None:
    """Written to a pipe, the summary table is aligned plain text: rich (~35 ms to import, a sixth
    of a small model's whole run) is loaded only to draw it on a terminal."""
    src = textured_box(tmp_path / "box.glb")
    args = ["compress", str(src), "--no-textures"]
    code = (
        f"from glbcompress.cli import cli\nassert cli.main({args!r}, standalone_mode=False) == 0\n"
        "import sys\nprint('rich' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    title, header, row, rich_loaded = out.stdout.splitlines()
    assert rich_loaded == "False"
    assert title == str(tmp_path)
    assert header.split() == ["file", "input", "output", "ratio", "triangles", "time"]
    assert row.startswith("box.glb ") and row.endswith(" s") and len(row) == len(header)


def test_a_plain_compress_command_line_loads_no_click(tmp_path: Path) -> None:
    """The console script reads ``compress FILE -q --no-textures`` itself: click (~10 ms to import,
    with what it imports) and the click commands are loaded only for other command lines."""
    src = textured_box(tmp_path / "box.glb")
    args = ["compress", str(src), "-q", "--no-textures"]
    loaded = loaded_after(f"from glbcompress.cli import run\nassert run({args!r}) == 0")
    assert (tmp_path / "box.min.glb").is_file()
    assert not {"click", "glbcompress.commands", "threading"} & loaded
    assert "click" in loaded_after(
        f"from glbcompress.cli import run\nassert run({args[:2]!r} + ['-qj', '1']) == 0"
    )


def test_import_leaves_the_collector_on_with_start_up_objects_set_aside() -> None:
    """Loading the engine for the command line runs without the cyclic garbage collector, whose
    walks over the objects that live as long as the process would cost ~2% of a small model's
    run; garbage made afterwards is still collected."""
    code = (
        "import gc, weakref, glbcompress.cli\n"
        "class Cycle: pass\n"
        "a = Cycle(); a.me = a; ref = weakref.ref(a); del a; gc.collect()\n"
        "print(gc.isenabled(), gc.get_freeze_count() > 10000, ref() is None)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]
