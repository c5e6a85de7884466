"""The dashboard's job endpoints, History and Usage over HTTP through the real app, on SQLite and
PostgreSQL: upload → progress → result → download; every refusal a clear 4xx; accounts see only
their own jobs; removal keeps the usage figures; per-day, per-source and per-key usage."""

from __future__ import annotations

import json
import re
import zipfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

import glbcompress
from glbcompress.service.auth import api_keys
from glbcompress.service.db import ApiKey, Job, JobSource, User, utcnow
from glbcompress.service.jobs import usage
from glbcompress.service.settings import Settings
from glbcompress.service.web.compress import VIEWER_CSP
from glbcompress.service.web.figures import format_ratio, format_size, step_label, texture_rows
from glbcompress.service.web.options_panel import NOT_IN_JOBS
from tests.fixtures.models import generate_all

from .conftest import make_settings, running_app
from .support import csrf_token, sign_up, wait_for

JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return generate_all(tmp_path_factory.mktemp("models"))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with running_app(settings) as client:
        assert sign_up(client, "ada@example.com").status_code == 303
        yield client


def upload(client: TestClient, body: bytes, name: str, token: str | None = None, **params: str):
    token = token if token is not None else csrf_token(client, "/compress")
    query = "&".join(f"{k}={quote(v)}" for k, v in {"name": name, **params}.items())
    return client.post(f"/jobs?{query}", content=body, headers={"X-CSRF-Token": token, **JSON})


def finished(client: TestClient, job_id: str) -> dict:
    jobs = client.app.state.services.jobs
    wait_for(jobs, job_id)
    return client.get(f"/jobs/{job_id}", headers=JSON).json()


def user_id(client: TestClient, email: str = "ada@example.com") -> int:
    from sqlalchemy import select

    with client.app.state.services.db.session() as session:
        return session.scalar(select(User.id).where(User.email == email))


def test_upload_progress_result_download(client: TestClient, models: dict[str, Path], tmp_path: Path) -> None:
    source = models["textured_box.glb"]
    created = upload(client, source.read_bytes(), "modèle ü.glb", preset="max")
    assert created.status_code == 201, created.text
    job = created.json()
    assert created.headers["location"] == f"/jobs/{job['id']}"
    assert job["status"] == "queued" and job["filename"] == "modèle ü.glb" and job["source"] == "Dashboard"

    done = finished(client, job["id"])
    expected = glbcompress.compress(source, tmp_path / "expected.glb", preset="max")
    assert done["status"] == "succeeded" and done["progress"] == 1.0
    report = done["report"]
    assert report["input_bytes"] == expected.input_bytes == job["input_bytes"]
    assert report["output_bytes"] == expected.output_bytes
    assert report["saved"] == format_ratio(expected.input_bytes, expected.output_bytes)
    assert report["output_size"] == format_size(expected.output_bytes)
    assert report["triangles_before"] == report["triangles_after"] == 12
    assert report["bytes_before"]["total"] == expected.input_bytes
    assert {row["label"] for row in report["fidelity"]} >= {"Largest position error"}
    assert report["textures"] == texture_rows(expected.as_dict())
    assert [(row["image"], row["class"]) for row in report["textures"]] == [("images[0] (checker)", "colour")]
    assert done["options"] == {"preset": "max", "options": {}}

    result = client.get(done["download_url"])
    assert result.status_code == 200
    assert result.content == (tmp_path / "expected.glb").read_bytes()
    assert result.headers["content-type"] == "model/gltf-binary"
    assert result.headers["content-length"] == str(expected.output_bytes)
    disposition = result.headers["content-disposition"]
    assert disposition == (
        "attachment; filename=\"mod_le _-compressed.glb\"; filename*=UTF-8''mod%C3%A8le%20%C3%BC-compressed.glb"
    )


