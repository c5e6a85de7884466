"""All configuration of the service, from ``GLBCOMPRESS_*`` environment variables.

Every setting has a default that is safe on one machine: a data folder (``GLBCOMPRESS_DATA_DIR``,
default ``~/.local/share/glbcompress``) holding an SQLite database, the blob storage folder and the
session secret; jobs run in worker processes of the web process itself.

>>> settings = Settings(data_dir="/srv/glbcompress", max_upload_mb=256)
>>> settings.database_url
'sqlite:////srv/glbcompress/glbcompress.db'

The session secret signs browser sessions and CSRF tokens. When ``GLBCOMPRESS_SECRET_KEY`` is not
given it is generated once and kept in ``<data dir>/secret_key`` (mode 0600), so sessions survive
restarts; deleting that file logs everybody out.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_FILE = "secret_key"


def default_data_dir() -> Path:
    """The per-user data folder: $XDG_DATA_HOME/glbcompress, or ~/.local/share/glbcompress."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "glbcompress"


def default_workers() -> int:
    """Jobs at once: half the cores (at least one), so compression leaves room for the web server."""
    return max(1, (os.cpu_count() or 2) // 2)


class Settings(BaseSettings):
    """The service's configuration. Field ``x`` is read from ``GLBCOMPRESS_X``."""

    model_config = SettingsConfigDict(env_prefix="GLBCOMPRESS_", extra="ignore", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir, description="Folder for the service's data.")
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL; default an SQLite file in the data folder. "
        "PostgreSQL: postgresql+psycopg://user@host/dbname",
    )
    storage_dir: Path | None = Field(
        default=None, description="Folder for uploaded and compressed models; default <data dir>/blobs."
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Signs sessions and CSRF tokens; default generated in the data folder."
    )
    queue: Literal["local", "celery"] = Field(
        default="local",
        description="Job queue backend: 'local' runs jobs in processes of the web server; 'celery' sends "
        "them to `glbcompress worker` processes through the broker (the web server then never compresses).",
    )
    broker_url: str = Field(
        default="", description="The Celery broker when queue is 'celery': redis://host:6379/0."
    )
    broker_visibility_timeout_seconds: float = Field(
        default=3600,
        gt=0,
        description="A job message taken by a worker that neither acknowledged nor returned it within this "
        "time is delivered again (a worker that died). Keep it above job_timeout_seconds.",
    )
    redis_url: str = Field(
        default="",
        description="Redis for counters every web process must share (API key rate limits, requests and "
        "last use); default the broker_url when that is Redis, else counted in each process's memory.",
    )
    redis_prefix: str = Field(
        default="glbcompress:",
        description="Prefix of every Redis key (counters and broker), so deployments can share a Redis.",
    )
    job_lease_seconds: float = Field(
        default=60,
        gt=0,
        description="A running job whose worker has not reported (a heartbeat every second) for this long "
        "is taken to be interrupted and queued again.",
    )
    worker_shutdown_grace_seconds: float = Field(
        default=30,
        ge=0,
        description="After SIGTERM, how long a worker lets its running jobs finish before handing them "
        "back to the queue.",
    )
    workers: int = Field(default_factory=default_workers, ge=1, le=256, description="Jobs run at once.")
    job_timeout_seconds: float = Field(default=600, gt=0, description="Wall-clock limit of one job.")
    job_memory_mb: int = Field(default=4096, ge=64, description="Memory one job may allocate.")
    job_max_attempts: int = Field(
        default=3, ge=1, description="Times a job interrupted by a restart is started again."
    )
    max_upload_mb: float = Field(default=1024, gt=0, description="Largest upload accepted.")
    max_active_jobs_per_account: int = Field(
        default=20, ge=0, description="Jobs one account may have queued or running at once (0: no limit)."
    )
    account_storage_mb: float = Field(
        default=10240, ge=0, description="Uploads and results one account may keep stored (0: no limit)."
    )
    upload_timeout_seconds: float = Field(
        default=900,
        gt=0,
        description="Longest time a request body may take to arrive (slow clients are cut off).",
    )
    request_head_timeout_seconds: float = Field(
        default=20,
        gt=0,
        description="Longest time a request's line and headers may take to arrive (slow clients "
        "are answered 408 and disconnected).",
    )
    retention_hours: float = Field(
        default=24, gt=0, description="How long inputs and results are kept after a job ends."
    )
    sweep_interval_seconds: float = Field(
        default=600, gt=0, description="How often expired results are deleted."
    )
    session_days: float = Field(default=14, gt=0, description="How long a login lasts.")
    cookie_secure: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Secure cookies: 'auto' when the request came over HTTPS (also behind a proxy "
        "listed in forwarded_allow_ips).",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies trusted for X-Forwarded-Proto/For (comma-separated, '*' for any).",
    )
    signup_enabled: bool = Field(default=True, description="Whether anyone may create an account.")
    login_max_failures: int = Field(
        default=5, ge=1, description="Failed log-ins per account (and 4x per address) within the window."
    )
    login_window_minutes: float = Field(default=15, gt=0, description="Window of the log-in rate limit.")
    api_rate_limit: int = Field(
        default=120, ge=0, description="Requests one API key may make per minute (0: no limit)."
    )
    sync_max_mb: float = Field(
        default=64, ge=0, description="POST /v1/compress answers 202 with a job for uploads larger than this."
    )
    sync_wait_seconds: float = Field(
        default=60, ge=0, description="How long POST /v1/compress waits for its result before answering 202."
    )
    webhook_timeout_seconds: float = Field(
        default=10, gt=0, description="Time a webhook receiver has to answer."
    )
    webhook_max_attempts: int = Field(
        default=10,
        ge=1,
        description="Deliveries of one webhook before it is given up (first retry after "
        "webhook_retry_seconds, each later one 3x later, at most an hour apart).",
    )
    webhook_retry_seconds: float = Field(
        default=10, gt=0, description="Delay before a webhook's first retry."
    )
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow callback URLs on loopback and private networks (refused by default: a webhook "
        "must not reach into the server's own network).",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO")

    @field_validator("data_dir", "storage_dir")
    @classmethod
    def _absolute(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser().absolute()

    def model_post_init(self, _context: object) -> None:
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{self.data_dir / 'glbcompress.db'}")
        if self.storage_dir is None:
            object.__setattr__(self, "storage_dir", self.data_dir / "blobs")

    @model_validator(mode="after")
    def _broker_for_celery(self) -> Settings:
        if self.queue == "celery" and not self.broker_url:
            raise ValueError("queue 'celery' needs GLBCOMPRESS_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
        if self.broker_url and not self.broker_url.startswith(("redis://", "rediss://")):
            raise ValueError("GLBCOMPRESS_BROKER_URL must be a Redis URL (redis:// or rediss://)")
        return self

    @property
    def counters_url(self) -> str:
        """The Redis that shared counters live in, or "" to count in memory."""
        return self.redis_url or self.broker_url

    @property
    def blob_dir(self) -> Path:
        assert self.storage_dir is not None  # set in model_post_init
        return self.storage_dir

    @property
    def account_storage_bytes(self) -> int:
        return int(self.account_storage_mb * 1024 * 1024)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    @property
    def sync_max_bytes(self) -> int:
        return int(self.sync_max_mb * 1024 * 1024)

    @cached_property
    def secret(self) -> bytes:
        """The session secret: the configured one, or the one kept in the data folder."""
        if self.secret_key is not None and self.secret_key.get_secret_value():
            return self.secret_key.get_secret_value().encode()
        return load_or_create_secret(self.data_dir / SECRET_FILE)


def load_or_create_secret(path: Path) -> bytes:
    """The secret stored at path, creating it (mode 0600, never world-readable) on first use.

    Written whole to a draft, then linked into place: two processes starting at once agree on one
    secret and neither reads a half-written file."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(draft, path)  # atomic, and fails if another process got there first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    value = path.read_text().strip()
    if len(value) < 32:
        raise RuntimeError(f"The session secret in {path} is too short; delete the file to make a new one.")
    return value.encode()
