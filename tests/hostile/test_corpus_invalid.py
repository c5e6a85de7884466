"""Every file of the shared corpus's invalid/ set (MANIFEST.tsv says what each exercises): a typed
engine error with a one-line message, in a process of its own under an address-space limit and a
timeout (its peak memory and time recorded), and from the CLI one line per file and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.support import CASE_MEMORY_BYTES, record, record_bounded, run_bounded, run_cli
from tests.tools import CORPUS

INVALID = CORPUS / "invalid"
CASES = sorted(p.name for p in INVALID.iterdir()) if INVALID.is_dir() else []
# What each case is about, as words its message must contain (case-insensitive).
EXPECTED = {
    "box_with_infinites": "infinite",
    "glb_buffer_wrong_bytelength": "declares",
    "glb_chunk_too_big": "declares",
    "glb_empty_file": "empty",
    "glb_invalid_json_chunk": "json",
    "glb_invalid_magic": "not a gltf model",
    "glb_invalid_version": "version",
    "glb_misplaced_bin_chunk": "bin chunk",
    "glb_truncated_chunk_data": "truncated",
    "glb_truncated_chunk_header": "damaged",
    "gltf_buffer_not_found": "missing",
    "gltf_buffer_view_too_long": "buffer 0",
    "gltf_index_buffer_oob": "out of range",
    "gltf_invalid_json_syntax": "json",
    "gltf_missing_bin_and_texture": "missing",
    "gltf_node_loop": "cycle",
    "gltf_unresolved_bufferview": "bufferview",
    "html_saved_as_glb": "html",
    "html_saved_as_gltf": "html",
    "ue4_garbled_names_missing_bin": "utf-8",
}


def need_corpus() -> None:
    if not INVALID.is_dir():
        pytest.skip(f"{INVALID} is absent (the shared corpus is not on this machine)")


def model_of(case: str) -> Path:
    return next(p for p in sorted((INVALID / case).iterdir()) if p.suffix in (".glb", ".gltf"))


@pytest.mark.parametrize("case", CASES or ["(corpus absent)"])
def test_engine_refuses_in_bounded_memory_and_time(case: str) -> None:
    need_corpus()
    bounded = run_bounded(model_of(case))
    record_bounded("corpus invalid/", case, bounded)
    assert not bounded.outcome.ok, f"{case}: compressed without complaint"
    assert EXPECTED.get(case, "") in bounded.outcome.message.lower(), (case, bounded.outcome.message)
    assert bounded.peak_rss_mb * 1024**2 < CASE_MEMORY_BYTES


def test_cli_gives_one_line_per_file_and_exit_2(tmp_path: Path) -> None:
    """All cases in one run of the CLI (its own process, memory-limited): exit 2, one
    ``glbcompress: error: <file>: <message>`` line per model, no output written."""
    need_corpus()
    models = [model_of(case) for case in CASES]
    measured = run_cli(models[0], tmp_path, inputs=models[1:])
    record("corpus invalid/ (CLI, all files)", f"{len(models)} files", measured)
    lines = measured.stderr.strip().splitlines()
    assert measured.code == 2, f"{measured}; stderr: {measured.stderr[-800:]}"
    assert len(lines) == len(models), measured.stderr
    for line in lines:
        assert line.startswith("glbcompress: error: "), line
    for model in models:
        assert sum(str(model) in line for line in lines) == 1, (model, measured.stderr)
    assert not list(tmp_path.iterdir())
