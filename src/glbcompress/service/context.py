"""The objects one application instance shares between requests, reachable from any route as
``services(request)``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from starlette.requests import Request

from .auth.accounts import LoginLimits
from .auth.key_activity import KeyActivity
from .auth.key_rate_limit import KeyRateLimit
from .auth.throttle import Throttle
from .db import Database
from .jobs import JobManager, JobQueue
from .settings import Settings
from .storage import Storage


@dataclass
class Services:
    settings: Settings
    db: Database
    storage: Storage
    queue: JobQueue
    jobs: JobManager
    throttle: Throttle
    key_activity: KeyActivity
    """API key request counts and last use, written to the database at most once a minute."""
    key_rate_limit: KeyRateLimit

    @property
    def login_limits(self) -> LoginLimits:
        return LoginLimits(
            self.throttle,
            self.settings.login_max_failures,
            timedelta(minutes=self.settings.login_window_minutes),
        )


def services(request: Request) -> Services:
    return request.app.state.services