def test_refusals_are_clear_4xx(client: TestClient, models: dict[str, Path], settings: Settings) -> None:
    glb = models["textured_box.glb"].read_bytes()

    def problem(response, status: int, *words: str) -> None:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        detail = response.json()["detail"]
        for word in words:
            assert word in detail, detail

    problem(upload(client, glb, "chair.obj"), 415, "“chair.obj” is a .obj file", ".glb", ".zip")
    problem(upload(client, glb, "README"), 415, "without an extension")
    problem(upload(client, glb, "x.glb", token="forged"), 403, "expired")
    problem(upload(client, b"", "x.glb"), 400, "is empty")
    problem(
        upload(client, glb, "x.glb", options='{"position_bits": 99}'),
        400,
        "'position_bits'",
        "between 1 and 16",
    )
    problem(
        upload(client, glb, "x.glb", options='{"no_such_option": 1}'), 400, "Unknown option 'no_such_option'"
    )
    problem(upload(client, glb, "x.glb", options="[1, 2]"), 400, "JSON object")
    problem(
        upload(client, glb, "x.glb", options='{"lods": "1,0.5", "lod_files": true}'),
        400,
        "command line only",
        "one GLB",
    )
    problem(upload(client, glb, "x.glb", options="{oops"), 400, "not valid JSON")
    problem(upload(client, glb, "x.glb", preset="fastest"), 400, "Unknown preset 'fastest'")
    problem(client.get("/jobs/" + "0" * 32, headers=JSON), 404, "no such job")
    problem(client.get("/jobs/" + "0" * 32 + "/download", headers=JSON), 404, "no such job")
    assert client.app.state.services.jobs.list(user_id(client)) == []  # nothing was queued

    # Logged out: the page's scripts get a 401 problem (not a redirect to an HTML page).
    with running_app(settings) as anonymous:
        problem(anonymous.post("/jobs?name=x.glb", content=glb, headers=JSON), 401, "Log in again")
        problem(anonymous.get("/jobs/abc", headers=JSON), 401, "Log in again")
        page = anonymous.get("/compress", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/login")


def test_too_large_is_refused_before_it_is_stored(tmp_path: Path, models: dict[str, Path]) -> None:
    from glbcompress.service.db import migrate

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'small.db'}", max_upload_mb=0.001)
    migrate.upgrade(settings.database_url)
    with running_app(settings) as client:
        sign_up(client, "ada@example.com")
        page = client.get("/compress").text
        assert 'data-max-size="1.02 kB"' in page and "At most 1.02 kB per model" in page
        response = upload(client, models["skinned_rig.glb"].read_bytes(), "rig.glb")
        assert response.status_code == 413
        assert response.json()["detail"] == "The file is larger than the 1.02 kB limit."
        assert list(client.app.state.services.storage.list_keys("jobs")) == []


def test_failures_are_explained_without_internals(
    client: TestClient, models: dict[str, Path], tmp_path: Path
) -> None:
    broken = upload(client, b"hello, not a model", "broken.glb").json()
    lonely = upload(client, models["interleaved.gltf"].read_bytes(), "lonely.gltf").json()
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(models["textured_box.glb"], "a.glb")
        z.write(models["skinned_rig.glb"], "b.glb")
    two = upload(client, archive.read_bytes(), "two.zip").json()
    required = {
        "asset": {"version": "2.0"},
        "extensionsUsed": ["VENDOR_magic"],
        "extensionsRequired": ["VENDOR_magic"],
        "scenes": [{"nodes": []}],
    }
    extension = upload(client, json.dumps(required).encode(), "magic.gltf").json()
    messages = {
        extension["id"]: "The model requires the extension VENDOR_magic, which glbcompress cannot process.",
        broken["id"]: "This is not a glTF model",
        lonely["id"]: "'box data #1.bin' is missing (upload it together with the .gltf)",
        two["id"]: "The zip holds 2 models (a.glb, b.glb); put one model in each zip.",
    }
    for job_id, message in messages.items():
        job = finished(client, job_id)
        assert job["status"] == "failed" and message in job["error"], job["error"]
        assert job["download_url"] is None and job["report"] is None
    conflict = client.get(f"/jobs/{broken['id']}/download", headers=JSON)
    assert conflict.status_code == 409 and "no result" in conflict.json()["detail"]


