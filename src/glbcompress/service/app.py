"""The web application: ``create_app(settings)`` wires the database, storage, job queue, routes
and middleware together.

>>> app = create_app(Settings(data_dir="/srv/glbcompress"))   # then serve it with uvicorn

While the app runs (its lifespan), the job queue's workers and the retention sweep run with it.
The database schema must be current (``glbcompress migrate``; ``glbcompress serve`` does it
first): the app refuses to start on an older schema rather than fail on the first request.
With no argument the settings come from the environment, so ``uvicorn --factory
glbcompress.service.app:create_app`` works too.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from starlette.responses import Response

from .. import __version__
from .api import health, openapi_schema
from .api import router as api_router
from .api.errors import add_api_error_handlers
from .api.problems import Problem, problem
from .auth import csrf
from .auth.redis_counters import make_key_counters
from .auth.throttle import Throttle
from .context import Services
from .db import Database
from .db.migrate import check as check_schema
from .jobs import JobManager, JobQueue, Sweeper, make_queue
from .jobs.quotas import QuotaExceeded
from .middleware import RequestContext
from .settings import Settings
from .storage import Storage, TooLarge, make_storage
from .upload_deadline import UploadDeadline, UploadTimedOut
from .web import router as web_router
from .web.pages import STATIC, CsrfFailed, FormTooLarge, LoginRequired, login_redirect, render
from .webhooks import Dispatcher

log = logging.getLogger("glbcompress.service")


QueueFactory = Callable[[Database, Storage, Settings], JobQueue]


def create_app(settings: Settings | None = None, *, queue_factory: QueueFactory | None = None) -> FastAPI:
    """The application for settings (default: from the environment). queue_factory replaces the
    job queue the settings name (tests use it to run tasks of their own)."""
    settings = settings or Settings()
    db = Database(settings.database_url)
    storage = make_storage(settings)
    queue = (queue_factory or make_queue)(db, storage, settings)
    jobs = JobManager(db, storage, settings, queue)
    throttle = Throttle(db, settings.secret)
    key_activity, key_rate_limit = make_key_counters(db, settings)
    services = Services(settings, db, storage, queue, jobs, throttle, key_activity, key_rate_limit)
    sweeper = Sweeper(jobs, settings.sweep_interval_seconds)
    webhooks = Dispatcher(db, settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        check_schema(settings.database_url)
        queue.start()
        sweeper.start()
        key_activity.start()
        webhooks.start()
        log.info("service started", extra={"version": __version__, "workers": settings.workers})
        try:
            yield
        finally:
            webhooks.stop()
            key_activity.stop()
            sweeper.stop()
            queue.stop()
            db.dispose()
            log.info("service stopped")

    app = FastAPI(
        title="glbcompress",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.services = services
    app.state.webhooks = webhooks
    app.add_middleware(UploadDeadline, seconds=settings.upload_timeout_seconds)
    app.add_middleware(RequestContext)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(health.router)
    app.include_router(api_router)
    app.include_router(web_router)
    _add_error_handlers(app)
    add_api_error_handlers(app)
    openapi_schema.install(app)
    return app


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _error_page(request: Request, status: int, title: str, message: str) -> Response:
    return render(request, "error.html", {"title": title, "message": message}, status=status)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return exc.response()

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, exc: LoginRequired) -> Response:
        return login_redirect(exc.next_path)

    @app.exception_handler(CsrfFailed)
    async def _csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        log.warning("form refused: CSRF check failed", extra={"path": request.url.path})
        return _error_page(request, 403, "Form expired", csrf.FAILED)

    @app.exception_handler(FormTooLarge)
    async def _form_too_large(request: Request, exc: FormTooLarge) -> Response:
        response = _error_page(request, 413, "Form too large", "This form sent more data than a form may.")
        response.headers["Connection"] = "close"
        return response

    @app.exception_handler(QuotaExceeded)
    async def _quota_exceeded(request: Request, exc: QuotaExceeded) -> Response:
        response = problem(exc.status, exc.title, exc.detail, exc.kind)
        response.headers["Connection"] = "close"  # the unread body is not wanted
        return response

    @app.exception_handler(UploadTimedOut)
    async def _upload_timed_out(request: Request, exc: UploadTimedOut) -> Response:
        response = problem(408, "Upload too slow", str(exc), "upload-timeout")
        response.headers["Connection"] = "close"
        return response

    @app.exception_handler(TooLarge)
    async def _too_large(request: Request, exc: TooLarge) -> Response:
        response = problem(413, "File too large", str(exc), "file-too-large")
        # Close the connection, or the server would go on reading (and discarding) the rest.
        response.headers["Connection"] = "close"
        return response

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> Response:
        if not _wants_html(request):
            title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "Error")
            return problem(exc.status_code, title, str(exc.detail), title.lower().replace(" ", "-"))
        if exc.status_code == 404:
            return _error_page(request, 404, "Page not found", "There is no page at this address.")
        return _error_page(request, exc.status_code, "Error", str(exc.detail))
