"""``glbcompress remote`` against the real server on loopback: a folder in batch with a summary
table and the exit code of its worst file, the key from the environment or a file (never an
argument), one-line errors, a batch stopped by a refusal every file would meet, progress bars on
a terminal, and start-up that does not load the HTTP library."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from glbcompress import cli
from tests.fixtures.cli_models import large_textured_box, model_tree
from tests.fixtures.models import skinned_rig, textured_box
from tests.tools import drain

from .conftest import Live
from .scripted_server import Reply, ScriptedServer

COMMAND = shutil.which("glbcompress", path=str(Path(sys.executable).parent))


def remote(live: Live | None, *args: str | Path, key: str | None = None, url: str | None = None) -> Result:
    """`glbcompress remote ...` run in this process, with the key in the environment."""
    env = {
        "GLBCOMPRESS_API_KEY": key if key is not None else (live.key if live else ""),
        "GLBCOMPRESS_URL": None,
    }
    server = ["--server", url or live.url] if (url or live) and args[0] != "--help" else []
    command, *rest = [str(a) for a in args]
    return CliRunner().invoke(cli.cli, ["remote", command, *server, *rest], env=env)


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.strip()]


def test_a_folder_in_batch(live: Live, tmp_path: Path) -> None:
    placed = model_tree(tmp_path / "in")
    broken = tmp_path / "in" / "nested" / "broken.glb"
    broken.write_bytes(placed["textured_box.glb"].read_bytes()[:100])
    result = remote(
        live, "compress", tmp_path / "in", "-o", tmp_path / "out", "--concurrency", "3", "-p", "max"
    )
    assert result.exit_code == 2, result.output
    for name, src in placed.items():
        relative = src.relative_to(tmp_path / "in")
        out = tmp_path / "out" / relative.with_name(relative.stem + ".glb")
        assert out.read_bytes()[:4] == b"glTF", name
        assert name in result.stdout  # a row of the summary table
    assert not (tmp_path / "out" / "nested" / "broken.glb").exists()
    assert error_lines(result) == [error_lines(result)[0]]
    assert error_lines(result)[0].startswith(f"glbcompress: error: {broken}: ")
    assert "Traceback" not in result.output
    assert "total" in result.stdout and f"1 of {len(placed) + 1} files failed" in result.stdout


def test_json_and_exit_code_zero(live: Live, tmp_path: Path) -> None:
    src = textured_box(tmp_path / "box.glb")
    result = remote(live, "compress", src, "--json", "--position-bits", "12")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["input"] == str(src) and entry["output"] == str(tmp_path / "box.min.glb")
    assert entry["input_bytes"] == src.stat().st_size
    assert entry["output_bytes"] == (tmp_path / "box.min.glb").stat().st_size
    assert entry["job_id"] and entry["compression_ratio"] > 0


@pytest.mark.parametrize("answer", ["at once", "as a job"])
def test_list_textures_prints_the_tables_of_the_local_command(serve, tmp_path: Path, answer: str) -> None:
    live = serve(sync_max_mb=0) if answer == "as a job" else serve()  # 202 with a job, or the GLB
    box = textured_box(tmp_path / "box.glb")
    rig = skinned_rig(tmp_path / "rig.glb")
    result = remote(live, "compress", box, rig, "-o", tmp_path / "out", "--list-textures")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    summary, box_table, rig_table = result.stdout.rstrip("\n").split("\n\n")
    assert ["file", "input", "output", "ratio", "time"] in [line.split() for line in summary.splitlines()]
    assert rig_table == "rig.glb: no textures"
    title, header, row = box_table.splitlines()
    assert title == "box.glb: textures"
    assert header.split() == ["image", "class", "before", "after", "quality", "SSIM", "PSNR"]
    assert row.startswith("images[0] (checker)  colour  PNG 64×64, ")
    assert "WebP 64×64, " in row and row.endswith(" dB")

    # The local command's table for the same file and preset: the same rows, the same layout.
    local = CliRunner().invoke(
        cli.cli, ["compress", str(box), "-o", str(tmp_path / "local.glb"), "-q", "--list-textures"]
    )
    assert local.exit_code == 0, local.output
    assert local.stdout.rstrip("\n") == box_table

    # --json prints the JSON document and nothing else; -q leaves only the tables.
    as_json = remote(live, "compress", box, "-o", tmp_path / "again.glb", "--list-textures", "--json")
    assert as_json.exit_code == 0, as_json.output
    (entry,) = json.loads(as_json.stdout)
    assert entry["output"] == str(tmp_path / "again.glb")
    assert as_json.stdout == json.dumps([entry], indent=2) + "\n"
    quiet = remote(live, "compress", box, "-o", tmp_path / "quiet.glb", "-q", "--list-textures")
    assert quiet.exit_code == 0, quiet.output
    assert quiet.stdout.rstrip("\n") == box_table


def test_the_key_from_a_file_and_never_as_an_argument(live: Live, tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(live.key + "\n")
    key_file.chmod(0o600)
    result = remote(live, "account", "--api-key-file", key_file, key="")
    assert result.exit_code == 0, result.output
    assert "sdk tests" in result.stdout and result.stderr == ""
    key_file.chmod(0o644)
    shared = remote(live, "account", "--api-key-file", key_file, key="")
    assert shared.exit_code == 0 and "can be read by other users" in shared.stderr
    missing = remote(live, "compress", tmp_path, key="")
    assert missing.exit_code == 2 and "GLBCOMPRESS_API_KEY" in missing.stderr
    assert len(error_lines(missing)) == 1
    nofile = remote(live, "account", "--api-key-file", tmp_path / "nope", key="")
    assert nofile.exit_code == 2 and "no such file" in nofile.stderr
    bare = remote(live, "compress", tmp_path, "--api-key", live.key)
    assert bare.exit_code == 2 and "No such option" in bare.stderr


@pytest.mark.parametrize("refusal", ["revoked key", "bad option"])
def test_a_refusal_every_file_would_meet_stops_the_batch(live: Live, tmp_path: Path, refusal: str) -> None:
    for i in range(5):
        textured_box(tmp_path / f"m{i}.glb")
    flags = ["--position-bits", "40"] if refusal == "bad option" else []
    if refusal == "revoked key":
        live.revoke()
    result = remote(live, "compress", tmp_path, "--concurrency", "1", *flags)
    assert result.exit_code == 2, result.output
    lines = error_lines(result)
    assert len(lines) == 2, lines
    assert ("revoked" if refusal == "revoked key" else "position_bits") in lines[0]
    assert lines[1] == "glbcompress: error: 4 more file(s) not sent (see the error above)"
    assert not list(tmp_path.glob("*.min.glb"))


def test_an_unreachable_server_is_exit_1(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    src = textured_box(tmp_path / "box.glb")
    result = CliRunner().invoke(
        cli.cli,
        ["remote", "compress", str(src), "--server", url],
        env={"GLBCOMPRESS_API_KEY": "glbc_whatever"},
    )
    assert result.exit_code == 1, result.output
    assert error_lines(result) == [
        f"glbcompress: error: {src}: cannot reach {url}: [Errno 111] Connection refused"
    ]


def test_progress_bars_on_a_terminal(live: Live, tmp_path: Path) -> None:
    pty = pytest.importorskip("pty")
    if COMMAND is None:
        pytest.skip("the glbcompress command is not installed (pip install -e .)")
    src = large_textured_box(tmp_path / "large.glb")
    master, slave = pty.openpty()
    seen: list[bytes] = []
    reader = threading.Thread(target=drain, args=(master, seen))
    reader.start()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "GLBCOMPRESS_API_KEY": live.key}
    result = subprocess.run(
        [COMMAND, "remote", "compress", src, "--server", live.url, "-o", tmp_path / "out"],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
        timeout=300,
    )
    os.close(slave)
    reader.join(10)
    os.close(master)
    drawn = b"".join(seen)
    assert result.returncode == 0, drawn.decode(errors="replace")
    # A file's bar with its stage (which stages a frame catches depends on the machine's speed),
    # then the batch done.
    assert re.search(rb"large\.glb.*(uploading|queued|compressing|downloading)", drawn), drawn
    assert b"1/1" in drawn
    assert b"large.glb" in result.stdout  # the table, on stdout
    assert (tmp_path / "out" / "large.glb").exists()


@pytest.mark.parametrize(
    "code", ["import glbcompress", "import glbcompress.cli", "import glbcompress.client"]
)
def test_start_up_does_not_load_the_http_library(code: str) -> None:
    script = f"{code}\nimport sys\nprint(sorted(m for m in sys.modules if m.startswith(('httpx', 'rich'))))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_at_once_even_while_waiting_for_the_server(tmp_path: Path) -> None:
    if COMMAND is None:
        pytest.skip("the glbcompress command is not installed (pip install -e .)")
    for i in range(3):
        textured_box(tmp_path / f"m{i}.glb")
    with ScriptedServer([Reply(200, b"", delay=60)] * 3) as server:
        env = {**os.environ, "GLBCOMPRESS_API_KEY": "glbc_whatever"}
        process = subprocess.Popen(
            [COMMAND, "remote", "compress", tmp_path, "--server", server.url, "-c", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            # As from a terminal: a suite started in the background (a shell's `cmd &`) ignores
            # SIGINT, and a child inherits that, so Ctrl-C would never reach the command.
            preexec_fn=_default_sigint,
        )
        deadline = time.monotonic() + 60
        while len(server.requests) < 2 and time.monotonic() < deadline:  # two uploads in, both waiting
            time.sleep(0.05)
        assert len(server.requests) == 2
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    assert time.monotonic() - interrupted < 10
    assert process.returncode == 130, stderr
    assert stderr.decode().strip().splitlines()[-1] == "glbcompress: interrupted"
    assert b"Traceback" not in stderr
    assert len(server.requests) == 2  # the third file was never sent


def test_a_warning_when_the_key_would_cross_the_network_unencrypted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from glbcompress.client.commands import warn_if_unencrypted

    for safe in (
        "https://glb.example.com",
        "http://127.0.0.1:8000",
        "http://localhost:8000",
        "http://[::1]:80",
    ):
        warn_if_unencrypted(safe)
    assert capsys.readouterr().err == ""
    warn_if_unencrypted("http://glb.example.com:8000")
    assert "unencrypted" in capsys.readouterr().err
