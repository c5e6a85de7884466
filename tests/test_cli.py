"""The installed ``glbcompress`` command, run as a subprocess: outputs and their names, --json,
folders, parallel runs with a bad file among good ones, exit codes and one-line messages, the
hostile corpus files, never overwriting an input, deterministic bytes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from glbcompress import cli
from glbcompress.engine import pipeline
from glbcompress.engine.options import schema
from glbcompress.engine.reader import read
from glbcompress.engine.report import scene_stats
from tests.fixtures.cli_models import broken_glb, large_textured_box, model_tree, off_flags, unfinished_passes
from tests.fixtures.models import interleaved_gltf, skinned_rig, textured_box, two_uv_sets
from tests.tools import CORPUS, drain, new_errors, validate

COMMAND = shutil.which("glbcompress", path=str(Path(sys.executable).parent))
REPORT_KEYS = {
    "input",
    "output",
    "input_bytes",
    "output_bytes",
    "ratio",
    "scene_before",
    "scene_after",
    "passes",
}


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    if COMMAND is None:
        pytest.skip("the glbcompress command is not installed (pip install -e .)")
    return subprocess.run([COMMAND, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120)


def invoke(*args: str | Path) -> Result:
    """The command run in this process (fast, and monkeypatch reaches it)."""
    return CliRunner().invoke(cli.cli, [str(a) for a in args])


def compress(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`glbcompress compress` with the passes that are not written yet switched off."""
    return run("compress", *args, *off_flags(), cwd=cwd)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def assert_one_line_error(stderr: str, *, code_word: str = "error", about: str | Path | None = None) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith(f"glbcompress: {code_word}: "), stderr
    assert "Traceback" not in stderr
    if about is not None:
        assert str(about) in lines[0]


# --- one file ------------------------------------------------------------------------------------


def test_version_and_generated_flags() -> None:
    version = run("--version")
    assert version.returncode == 0 and version.stdout.startswith("glbcompress ")
    helptext = invoke("compress", "--help").stdout
    for entry in schema():
        flag = "--" + entry["name"].replace("_", "-")
        assert flag in helptext, f"{flag} missing from compress --help"
    assert "--no-quantize" in helptext and "--draco" in helptext


def test_writes_min_glb_next_to_the_input(tmp_path: Path) -> None:
    src = textured_box(tmp_path / "box.glb")
    before = digest(src)
    result = compress(src)
    assert result.returncode == 0, result.stderr
    out = tmp_path / "box.min.glb"
    assert read(out).meshes and scene_stats(read(out)).triangles == 12
    assert digest(src) == before
    assert "box.glb" in result.stdout and "ratio" in result.stdout  # the summary table
    assert result.stderr == ""  # no progress bar when stderr is not a terminal


def test_json_for_one_file_is_one_object(tmp_path: Path) -> None:
    src = skinned_rig(tmp_path / "rig.glb")
    result = compress(src, "-o", tmp_path / "small.glb", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)  # stdout holds the JSON document and nothing else
    assert isinstance(report, dict) and report.keys() >= REPORT_KEYS
    assert report["output"] == str(tmp_path / "small.glb")
    assert report["output_bytes"] == (tmp_path / "small.glb").stat().st_size
    assert report["input_bytes"] == src.stat().st_size
    assert report["scene_after"]["skins"] == 1 and report["scene_after"]["animations"] == 1
    assert report["options"]["preset"] == "balanced"


def test_flags_reach_the_engine(tmp_path: Path) -> None:
    src = textured_box(tmp_path / "box.glb")
    result = compress(src, "--preset", "lossless", "--no-prune", "--json")
    assert result.returncode == 0, result.stderr
    options = json.loads(result.stdout)["options"]
    assert options["preset"] == "lossless" and options["prune"] is False
    assert "prune" not in [p["name"] for p in json.loads(result.stdout)["passes"]]


def test_same_bytes_every_run(tmp_path: Path) -> None:
    src = two_uv_sets(tmp_path / "uv.glb")
    first, second = tmp_path / "a.glb", tmp_path / "b.glb"
    assert compress(src, "-o", first).returncode == 0
    assert compress(src, "-o", second).returncode == 0
    assert first.read_bytes() == second.read_bytes()