def test_a_gltf_with_its_files_as_a_zip(client: TestClient, models: dict[str, Path], tmp_path: Path) -> None:
    """What the page sends for a .gltf dropped with its files: a stored zip under the .gltf's name."""
    folder = models["interleaved.gltf"].parent
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.write(models["interleaved.gltf"], "interleaved.gltf")
        z.write(folder / "box data #1.bin", "box data #1.bin")
    job = finished(client, upload(client, archive.read_bytes(), "interleaved.gltf").json()["id"])
    assert job["status"] == "succeeded", job["error"]
    assert job["filename"] == "interleaved.gltf"
    glbcompress.compress(models["interleaved.gltf"], tmp_path / "expected.glb")
    assert client.get(job["download_url"]).content == (tmp_path / "expected.glb").read_bytes()


def test_accounts_see_only_their_own_jobs(settings: Settings, models: dict[str, Path]) -> None:
    with running_app(settings) as ada:
        sign_up(ada, "ada@example.com")
        job = finished(
            ada, upload(ada, models["textured_box.glb"].read_bytes(), "secret-name.glb").json()["id"]
        )
        with running_app(settings) as bob:
            sign_up(bob, "bob@example.com")
            assert bob.get(f"/jobs/{job['id']}", headers=JSON).status_code == 404
            assert bob.get(job["download_url"], headers=JSON).status_code == 404
            token = csrf_token(bob, "/history")
            removal = bob.post(f"/history/{job['id']}/remove", data={"csrf_token": token}, headers=JSON)
            assert removal.status_code == 404
            assert "secret-name" not in bob.get("/history").text
            assert re.search(r'id="usage-total">.*?<td class="num">0</td>', bob.get("/usage").text, re.S)
        assert ada.get(job["download_url"]).status_code == 200


def test_expired_results_are_gone_with_a_message(client: TestClient, models: dict[str, Path]) -> None:
    job = finished(client, upload(client, models["textured_box.glb"].read_bytes(), "old.glb").json()["id"])
    services = client.app.state.services
    with services.db.session() as session, session.begin():
        session.execute(
            update(Job).where(Job.id == job["id"]).values(expires_at=utcnow() - timedelta(minutes=1))
        )
    gone = client.get(job["download_url"], headers=JSON)
    assert gone.status_code == 410 and "expired" in gone.json()["detail"]
    services.jobs.sweep()
    row = client.get("/history").text
    assert "old.glb" in row and "expired" in row and f"/jobs/{job['id']}/download" not in row
    assert client.get(f"/jobs/{job['id']}", headers=JSON).json()["download_url"] is None


def _history_rows(client: TestClient, query: str = "") -> list[str]:
    page = client.get(f"/history{query}")
    assert page.status_code == 200
    return re.findall(r'<td class="file">([^<]*)</td>', page.text)


def test_history_lists_filters_and_removes(
    client: TestClient, models: dict[str, Path], tmp_path: Path
) -> None:
    services = client.app.state.services
    uid = user_id(client)
    glb = models["textured_box.glb"]
    ok = [
        finished(client, upload(client, glb.read_bytes(), name).json()["id"])
        for name in ("a_1.glb", "b%2.glb")
    ]
    bad = finished(client, upload(client, b"nope", "broken.glb").json()["id"])
    key = api_keys.create_key(services.db, uid, "build <script>").row
    by_key = services.jobs.submit_file(
        glb, user_id=uid, source=JobSource.API, filename="from-api.glb", api_key_id=key.id
    )
    wait_for(services.jobs, by_key.id)

    assert _history_rows(client) == ["from-api.glb", "broken.glb", "b%2.glb", "a_1.glb"]  # newest first
    page = client.get("/history").text
    assert "API key “build &lt;script&gt;”" in page and "<script>" not in page.split("</header>")[1]
    assert _history_rows(client, "?q=_") == ["a_1.glb"]  # LIKE wildcards are literal
    assert _history_rows(client, "?q=%25") == ["b%2.glb"]
    assert _history_rows(client, "?status=failed") == ["broken.glb"]
    assert _history_rows(client, "?source=dashboard&status=done") == ["b%2.glb", "a_1.glb"]
    assert _history_rows(client, "?source=api") == ["from-api.glb"]
    assert _history_rows(client, f"?source=key-{key.id}") == ["from-api.glb"]
    everything = _history_rows(client)
    assert _history_rows(client, "?source=key-999999&status=bogus") == everything  # unknown: ignored
    assert "No job matches these filters" in client.get("/history?q=zzz").text
    assert bad["error"] in page  # the failure's message, in the row

    before = usage.totals(services.db, uid)
    token = csrf_token(client, "/history")
    forged = client.post(f"/history/{ok[0]['id']}/remove", data={"csrf_token": "x"}, follow_redirects=False)
    assert forged.status_code == 403
    removed = client.post(
        f"/history/{ok[0]['id']}/remove",
        data={"csrf_token": token, "back": "?status=done"},
        follow_redirects=False,
    )
    assert removed.status_code == 303 and removed.headers["location"] == "/history?status=done&removed=1"
    assert "a_1.glb" not in _history_rows(client)
    assert "was removed from your history" in client.get(removed.headers["location"]).text
    assert list(services.storage.list_keys(f"jobs/{ok[0]['id']}")) == []
    assert client.get(f"/jobs/{ok[0]['id']}", headers=JSON).status_code == 404
    assert client.get(ok[0]["download_url"], headers=JSON).status_code == 404
    again = client.post(f"/history/{ok[0]['id']}/remove", data={"csrf_token": token}, headers=JSON)
    assert again.status_code == 404
    assert usage.totals(services.db, uid) == before  # removed jobs still count


