"""What the service tests do over and over: read a form's CSRF token, sign up, log in, wait for a
job to finish."""

from __future__ import annotations

import html
import re
import time

from fastapi.testclient import TestClient
from httpx2 import Response

from glbcompress.service.db import Job
from glbcompress.service.jobs import JobManager

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: TestClient, path: str) -> str:
    page = client.get(path)
    match = CSRF.search(page.text)
    assert match, f"no CSRF field on {path}"
    return html.unescape(match.group(1))


def post_form(client: TestClient, path: str, form_page: str, **fields: str) -> Response:
    """Post a form the way a browser does: token from the page the form is on, no redirects."""
    data = {"csrf_token": csrf_token(client, form_page), **fields}
    return client.post(path, data=data, follow_redirects=False)


def sign_up(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    return post_form(client, "/signup", "/signup", email=email, password=password, confirm_password=password)


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    return post_form(client, "/login", "/login", email=email, password=password)


def log_out(client: TestClient) -> Response:
    return post_form(client, "/logout", "/help")


def errors(page: Response) -> list[str]:
    """The error messages a page shows (field errors and form errors), as text."""
    found = re.findall(r'<p class="(?:error|form-error)"[^>]*>(.*?)</p>', page.text, re.S)
    return [html.unescape(text.strip()) for text in found]


def wait_for(jobs: JobManager, job_id: str, timeout: float = 60.0, status: tuple[str, ...] = ()) -> Job:
    """The job once it is finished (or in one of the given statuses)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = jobs.get(job_id)
        assert job is not None, f"job {job_id} vanished"
        if (status and job.status in status) or (not status and job.finished):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {job.status} after {timeout} s")


NEW_KEY = re.compile(r'id="new-key-value"[^>]*value="([^"]+)"')


def create_api_key(client: TestClient, name: str = "test key", expires: str = "") -> str:
    """Create an API key on the API Keys page (logged in) and return it, as a user copies it."""
    page = post_form(client, "/keys", "/keys", name=name, expires=expires)
    assert page.status_code == 200, errors(page)
    match = NEW_KEY.search(page.text)
    assert match, "the new key is not on the page"
    return html.unescape(match.group(1))
