"""The command line on the worst generated cases of every attack class, all in one run in a
process limited to 1 GiB of address space: exit code 2, one ``glbcompress: error: <file>:
<message>`` line per model, no traceback, no output file."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.hostile import images
from tests.hostile.support import glb, mutate, record, run_cli
from tests.hostile.test_accessors import aliased
from tests.hostile.test_data_uris import gltf_with_buffer


def worst_cases(folder: Path, glbs: dict[str, Path]) -> list[Path]:
    folder.mkdir()
    deep = folder / "deep.gltf"
    deep.write_text('{"asset":{"version":"2.0"},"extras":' + "[" * 100_000 + "]" * 100_000 + "}")
    huge = folder / "huge-count.gltf"
    huge.write_text(
        json.dumps(
            {
                "asset": {"version": "2.0"},
                "accessors": [{"componentType": 5126, "count": 1 << 30, "type": "MAT4"}],
            }
        )
    )
    cut = folder / "cut.glb"
    cut.write_bytes(glbs["skinned_rig.glb"].read_bytes()[:-9])
    lying = folder / "lying-chunk.glb"
    data = bytearray(glbs["textured_box.glb"].read_bytes())
    data[12:16] = (0xFFFFFFF0).to_bytes(4, "little")
    lying.write_bytes(bytes(data))
    cycle = mutate(
        glbs["skinned_rig.glb"], folder / "cycle.glb", lambda g: g["nodes"][1].update(children=[0])
    )
    outside = gltf_with_buffer(folder / "outside.gltf", "../../etc/passwd", 12)
    remote = gltf_with_buffer(folder / "remote.gltf", "http://127.0.0.1:9/x.bin", 12)
    bad_base64 = gltf_with_buffer(folder / "base64.gltf", "data:application/octet-stream;base64,@@@@", 12)
    nan = folder / "nan.gltf"
    nan.write_text('{"asset":{"version":"2.0"},"nodes":[{"translation":[NaN,0,0]}]}')
    giga = folder / "giga.glb"
    giga_uri = "data:image/png;base64," + base64.b64encode(images.png(60000, 60000)).decode()
    mutate(glbs["textured_box.glb"], giga, lambda g: g["images"].__setitem__(0, {"uri": giga_uri}))
    meshopt = mutate(
        glbs["meshopt_rig.glb"],
        folder / "meshopt.glb",
        lambda g: g["bufferViews"][0]["extensions"]["EXT_meshopt_compression"].update(count=7),
    )
    bomb = aliased(folder / "alias.glb", 1000, 4 * 1024**2)
    html = folder / "page.glb"
    html.write_bytes(b"<!DOCTYPE html><html><body>Not found</body></html>")
    empty_json = folder / "empty-json.glb"
    empty_json.write_bytes(glb(b"{}"))
    return [
        deep,
        huge,
        cut,
        lying,
        cycle,
        outside,
        remote,
        bad_base64,
        nan,
        giga,
        meshopt,
        bomb,
        html,
        empty_json,
    ]


def test_cli_refuses_every_worst_case_in_one_line(glbs: dict[str, Path], tmp_path: Path) -> None:
    cases = worst_cases(tmp_path / "cases", glbs)
    assert all(case.is_file() for case in cases)
    out = tmp_path / "out"
    out.mkdir()
    measured = run_cli(cases[0], out, inputs=cases[1:], extra=("--texture-format", "webp"))
    record("CLI, worst case of each class", f"{len(cases)} files in one run", measured)
    lines = measured.stderr.strip().splitlines()
    assert measured.code == 2, f"{measured}; {measured.stderr[-1500:]}"
    assert len(lines) == len(cases), measured.stderr
    for case in cases:
        mine = [line for line in lines if line.startswith(f"glbcompress: error: {case}: ")]
        assert len(mine) == 1, (case, measured.stderr)
    assert "internal error" not in measured.stderr and "Traceback" not in measured.stderr
    assert not list(out.iterdir())