def test_history_names_the_key_of_api_jobs(client: TestClient, models: dict[str, Path]) -> None:
    """Jobs sent through the REST API show their key, also once it is revoked or expired, and say
    so when the key's row is gone."""
    services = client.app.state.services
    db, uid = services.db, user_id(client)
    keys = {name: api_keys.create_key(db, uid, name).row for name in ("ci", "old", "temp", "gone")}
    jobs = {
        name: services.jobs.submit_file(
            models["textured_box.glb"],
            user_id=uid,
            source=JobSource.API,
            filename=f"{name}.glb",
            api_key_id=key.id,
        )
        for name, key in keys.items()
    }
    for job in jobs.values():
        wait_for(services.jobs, job.id)
    api_keys.revoke_key(db, uid, keys["old"].id)
    with db.session() as session, session.begin():
        session.execute(
            update(ApiKey)
            .where(ApiKey.id == keys["temp"].id)
            .values(expires_at=utcnow() - timedelta(hours=1))
        )
        session.execute(update(Job).where(Job.id == jobs["gone"].id).values(api_key_id=None))

    page = client.get("/history").text
    sources = dict(
        re.findall(r'<td class="file">([^<]*)</td>\s*<td><time[^>]*>.*?</time></td>\s*<td>([^<]*)</td>', page)
    )
    assert sources == {
        "ci.glb": "API key “ci”",
        "old.glb": "API key “old” (revoked)",
        "temp.glb": "API key “temp” (expired)",
        "gone.glb": "API (key deleted)",
    }
    assert f'<option value="key-{keys["old"].id}">API key “old” (revoked)</option>' in page
    assert _history_rows(client, f"?source=key-{keys['old'].id}") == ["old.glb"]
    assert client.get(f"/jobs/{jobs['old'].id}", headers=JSON).json()["source"] == "API key “old” (revoked)"


def test_history_pages(settings: Settings, models: dict[str, Path]) -> None:
    from glbcompress.service.web import history

    # More jobs than an account may have queued at once, submitted at once: no such quota here.
    with running_app(settings.model_copy(update={"max_active_jobs_per_account": 0})) as client:
        assert sign_up(client, "ada@example.com").status_code == 303
        services = client.app.state.services
        uid = user_id(client)
        for i in range(history.PAGE_SIZE + 3):
            services.jobs.submit_file(
                models["textured_box.glb"], user_id=uid, source=JobSource.DASHBOARD, filename=f"m{i:03}.glb"
            )
        first = client.get("/history").text
        assert len(re.findall(r'<td class="file">', first)) == history.PAGE_SIZE
        assert 'href="/history?page=2" rel="next"' in first
        second = _history_rows(client, "?page=2")
        assert second == ["m002.glb", "m001.glb", "m000.glb"]
        assert 'href="/history" rel="prev"' in client.get("/history?page=2").text