def test_output_has_no_new_validator_errors(tmp_path: Path) -> None:
    sources = [textured_box(tmp_path / "box.glb"), skinned_rig(tmp_path / "rig.glb")]
    assert compress(*sources, "-o", tmp_path / "out", "-q").returncode == 0
    outputs = [tmp_path / "out" / src.name for src in sources]
    reports = validate(*sources, *outputs)
    for before, after in zip(reports[: len(sources)], reports[len(sources) :], strict=True):
        assert new_errors(before, after) == {}, after


@pytest.mark.skipif(bool(unfinished_passes()), reason=f"passes not written yet: {unfinished_passes()}")
def test_default_preset_end_to_end(tmp_path: Path) -> None:
    src = skinned_rig(tmp_path / "rig.glb")
    result = run("compress", src, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["output_bytes"] < src.stat().st_size
    before, after = validate(src, tmp_path / "rig.min.glb")
    assert new_errors(before, after) == {}


def _rename_images(src: Path, dst: Path, name: str) -> Path:
    """A copy of a GLB whose images are all called name."""
    data = src.read_bytes()
    size = struct.unpack_from("<I", data, 12)[0]
    doc = json.loads(data[20 : 20 + size])
    for image in doc["images"]:
        image["name"] = name
    chunk = json.dumps(doc).encode()
    chunk += b" " * (-len(chunk) % 4)
    body = struct.pack("<II", len(chunk), 0x4E4F534A) + chunk + data[20 + size :]
    dst.write_bytes(struct.pack("<III", 0x46546C67, 2, 12 + len(body)) + body)
    return dst


def test_list_textures_prints_a_table_per_file(tmp_path: Path) -> None:
    box = textured_box(tmp_path / "box.glb")
    rig = skinned_rig(tmp_path / "rig.glb")
    result = compress(box, rig, "-o", tmp_path / "out", "--list-textures", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary, box_table, rig_table = result.stdout.rstrip("\n").split("\n\n")
    assert summary.splitlines()[0].split() == ["file", "input", "output", "ratio", "triangles", "time"]
    assert rig_table == "rig.glb: no textures"
    title, header, row = box_table.splitlines()
    assert title == "box.glb: textures"
    assert header.split() == ["image", "class", "before", "after", "quality", "SSIM", "PSNR"]
    assert header.index("class") == row.index("colour")  # aligned as the summary is

    # --json prints the JSON document and nothing else; its rows are the ones the table shows.
    as_json = compress(box, "-o", tmp_path / "again.glb", "--list-textures", "--json", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    passes = json.loads(as_json.stdout)["passes"]
    (texture,) = next(p for p in passes if p["name"] == "textures")["changes"]["textures"]
    before, after = texture["before"], texture["after"]
    assert texture["image"] == "images[0] (checker)" and before["format"] == "png"
    assert row.split("  ")[0] == "images[0] (checker)"
    assert f"PNG 64×64, {before['bytes']} B" in row and f"WebP 64×64, {after['bytes']} B" in row
    assert row.split()[-3:] == [f"{texture['ssim']:.5f}", f"{texture['psnr']:.2f}", "dB"]
    assert str(texture["quality"]) in row

    # -q leaves only the texture tables; an image's name cannot drive the terminal.
    named = _rename_images(box, tmp_path / "named.glb", "evil\x1b]0;owned\x07\x1b[2J<b>")
    quiet = compress(named, "-o", tmp_path / "named.min.glb", "-q", "--list-textures", cwd=tmp_path)
    assert quiet.returncode == 0, quiet.stderr
    lines = quiet.stdout.splitlines()
    assert lines[0] == "named.glb: textures" and len(lines) == 3
    assert lines[2].startswith("images[0] (evil\ufffd]0;owned\ufffd\ufffd[2J<b>)  colour  PNG 64×64")
    assert "\x1b" not in quiet.stdout and "\x07" not in quiet.stdout


def test_progress_bar_only_on_a_terminal(tmp_path: Path) -> None:
    pty = pytest.importorskip("pty")
    src = large_textured_box(tmp_path / "large.glb")
    assert src.stat().st_size > cli.LONG_WORK_BYTES
    master, slave = pty.openpty()
    seen: list[bytes] = []
    reader = threading.Thread(target=drain, args=(master, seen))
    reader.start()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "100"}
    result = subprocess.run(
        [COMMAND, "compress", src, *off_flags()], stdout=subprocess.PIPE, stderr=slave, env=env, timeout=120
    )
    os.close(slave)
    reader.join(10)
    os.close(master)
    assert result.returncode == 0
    assert b"1/1 files" in b"".join(seen)  # the bar's last state, drawn on the terminal
    assert b"large.glb" in result.stdout  # the table, on stdout as always


# --- folders and several files -------------------------------------------------------------------


def test_folder_is_searched_recursively(tmp_path: Path) -> None:
    models = model_tree(tmp_path / "in")
    result = compress(tmp_path / "in", "-o", tmp_path / "out", "--json")
    assert result.returncode == 0, result.stderr
    reports = json.loads(result.stdout)
    assert isinstance(reports, list) and len(reports) == len(models)
    for src in models.values():
        out = (tmp_path / "out" / src.relative_to(tmp_path / "in")).with_suffix(".glb")
        assert out.is_file(), f"{out} was not written"
        assert read(out).meshes
    assert [r["input"] for r in reports] == sorted(r["input"] for r in reports)


def test_folder_skips_outputs_of_earlier_runs(tmp_path: Path) -> None:
    model_tree(tmp_path)
    assert compress(tmp_path, "-q").returncode == 0
    written = sorted(tmp_path.rglob("*.min.glb"))
    assert len(written) == 7
    assert compress(tmp_path, "-q").returncode == 0
    assert sorted(tmp_path.rglob("*.min.glb")) == written  # no .min.min.glb


def test_parallel_run_with_one_bad_file(tmp_path: Path) -> None:
    good = [
        textured_box(tmp_path / "a.glb"),
        skinned_rig(tmp_path / "b.glb"),
        two_uv_sets(tmp_path / "c.glb"),
    ]
    bad = broken_glb(tmp_path / "bad.glb")
    result = compress(*good[:2], bad, good[2], "-j", "2", "-o", tmp_path / "out", "--json")
    assert result.returncode == 2
    assert_one_line_error(result.stderr, about=bad)
    reports = json.loads(result.stdout)
    assert [r["input"] for r in reports] == [str(p) for p in [*good[:2], bad, good[2]]]
    assert reports[2]["error"]["kind"] == "invalid-model" and reports[2]["output"] is None
    for src in good:
        assert read(tmp_path / "out" / src.name).meshes
    assert not (tmp_path / "out" / "bad.glb").exists()


def test_parallel_and_serial_give_the_same_bytes(tmp_path: Path) -> None:
    model_tree(tmp_path / "in")
    assert compress(tmp_path / "in", "-o", tmp_path / "serial", "-j", "1", "-q").returncode == 0
    assert compress(tmp_path / "in", "-o", tmp_path / "parallel", "-j", "2", "-q").returncode == 0
    serial = sorted(p.relative_to(tmp_path / "serial") for p in (tmp_path / "serial").rglob("*.glb"))
    assert serial == sorted(
        p.relative_to(tmp_path / "parallel") for p in (tmp_path / "parallel").rglob("*.glb")
    )
    for relative in serial:
        assert (tmp_path / "serial" / relative).read_bytes() == (
            tmp_path / "parallel" / relative
        ).read_bytes()


# --- never overwrite, never collide --------------------------------------------------------------


def test_never_overwrites_the_input(tmp_path: Path) -> None:
    src = textured_box(tmp_path / "box.glb")
    before = digest(src)
    for output in (tmp_path, src):  # -o the input's own folder, or the input itself
        result = compress(src, "-o", output)
        assert result.returncode == 2
        assert_one_line_error(result.stderr, about=src)
        assert "overwrite" in result.stderr
    assert digest(src) == before


def test_two_inputs_never_share_an_output(tmp_path: Path) -> None:
    textured_box(tmp_path / "model.glb")
    interleaved_gltf(tmp_path / "model.gltf")
    other = skinned_rig(tmp_path / "other.glb")
    result = compress(tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2 and all("model.min.glb" in line for line in lines), result.stderr
    assert not (tmp_path / "model.min.glb").exists()
    assert read(other.with_name("other.min.glb")).skins  # the others are still compressed


# --- bad input, bad options, internal errors -----------------------------------------------------


@pytest.mark.parametrize(
    ("args", "about"),
    [
        (["missing.glb"], "missing.glb"),
        (["{box}", "--position-bits", "many"], "--position-bits"),
        (["{box}", "--position-bits", "40"], "position_bits"),
        (["{box}", "--no-such-flag"], "--no-such-flag"),
        (["{box}", "--meshopt", "--draco"], "--draco"),
        (["{box}", "--no-quantize", "--position-bits", "12"], "--position-bits"),
        (["{box}", "{box}", "-o", "out.glb"], "-o"),
        (["{box}", "-o", "out.gltf"], ".glb"),
        (["{box}", "--preset", "tiny"], "tiny"),
        ([], "INPUTS"),
    ],
)
def test_bad_input_or_options_exit_2_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], about: str
) -> None:
    box = textured_box(tmp_path / "box.glb")
    monkeypatch.chdir(tmp_path)
    result = invoke("compress", *[a.format(box=box) for a in args])
    assert result.exit_code == 2, result.output
    assert_one_line_error(result.stderr, about=about)
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["box.glb"]  # nothing written


def test_installed_command_exits_2_with_one_line(tmp_path: Path) -> None:
    for args, about in (
        ([tmp_path / "missing.glb"], "missing.glb"),
        (["--position-bits", "many"], "--position-bits"),
    ):
        result = run("compress", *args)
        assert result.returncode == 2, result
        assert_one_line_error(result.stderr, about=about)
        assert result.stdout == ""


def test_json_reports_a_failed_file_too(tmp_path: Path) -> None:
    bad = broken_glb(tmp_path / "bad.glb")
    result = compress(bad, "--json")
    assert result.returncode == 2
    assert_one_line_error(result.stderr, about=bad)
    assert json.loads(result.stdout) == {
        "input": str(bad),
        "output": None,
        "error": {"kind": "invalid-model", "message": json.loads(result.stdout)["error"]["message"]},
    }


def test_internal_error_exits_1_and_debug_shows_the_traceback(tmp_path: Path, monkeypatch) -> None:
    src = textured_box(tmp_path / "box.glb")

    def broken(*args, **kwargs):
        raise ZeroDivisionError("deliberately broken for this test")

    monkeypatch.setattr(pipeline, "compress", broken)
    result = invoke("compress", src)
    assert result.exit_code == 1
    assert_one_line_error(result.stderr, code_word="internal error", about=src)
    assert "ZeroDivisionError" in result.stderr and "--debug" in result.stderr
    debug = invoke("compress", src, "--debug")
    assert debug.exit_code == 1
    assert "Traceback" in debug.stderr and "deliberately broken" in debug.stderr
    assert not list(tmp_path.glob("*.min.glb")) and not list(tmp_path.glob(".*"))


def test_internal_error_outranks_bad_input(tmp_path: Path, monkeypatch) -> None:
    src = textured_box(tmp_path / "box.glb")
    monkeypatch.setattr(pipeline, "compress", lambda *a, **k: 1 / 0)
    result = invoke("compress", src, tmp_path / "missing.glb", "-j", "1")
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 2


def test_hostile_corpus_files_exit_2_with_one_line_each(tmp_path: Path) -> None:
    invalid = CORPUS / "invalid"
    if not invalid.is_dir():
        pytest.skip(f"{invalid} is absent")
    files = sorted(p for p in invalid.rglob("*") if p.suffix in (".glb", ".gltf"))
    result = compress(invalid, "-o", tmp_path, "-j", "2", "--json")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    reports = {r["input"]: r for r in json.loads(result.stdout)}
    assert sorted(reports) == sorted(map(str, files))
    for path in files:
        mine = [line for line in lines if line.startswith(f"glbcompress: error: {path}: ")]
        assert len(mine) == 1, f"{path}: expected one error line, got {mine}"
        assert reports[str(path)]["error"]["kind"] in {"invalid-model", "unsupported-model", "limit-exceeded"}
    assert len(lines) == len(files)
    assert not list(tmp_path.rglob("*.glb"))


# --- presets and options -------------------------------------------------------------------------


def test_presets_command() -> None:
    data = json.loads(invoke("presets", "--json").stdout)
    assert list(data) == ["lossless", "balanced", "max"]
    assert (
        data["lossless"]["options"]["quantize"] is False and data["balanced"]["options"]["quantize"] is True
    )
    table = invoke("presets")
    assert table.exit_code == 0 and "balanced" in table.stdout and "--position-bits" in table.stdout


def test_options_command() -> None:
    data = json.loads(invoke("options", "--json").stdout)
    assert [e["name"] for e in data] == [e["name"] for e in schema()]
    table = invoke("options")
    assert table.exit_code == 0 and "--position-bits" in table.stdout


def test_flag_order_does_not_matter() -> None:
    a = cli.options_from_flags("balanced", {"draco": True, "draco_position_bits": 12})
    b = cli.options_from_flags("balanced", {"draco_position_bits": 12, "draco": True})
    assert a == b and a.draco is not None and a.draco.draco_position_bits == 12 and a.meshopt is None


# --- a plain compress command line, read without click -------------------------------------------

PLAIN = [
    ["{box}"],
    ["{box}", "-o", "{out}", "--preset", "balanced", "--no-textures", "--json"],
    ["{box}", "--output", "{out}", "-p", "max", "-q", "--debug", "-j", "2", "--jobs", "3", "--list-textures"],
    ["-o", "{out}", "{box}", "--position-bits", "12", "{box}", "--quiet"],
    ["{box}", "--resample-tolerance", "1e-3", "--texture-format", "webp", "--quantize", "--no-quantize"],
    ["{box}", "--draco", "--draco-position-bits", " 14 ", "--no-meshopt", "-o", "missing/dir"],
]
FOR_CLICK = [
    ["{box}", "--output={out}"],
    ["{box}", "-qo", "{out}"],
    ["{box}", "-o"],
    ["{box}", "-o", "-"],
    ["{box}", "--position-bits", "-3"],
    ["{box}", "--position-bits", "many"],
    ["{box}", "--texture-format", "gif"],
    ["{box}", "--preset", "tiny"],
    ["{box}", "-j", "0"],
    ["{box}", "--no-such-flag"],
    ["{box}", "--help"],
    ["--", "{box}"],
    ["-"],
    [""],
    [],
]


def _words(args: list[str], tmp_path: Path) -> list[str]:
    box = textured_box(tmp_path / "box.glb")
    return [a.format(box=box, out=tmp_path / "out.glb") for a in args]


@pytest.mark.parametrize("args", PLAIN)
def test_plain_compress_lines_are_read_as_click_reads_them(tmp_path: Path, args: list[str]) -> None:
    from glbcompress import commands

    words = _words(args, tmp_path)
    ctx = commands.compress.make_context("compress", list(words))
    params = dict(ctx.params)
    keys = ("inputs", "output", "preset", "as_json", "jobs", "quiet", "list_textures")
    expected = {key: params.pop(key) for key in keys}
    expected |= {"debug": bool(ctx.meta.get(commands.DEBUG_KEY)), "flags": params}
    assert cli.fast_compress_args(["compress", *words]) == expected


@pytest.mark.parametrize("args", FOR_CLICK)
def test_other_compress_lines_are_left_to_click(tmp_path: Path, args: list[str]) -> None:
    assert cli.fast_compress_args(["compress", *_words(args, tmp_path)]) is None


def test_only_the_compress_command_is_read_without_click(tmp_path: Path) -> None:
    box = str(textured_box(tmp_path / "box.glb"))
    for words in (["--debug", "compress", box], ["remote", "compress", box], ["presets"], []):
        assert cli.fast_compress_args(words) is None


def test_the_plain_reading_knows_every_flag_of_the_command() -> None:
    import click

    from glbcompress import commands

    params = [p for p in commands.compress.params if isinstance(p, click.Option)]
    flags = {word for p in params for word in (*p.opts, *p.secondary_opts)}
    assert flags == set(cli._COMPRESS_OPTIONS) | set(cli._engine_flags())


def test_a_bug_reads_the_same_on_both_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An exception escaping the command: one line and exit 1, from the click group or without it."""
    from glbcompress import batch

    src = textured_box(tmp_path / "box.glb")
    monkeypatch.setattr(batch, "plan", lambda *a, **k: 1 / 0)
    assert cli.run(["compress", str(src)]) == 1
    plain = capsys.readouterr()
    clicked = invoke("compress", src)
    assert (plain.out, plain.err) == (clicked.stdout, clicked.stderr)
    assert clicked.exit_code == 1
    assert_one_line_error(plain.err, code_word="internal error", about="ZeroDivisionError")
    assert cli.run(["compress", str(src), "--debug"]) == 1
    assert "Traceback" in capsys.readouterr().err
