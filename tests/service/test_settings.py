"""Settings: one-machine defaults, GLBCOMPRESS_* variables, and the generated session secret."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from glbcompress.service.settings import SECRET_FILE, Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("GLBCOMPRESS_"):
            monkeypatch.delenv(name)


def test_defaults_live_in_one_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    settings = Settings()
    assert settings.data_dir == tmp_path / "glbcompress"
    assert settings.database_url == f"sqlite:///{tmp_path / 'glbcompress' / 'glbcompress.db'}"
    assert settings.blob_dir == tmp_path / "glbcompress" / "blobs"
    assert settings.queue == "local"
    assert settings.workers >= 1
    assert settings.cookie_secure == "auto"


def test_environment_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLBCOMPRESS_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("GLBCOMPRESS_DATABASE_URL", "postgresql+psycopg://app@db/glb")
    monkeypatch.setenv("GLBCOMPRESS_STORAGE_DIR", str(tmp_path / "shared"))
    monkeypatch.setenv("GLBCOMPRESS_MAX_UPLOAD_MB", "2")
    monkeypatch.setenv("GLBCOMPRESS_WORKERS", "3")
    monkeypatch.setenv("GLBCOMPRESS_SIGNUP_ENABLED", "false")
    settings = Settings()
    assert settings.database_url == "postgresql+psycopg://app@db/glb"
    assert settings.blob_dir == tmp_path / "shared"
    assert settings.max_upload_bytes == 2 * 1024 * 1024
    assert settings.workers == 3
    assert settings.signup_enabled is False


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLBCOMPRESS_WORKERS", "0")
    with pytest.raises(ValidationError, match="workers"):
        Settings()


def test_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).secret
    path = tmp_path / SECRET_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) >= 32
    assert Settings(data_dir=tmp_path).secret == first  # kept across restarts
    assert Settings(data_dir=tmp_path / "other").secret != first


def test_given_secret_wins_and_writes_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, secret_key="s" * 40)
    assert settings.secret == b"s" * 40
    assert not (tmp_path / SECRET_FILE).exists()
    assert "s" * 40 not in repr(settings)