def test_usage_per_day_source_and_key(client: TestClient, models: dict[str, Path]) -> None:
    services = client.app.state.services
    db, uid = services.db, user_id(client)
    new_key = api_keys.create_key(db, uid, "ci")
    key = new_key.row
    glb = models["textured_box.glb"]
    jobs = [
        services.jobs.submit_file(glb, user_id=uid, source=JobSource.DASHBOARD),
        services.jobs.submit_file(glb, user_id=uid, source=JobSource.API, api_key_id=key.id),
        services.jobs.submit_file(glb, user_id=uid, source=JobSource.API, api_key_id=key.id),
    ]
    for job in jobs:
        wait_for(services.jobs, job.id)
    failed = finished(client, upload(client, b"nope", "broken.glb").json()["id"])
    assert failed["status"] == "failed"
    # Move one job three days back, to see it on its own day.
    now = utcnow()
    with db.session() as session, session.begin():
        session.execute(update(Job).where(Job.id == jobs[0].id).values(finished_at=now - timedelta(days=3)))
    one = services.jobs.get(jobs[1].id)
    saved = one.input_bytes - one.output_bytes

    days = usage.daily(db, uid, days=7)
    assert [d.day for d in days] == [now.date() - timedelta(days=6 - i) for i in range(7)]
    assert (days[-4].models, days[-4].saved) == (1, saved)
    assert (days[-1].models, days[-1].failed, days[-1].saved) == (2, 1, 2 * saved)
    totals = usage.totals(db, uid)
    assert (totals.models, totals.failed, totals.saved) == (3, 1, 3 * saved)
    assert totals.bytes_in == 3 * one.input_bytes and totals.bytes_out == 3 * one.output_bytes
    sources = usage.by_source(db, uid)
    assert sources[JobSource.DASHBOARD].models == 1 and sources[JobSource.DASHBOARD].failed == 1
    assert sources[JobSource.API].models == 2
    assert usage.by_source(db, uid, Job.api_key_id)[key.id].saved == 2 * saved

    page = client.get("/usage").text
    assert re.search(
        r'id="usage-total"><th scope="row">All time</th><td class="num">3</td><td class="num">1</td>', page
    )
    assert f'<td class="num">{format_size(3 * saved)}</td></tr>' in page
    key_row = re.search(r'<tr class="key-row"><th scope="row">ci <code.*?</tr>', page, re.S)
    assert key_row
    assert re.findall(r'<td class="num">([^<]*)</td>', key_row.group(0)) == [
        "0",
        "2",
        "0",
        format_size(2 * saved),
    ]

    # Requests with the key: the Usage page counts them as the API Keys page does (including
    # those this process has not written to the database yet).
    for _ in range(3):
        assert (
            client.get("/v1/account", headers={"Authorization": f"Bearer {new_key.key}"}).status_code == 200
        )
    key_row = re.search(
        r'<tr class="key-row"><th scope="row">ci <code.*?</tr>', client.get("/usage").text, re.S
    )
    assert key_row and re.findall(r'<td class="num">([^<]*)</td>', key_row.group(0))[:2] == ["3", "2"]
    keys_page = client.get("/keys").text
    assert re.search(r'<td class="num key-requests">3</td>', keys_page)
    assert re.search(rf'<td class="num key-saved">{re.escape(format_size(2 * saved))}</td>', keys_page)
    assert page.count('<rect class="bar"') == 60  # 30 days, two charts
    assert f"{(now.date() - timedelta(days=3)).isoformat()}: 1" in page


def test_compress_page_policy_and_options_panel(client: TestClient) -> None:
    from glbcompress.engine.options import schema

    page = client.get("/compress")
    assert page.headers["content-security-policy"] == VIEWER_CSP
    assert "'wasm-unsafe-eval'" in VIEWER_CSP and "worker-src 'self' blob:" in VIEWER_CSP
    assert "unsafe-inline" not in VIEWER_CSP and "http" not in VIEWER_CSP
    assert "unsafe-eval" not in client.get("/history").headers["content-security-policy"]
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts and all('src="/static/js/' in attrs and not body.strip() for attrs, body in scripts)
    assert " on" not in " ".join(re.findall(r"<[^>]+\son[a-z]+=", page.text))  # no inline handlers
    assert 'data-option="lod_files"' not in page.text  # a job gives one GLB: see NOT_IN_JOBS
    for entry in schema():
        if entry["name"] in NOT_IN_JOBS:
            continue
        control = re.search(rf'data-option="{entry["name"]}"[^>]*data-presets=\'([^\']+)\'', page.text)
        assert control, entry["name"]
        presets = json.loads(control.group(1).replace("&#34;", '"'))
        assert set(presets) == {"lossless", "balanced", "max"}
    assert 'name="preset" value="balanced" checked' in page.text


