"""Everything a user provides — file names, API key names, node and material names inside the
model — is shown as text: no page carries it as markup, the job JSON the Compress page renders is
JSON (and the page's scripts never parse strings as HTML), and a hostile file name cannot break the
download's Content-Disposition header."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from glbcompress.service.auth import accounts, api_keys
from glbcompress.service.settings import Settings
from tests.fixtures.models import ALL

from .api_support import Api
from .conftest import running_app
from .hostile_names import FILENAME, KEY_NAME, MARKERS, with_hostile_names
from .support import create_api_key, csrf_token, sign_up, wait_for

JS = Path(__file__).resolve().parents[2] / "src/glbcompress/service/web/static/js"
HTML_SINKS = re.compile(
    r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML|document\.write|\beval\(|new Function\("
)


@pytest.fixture(scope="module")
def hostile_model(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    folder = tmp_path_factory.mktemp("hostile")
    box = ALL["textured_box.glb"](folder / "box.glb")
    return with_hostile_names(box, folder / "hostile.glb").read_bytes()


def assert_no_markup(where: str, text: str) -> None:
    for marker in MARKERS:
        assert marker not in text, f"{where} carries {marker!r} unescaped"


def test_hostile_names_are_escaped_on_every_page(sqlite_settings: Settings, hostile_model: bytes) -> None:
    with running_app(sqlite_settings) as client:
        assert sign_up(client, "ada@example.com").status_code == 303
        key = create_api_key(client, KEY_NAME)
        s = client.app.state.services
        user = accounts.find_user(s.db, "ada@example.com")
        assert user is not None
        key_id = api_keys.list_keys(s.db, user.id)[0].id

        token = csrf_token(client, "/compress")
        mine = client.post(
            "/jobs", params={"name": FILENAME}, content=hostile_model, headers={"X-CSRF-Token": token}
        )
        assert mine.status_code == 201, mine.text
        by_api = Api(client, key).post("/v1/jobs", params={"filename": FILENAME}, content=hostile_model)
        assert by_api.status_code == 202, by_api.text
        for job_id in (mine.json()["id"], by_api.json()["id"]):
            assert wait_for(s.jobs, job_id).status == "succeeded"

        for path in ("/history", "/usage", "/keys", f"/keys/{key_id}/revoke", "/compress", "/account"):
            page = client.get(path)
            assert page.status_code == 200, path
            assert_no_markup(path, page.text)
        history = client.get("/history").text
        cells = re.findall(r'<td class="file">(.*?)</td>', history, re.S)
        assert [html.unescape(cell.strip()) for cell in cells] == [FILENAME, FILENAME]
        for path in ("/keys", "/usage", "/history"):
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(path).text, path

        # The job JSON the Compress page renders is JSON, which the browser never sniffs as HTML.
        shown = client.get(f"/jobs/{mine.json()['id']}")
        assert shown.headers["content-type"].startswith("application/json")
        assert shown.headers["x-content-type-options"] == "nosniff"
        assert shown.json()["filename"] == FILENAME

        # The download's header keeps the name inside its quotes (no header or parameter injection).
        download = client.get(f"/jobs/{mine.json()['id']}/download")
        assert download.status_code == 200
        disposition = download.headers["content-disposition"]
        fallback = re.fullmatch(
            r'attachment; filename="([^"\\]*)"; filename\*=UTF-8\'\'([A-Za-z0-9%._~-]+)', disposition
        )
        assert fallback, disposition


def test_control_characters_in_a_file_name_cannot_inject_headers(
    sqlite_settings: Settings, hostile_model: bytes
) -> None:
    with running_app(sqlite_settings) as client:
        assert sign_up(client, "ada@example.com").status_code == 303
        token = csrf_token(client, "/compress")
        name = "x.glb\r\nSet-Cookie: stolen=1\r\n\r\n<script>alert(5)</script>.glb"
        made = client.post(
            "/jobs", params={"name": name}, content=hostile_model, headers={"X-CSRF-Token": token}
        )
        assert made.status_code == 201, made.text
        job = made.json()
        assert "\r" not in job["filename"] and "\n" not in job["filename"]
        wait_for(client.app.state.services.jobs, job["id"])
        download = client.get(f"/jobs/{job['id']}/download")
        assert "stolen" not in download.headers.get("set-cookie", "")
        assert "\n" not in download.headers["content-disposition"]
        assert_no_markup("/history", client.get("/history").text)


def test_dashboard_scripts_never_parse_text_as_html() -> None:
    """The pages' own scripts put names in with textContent/value only: no HTML sinks at all."""
    files = sorted(JS.glob("*.js"))
    assert files, f"no scripts under {JS}"
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            assert not HTML_SINKS.search(line), f"{path.name}:{number}: {line.strip()}"
