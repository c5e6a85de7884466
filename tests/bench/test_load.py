"""The load test's own pieces: the large upload is a valid GLB of the asked size that the engine
compresses to almost nothing, and the latency percentiles."""

from __future__ import annotations

from pathlib import Path

from bench.load import large_glb, percentile

from glbcompress.engine.api import compress


def test_the_large_upload_is_a_valid_glb_of_the_asked_size(tmp_path: Path) -> None:
    big = large_glb(tmp_path / "large.glb", 8 * 1024 * 1024)
    assert abs(big.stat().st_size - 8 * 1024 * 1024) < 8192
    out = tmp_path / "out.glb"
    report = compress(big, out, {})
    assert out.stat().st_size < 10_000  # the unused buffer is pruned
    assert report.as_dict()["output_bytes"] == out.stat().st_size


def test_percentiles() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 51.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0