def test_three_js_is_served_by_us(client: TestClient) -> None:
    from glbcompress.service.web import vendor

    if not vendor.installed():
        pytest.skip("three.js not installed: run scripts/setup (npm ci in web/frontend)")
    loader = client.get("/vendor/three/examples/jsm/loaders/GLTFLoader.js")
    assert loader.status_code == 200 and loader.headers["content-type"].startswith("text/javascript")
    assert "from '/vendor/three/build/three.module.js'" in loader.text
    assert re.search(r"""from\s*['"]three['"]""", loader.text) is None
    assert client.get("/vendor/three/build/three.module.js").status_code == 200
    wasm = client.get("/vendor/three/examples/jsm/libs/draco/gltf/draco_decoder.wasm")
    assert wasm.status_code == 200 and wasm.headers["content-type"] == "application/wasm"
    assert client.get("/vendor/three/examples/jsm/libs/basis/basis_transcoder.wasm").status_code == 200
    again = client.get(
        "/vendor/three/build/three.module.js", headers={"If-None-Match": loader.headers["etag"]}
    )
    assert again.status_code == 200
    cached = client.get(
        "/vendor/three/examples/jsm/loaders/GLTFLoader.js", headers={"If-None-Match": loader.headers["etag"]}
    )
    assert cached.status_code == 304
    for path in (
        "package.json",
        "src/Three.js",
        "examples/jsm/libs/basis/README.md",
        "examples/jsm/../../package.json",
        "examples/jsm/%2e%2e/%2e%2e/package.json",
        "build/three.cjs",
    ):
        assert client.get(f"/vendor/three/{path}", headers=JSON).status_code == 404, path


def test_help_covers_viewers_and_extensions(client: TestClient) -> None:
    page = client.get("/help").text
    for heading in ("How compression works", "Which viewers read what", "What to choose", "Getting help"):
        assert re.search(rf"<h2 id=\"[a-z-]+\">{heading}", page), heading
    # The support matrix: a column per extension, a row per viewer, an answer in every cell.
    table = page.split('<table class="support">')[1].split("</table>")[0]
    columns = re.findall(r'<th scope="col">([^<]*)</th>', table)
    for extension in ("Draco", "Meshopt", "KTX2", "WebP", "AVIF"):
        assert any(c.startswith(extension) for c in columns), extension
    rows = re.findall(r'<tr><th scope="row">([^<]*)</th>(.*?)</tr>', table)
    for engine in ("three.js", "Babylon.js", "&lt;model-viewer&gt;", "Unity", "Unreal", "Godot", "Blender"):
        matching = [cells for name, cells in rows if name.startswith(engine)]
        assert matching, engine
        assert all(
            len(re.findall(r"<td class=\"(yes|no|partly)\">", c)) == len(columns) - 1 for c in matching
        )
    # What to choose: every engine named in an entry of the list.
    choices = " ".join(
        re.findall(r"<dt>([^<]*)</dt>", page.split('<dl class="choices">')[1].split("</dl>")[0])
    )
    for engine in ("three.js", "Babylon.js", "model-viewer", "Unity", "Unreal", "Godot", "Blender"):
        assert engine in choices, engine
    assert "contact the administrator" in page


def test_figures_for_people() -> None:
    assert [format_size(n) for n in (0, 950, 2352, 1023 * 1024, 5 * 1024**3)] == [
        "0 B",
        "950 B",
        "2.3 kB",
        "1023 kB",
        "5 GB",
    ]
    assert format_ratio(2352, 1948) == "17% smaller"
    assert format_ratio(100, 100) == "no smaller"
    assert format_ratio(100, 150) == "50% larger"
    assert format_ratio(10_000, 1) == ">99% smaller"
    assert step_label("textures") == "Compressing textures"
    assert step_label("textures 2/5") == "Compressing textures (2 of 5)"
    assert step_label("target size: try 3") == "Searching for the target size (try 3)"
    assert step_label("target size") == "Searching for the target size"
    assert step_label("LOD1: quantize") == "LOD1: quantize"
