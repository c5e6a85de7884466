"""Accounts through the real app: sign-up, log-in, bad passwords, CSRF, the rate limit, sessions,
change password and delete account — on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from glbcompress.service.auth import passwords, sessions
from glbcompress.service.db import BrowserSession, Job, JobSource, JobStatus, User
from glbcompress.service.settings import Settings

from .conftest import make_settings, running_app
from .support import PASSWORD, csrf_token, errors, log_in, log_out, post_form, sign_up, wait_for


def users(client: TestClient) -> list[User]:
    with client.app.state.services.db.session() as session:
        return list(session.scalars(select(User).order_by(User.id)))


# --- sign up -------------------------------------------------------------------------------------


def test_sign_up_logs_in(client: TestClient) -> None:
    response = sign_up(client, "  Ada@Example.COM ")
    assert response.status_code == 303
    assert response.headers["location"] == "/compress?notice=welcome"
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert "ada@example.com" in page.text
    assert "Your account is ready" in page.text
    [user] = users(client)
    assert user.email == "ada@example.com"
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


@pytest.mark.parametrize(
    ("email", "password", "confirm", "message"),
    [
        ("not-an-email", PASSWORD, PASSWORD, "Enter a valid email address"),
        ("", PASSWORD, PASSWORD, "Enter your email address"),
        ("bob@example.com", "short", "short", "at least 10 characters"),
        ("bob@example.com", PASSWORD, PASSWORD + "!", "do not match"),
        ("bob@example.com", "x" * 300, "x" * 300, "at most 256 characters"),
        ("bob.builder@example.com", "bob.builder@example.com", "bob.builder@example.com", "not your email"),
    ],
)
def test_sign_up_mistakes_are_explained(
    sqlite_client: TestClient, email: str, password: str, confirm: str, message: str
) -> None:
    response = post_form(
        sqlite_client, "/signup", "/signup", email=email, password=password, confirm_password=confirm
    )
    assert response.status_code == 400
    assert any(message in text for text in errors(response)), errors(response)
    assert f'value="{email}"' in response.text or not email  # what was typed stays
    assert password == email or password not in response.text  # passwords never come back
    assert users(sqlite_client) == []


def test_duplicate_email(client: TestClient) -> None:
    assert sign_up(client, "ada@example.com").status_code == 303
    log_out(client)
    response = sign_up(client, "ADA@example.com")
    assert response.status_code == 409
    assert "already exists" in " ".join(errors(response))
    assert len(users(client)) == 1


def test_sign_up_can_be_closed(tmp_path, sqlite_settings: Settings) -> None:
    settings = sqlite_settings.model_copy(update={"signup_enabled": False})
    with running_app(settings) as client:
        assert client.get("/signup").status_code == 403
        response = post_form(
            client, "/signup", "/login", email="ada@example.com", password=PASSWORD, confirm_password=PASSWORD
        )
        assert response.status_code == 403
        assert "closed" in response.text
        assert users(client) == []


# --- log in / log out ------------------------------------------------------------------------------


def test_log_in_and_out(client: TestClient) -> None:
    sign_up(client, "ada@example.com")
    log_out(client)
    client.cookies.clear()
    assert client.get("/compress", follow_redirects=False).status_code == 303
    response = log_in(client, "ADA@example.com")
    assert response.status_code == 303
    assert response.headers["location"] == "/compress"
    assert client.get("/compress").status_code == 200
    assert users(client)[0].last_login_at is not None

    response = log_out(client)
    assert response.headers["location"] == "/login?notice=logged-out"
    page = client.get("/compress")  # follows the redirect to the log-in page
    assert page.url.path == "/login"
    assert "Log in to see that page" in page.text


def test_log_in_returns_to_the_page_asked_for(sqlite_client: TestClient) -> None:
    sign_up(sqlite_client, "ada@example.com")
    log_out(sqlite_client)
    first = sqlite_client.get("/history", follow_redirects=False)
    assert first.headers["location"].startswith("/login?next=/history")
    token = csrf_token(sqlite_client, "/login?next=/history")
    data = {"csrf_token": token, "email": "ada@example.com", "password": PASSWORD, "next": "/history"}
    assert sqlite_client.post("/login", data=data, follow_redirects=False).headers["location"] == "/history"
    log_out(sqlite_client)
    data = {**data, "csrf_token": csrf_token(sqlite_client, "/login"), "next": "//evil.example/steal"}
    assert sqlite_client.post("/login", data=data, follow_redirects=False).headers["location"] == "/compress"


def test_bad_password_and_unknown_email_get_the_same_answer(client: TestClient) -> None:
    sign_up(client, "ada@example.com")
    log_out(client)
    wrong = log_in(client, "ada@example.com", "wrong password!")
    unknown = log_in(client, "nobody@example.com", "wrong password!")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert errors(response) == ["The email or password is incorrect."]
        assert sessions.COOKIE not in response.cookies
    assert 'value="ada@example.com"' in wrong.text


def test_old_session_cookie_is_dead_after_log_out(client: TestClient) -> None:
    sign_up(client, "ada@example.com")
    stolen = client.cookies.get(sessions.COOKIE)
    log_out(client)
    client.cookies.set(sessions.COOKIE, stolen)
    assert client.get("/compress", follow_redirects=False).status_code == 303


def test_log_in_replaces_the_session(sqlite_client: TestClient) -> None:
    """Session fixation: a session cookie planted before log-in is not the one used after."""
    sign_up(sqlite_client, "ada@example.com")
    before = sqlite_client.cookies.get(sessions.COOKIE)
    log_in(sqlite_client, "ada@example.com")
    after = sqlite_client.cookies.get(sessions.COOKIE)
    assert before and after and before != after
    with sqlite_client.app.state.services.db.session() as session:
        assert session.scalar(select(func.count()).select_from(BrowserSession)) == 1


def test_expired_session_is_refused(sqlite_client: TestClient, sqlite_settings: Settings) -> None:
    sign_up(sqlite_client, "ada@example.com")
    db = sqlite_client.app.state.services.db
    with db.session() as session, session.begin():
        for row in session.scalars(select(BrowserSession)):
            row.expires_at = row.created_at - timedelta(seconds=1)
    assert sqlite_client.get("/compress", follow_redirects=False).status_code == 303


# --- cookies and CSRF ------------------------------------------------------------------------------


def test_cookies_are_http_only_same_site_and_secure_over_https(sqlite_client: TestClient) -> None:
    response = sign_up(sqlite_client, "ada@example.com")
    cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith(sessions.COOKIE))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie

    https = TestClient(sqlite_client.app, base_url="https://testserver")
    response = sign_up(https, "bob@example.com")
    assert response.status_code == 303
    for cookie in response.headers.get_list("set-cookie"):
        assert "Secure" in cookie and "HttpOnly" in cookie


def test_secure_cookies_can_be_forced(tmp_path, sqlite_settings: Settings) -> None:
    settings = sqlite_settings.model_copy(update={"cookie_secure": "always"})
    with running_app(settings) as client:
        response = client.get("/login")
        assert "Secure" in response.headers["set-cookie"]


@pytest.mark.parametrize("case", ["missing", "forged", "from another site", "other browser's token"])
def test_csrf_rejection(client: TestClient, case: str) -> None:
    data = {"email": "ada@example.com", "password": PASSWORD, "confirm_password": PASSWORD}
    headers = {}
    if case == "forged":
        client.get("/signup")
        data["csrf_token"] = "0" * 64
    elif case == "from another site":
        data["csrf_token"] = csrf_token(client, "/signup")
        headers["origin"] = "https://evil.example"
    elif case == "other browser's token":
        with TestClient(client.app) as other:
            data["csrf_token"] = csrf_token(other, "/signup")
        client.get("/signup")
    response = client.post("/signup", data=data, headers=headers, follow_redirects=False)
    assert response.status_code == 403
    assert "did not come from this site" in response.text
    assert users(client) == []


def test_csrf_on_logged_in_forms(sqlite_client: TestClient) -> None:
    sign_up(sqlite_client, "ada@example.com")
    for path in ("/logout", "/account/password", "/account/delete"):
        response = sqlite_client.post(path, data={"password": PASSWORD}, follow_redirects=False)
        assert response.status_code == 403, path
    assert sqlite_client.get("/account").status_code == 200  # still logged in, still there


def test_oversized_form_is_refused(sqlite_client: TestClient) -> None:
    token = csrf_token(sqlite_client, "/login")
    response = sqlite_client.post("/login", data={"csrf_token": token, "email": "a" * 100_000})
    assert response.status_code == 413


# --- rate limit ------------------------------------------------------------------------------------


def test_failed_log_ins_are_rate_limited(tmp_path, database_url: str) -> None:
    from glbcompress.service.db import migrate

    settings = make_settings(tmp_path, database_url, login_max_failures=3, login_window_minutes=1)
    migrate.upgrade(settings.database_url)
    with running_app(settings) as client:
        sign_up(client, "ada@example.com")
        log_out(client)
        for _ in range(3):
            assert log_in(client, "ada@example.com", "wrong password!").status_code == 401
        limited = log_in(client, "ada@example.com")  # even the right password waits
        assert limited.status_code == 429
        assert 0 < int(limited.headers["retry-after"]) <= 60
        assert "Too many failed log-in attempts. Wait 1 minute" in errors(limited)[0]
        assert sessions.COOKIE not in limited.cookies
        # Another account from the same address is not locked out by this one's failures.
        sign_up(client, "bob@example.com")
        log_out(client)
        assert log_in(client, "bob@example.com").status_code == 303


def test_success_resets_the_count(sqlite_client: TestClient) -> None:
    sign_up(sqlite_client, "ada@example.com")
    log_out(sqlite_client)
    for _ in range(4):
        log_in(sqlite_client, "ada@example.com", "wrong password!")
    assert log_in(sqlite_client, "ada@example.com").status_code == 303
    log_out(sqlite_client)
    for _ in range(4):
        assert log_in(sqlite_client, "ada@example.com", "wrong password!").status_code == 401


def test_address_limit_stops_guessing_across_accounts(tmp_path) -> None:
    from glbcompress.service.db import migrate

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'db'}", login_max_failures=2)
    migrate.upgrade(settings.database_url)
    with running_app(settings) as client:
        codes = [log_in(client, f"user{i}@example.com", "wrong password!").status_code for i in range(9)]
    assert codes[:8] == [401] * 8  # 4 x the per-account limit from one address
    assert codes[8] == 429


# --- change password ---------------------------------------------------------------------------------


def test_change_password(client: TestClient) -> None:
    sign_up(client, "ada@example.com")
    with TestClient(client.app) as laptop:
        log_in(laptop, "ada@example.com")
        assert laptop.get("/account").status_code == 200

        new = "a brand new passphrase"
        wrong = post_form(
            client,
            "/account/password",
            "/account",
            current_password="nope nope nope",
            new_password=new,
            confirm_password=new,
        )
        assert wrong.status_code == 400
        assert errors(wrong) == ["Your current password is incorrect."]
        mismatch = post_form(
            client,
            "/account/password",
            "/account",
            current_password=PASSWORD,
            new_password=new,
            confirm_password=new + "x",
        )
        assert errors(mismatch) == ["The two new passwords do not match."]

        ok = post_form(
            client,
            "/account/password",
            "/account",
            current_password=PASSWORD,
            new_password=new,
            confirm_password=new,
        )
        assert ok.headers["location"] == "/account?notice=password-changed"
        assert "Your password was changed" in client.get(ok.headers["location"]).text  # this browser stays in
        assert laptop.get("/account", follow_redirects=False).status_code == 303  # the other is out
    log_out(client)
    assert log_in(client, "ada@example.com").status_code == 401
    assert log_in(client, "ada@example.com", new).status_code == 303


# --- delete account --------------------------------------------------------------------------------


def test_delete_account_with_its_data(tmp_path, database_url: str) -> None:
    from glbcompress.service.db import migrate

    settings = make_settings(tmp_path, database_url)
    migrate.upgrade(settings.database_url)
    model = tmp_path / "model.glb"
    model.write_bytes(b"glTF" + b"\0" * 64)
    with running_app(settings, task="tests.service.tasks:slow") as client:
        jobs = client.app.state.services.jobs
        sign_up(client, "ada@example.com")
        sign_up(TestClient(client.app), "bob@example.com")
        ada, bob = users(client)
        running = jobs.submit_file(model, user_id=ada.id, source=JobSource.DASHBOARD)
        kept = jobs.submit_file(model, user_id=bob.id, source=JobSource.DASHBOARD)
        wait_for(jobs, running.id, status=(JobStatus.RUNNING,))

        refused = post_form(client, "/account/delete", "/account", delete_password="wrong password!")
        assert refused.status_code == 400
        assert "not deleted" in errors(refused)[0]

        response = post_form(client, "/account/delete", "/account", delete_password=PASSWORD)
        assert response.headers["location"] == "/login?notice=account-deleted"
        assert "Your account and all its data were deleted" in client.get(response.headers["location"]).text
        assert [u.email for u in users(client)] == ["bob@example.com"]
        with client.app.state.services.db.session() as session:
            assert session.scalars(select(Job.id)).all() == [kept.id]
            assert session.scalar(select(func.count()).select_from(BrowserSession)) == 1  # bob's
        storage = client.app.state.services.storage
        deadline = time.monotonic() + 10
        while (
            any(k.startswith(f"jobs/{running.id}") for k in storage.list_keys())
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert [k for k in storage.list_keys() if not k.startswith(f"jobs/{kept.id}/")] == []
        assert client.get("/compress", follow_redirects=False).status_code == 303
        assert log_in(client, "ada@example.com").status_code == 401


# --- escaping and hashing ----------------------------------------------------------------------------


def test_user_strings_are_escaped(sqlite_client: TestClient) -> None:
    email = "<b>x</b>@example.com"
    assert sign_up(sqlite_client, email).status_code == 303
    page = sqlite_client.get("/account")
    assert "&lt;b&gt;x&lt;/b&gt;@example.com" in page.text
    assert "<b>x</b>" not in page.text


def test_argon2id_hashes() -> None:
    stored = passwords.hash_password(PASSWORD)
    assert stored.startswith("$argon2id$")
    assert passwords.verify_password(stored, PASSWORD)
    assert not passwords.verify_password(stored, PASSWORD + "x")
    assert not passwords.verify_password("not a hash", PASSWORD)
    assert not passwords.needs_rehash(stored)
