"""Jobs as the web side sees them: submit, look up, cancel, delete, and the retention sweep.

>>> jobs = JobManager(db, storage, settings, queue)
>>> job = await jobs.submit_upload(request, user_id=7, source=JobSource.DASHBOARD,
...                                filename="chair.glb", preset="max", options={"position_bits": 12})
>>> jobs.cancel(job.id, user_id=7)

Options are checked against the engine before anything is stored, so a bad option is refused at
once with the engine's message (``InvalidOptions``), not as a failed job later.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path, PurePath
from typing import Any

from anyio import to_thread
from sqlalchemy import delete, select, update
from starlette.requests import Request

from ..db import BrowserSession, Database, Job, JobStatus, ThrottleEvent, utcnow
from ..settings import Settings
from ..storage import Blob, Storage, TooLarge
from ..storage.uploads import receive_upload
from . import quotas, store
from .queue import JobQueue

log = logging.getLogger("glbcompress.jobs")

UPLOAD_SUFFIXES = (".glb", ".gltf", ".zip")


def unsupported_kind(filename: str) -> str | None:
    """What a file of this name is ("a .obj file") when a job cannot take it, else None; the
    dashboard and the API word the rest of the refusal for their users."""
    suffix = PurePath(filename).suffix.lower()
    if suffix in UPLOAD_SUFFIXES:
        return None
    return f"a {suffix} file" if suffix else "a file without an extension"


"""What an upload may be: a GLB, a .gltf (self-contained), or a .zip holding one model with its
files (unpacked safely by the job, ``archive.py``)."""
PARTIAL_MAX_AGE_SECONDS = 24 * 3600
"""Work files of interrupted uploads and jobs older than this are deleted by the sweep."""


def has_result(job: Job, now: datetime | None = None) -> bool:
    """Whether the job's result can still be downloaded (it succeeded and has not expired)."""
    now = now or utcnow()
    return bool(
        job.status == JobStatus.SUCCEEDED
        and job.output_key
        and job.purged_at is None
        and (job.expires_at is None or job.expires_at > now)
    )


ONE_GLB_PER_JOB = (
    "Separate level-of-detail files (lod_files) are made by the command line only "
    "(glbcompress compress --lods 1,0.5 --lod-files); a job gives one GLB, with the levels of detail "
    "inside it (MSFT_lod) when you set “Lods”."
)
"""Why a job refuses lod_files: it stores and serves one GLB."""


def check_options(preset: str | None, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The options as a job stores them, after the engine accepted them (raises InvalidOptions)."""
    from glbcompress.engine import lods
    from glbcompress.engine.api import options_for
    from glbcompress.engine.errors import InvalidOptions

    if lods.wants_files(options_for(dict(options or {}), preset)):
        raise InvalidOptions(ONE_GLB_PER_JOB)
    return {"preset": preset, "options": dict(options or {})}


def clean_filename(name: str) -> str:
    """The file name as shown to the user: its last path part, without control characters, at
    most 255 characters (it is escaped wherever it is shown, never used as a path)."""
    base = PurePath(name.replace("\\", "/")).name
    base = "".join(ch for ch in base if ch.isprintable()).strip()
    return base[-255:] or "model.glb"


def input_key(job_id: str, filename: str) -> str:
    suffix = PurePath(filename).suffix.lower()
    return f"jobs/{job_id}/input{suffix if suffix in UPLOAD_SUFFIXES else ''}"


class JobManager:
    def __init__(self, db: Database, storage: Storage, settings: Settings, queue: JobQueue):
        self.db = db
        self.storage = storage
        self.settings = settings
        self.queue = queue

    @property
    def retention(self) -> timedelta:
        return timedelta(hours=self.settings.retention_hours)

    # --- submitting ----------------------------------------------------------------------------

    async def submit_upload(
        self,
        request: Request,
        *,
        user_id: int,
        source: str,
        filename: str,
        preset: str | None = None,
        options: Mapping[str, Any] | None = None,
        api_key_id: int | None = None,
    ) -> Job:
        """A job for the model in the request's body, streamed into storage (raises TooLarge, or
        QuotaExceeded before reading the body when the account is at a quota, or while reading it
        when the upload would take the account past its storage quota).
        api_key_id: the key it came through (source "api")."""
        checked = check_options(preset, options)
        job_id = uuid.uuid4().hex
        filename = clean_filename(filename)
        room = await to_thread.run_sync(quotas.room, self.db, self.settings, user_id)
        limit = self._upload_limit(room)
        with self._storage_full_if_past(room):
            blob = await receive_upload(request, self.storage, input_key(job_id, filename), limit)
        return self._create(job_id, user_id, source, filename, blob, checked, api_key_id)

    def _upload_limit(self, room: int | None) -> int:
        """The most bytes an upload may have: the upload limit, or less if the account's storage
        quota has less room left."""
        limit = self.settings.max_upload_bytes
        return limit if room is None else min(limit, room)

    @contextmanager
    def _storage_full_if_past(self, room: int | None) -> Iterator[None]:
        """TooLarge becomes QuotaExceeded when it was the account's room, not the upload limit,
        that the upload went past."""
        try:
            yield
        except TooLarge:
            if room is not None and room < self.settings.max_upload_bytes:
                raise quotas.storage_full(self.settings) from None
            raise

    def submit_file(
        self,
        path: Path,
        *,
        user_id: int,
        source: str,
        filename: str | None = None,
        preset: str | None = None,
        options: Mapping[str, Any] | None = None,
        api_key_id: int | None = None,
    ) -> Job:
        """A job for a model file on this machine, copied into storage (raises TooLarge, or
        QuotaExceeded as submit_upload does)."""
        checked = check_options(preset, options)
        job_id = uuid.uuid4().hex
        filename = clean_filename(filename or path.name)
        room = quotas.room(self.db, self.settings, user_id)
        limit = self._upload_limit(room)
        with self._storage_full_if_past(room), open(path, "rb") as src, self.storage.writer(limit) as out:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            blob = out.commit(input_key(job_id, filename))
        return self._create(job_id, user_id, source, filename, blob, checked, api_key_id)

    def submit_blob(
        self,
        job_id: str,
        blob: Blob,
        *,
        user_id: int,
        source: str,
        filename: str,
        preset: str | None = None,
        options: Mapping[str, Any] | None = None,
        api_key_id: int | None = None,
    ) -> Job:
        """A job for a model already stored under ``jobs/<job_id>/`` (the API's multipart uploads,
        received part by part; the quotas are checked as the job is inserted). The caller deletes
        that prefix if this raises."""
        checked = check_options(preset, options)
        return self._create(job_id, user_id, source, clean_filename(filename), blob, checked, api_key_id)

    def _create(
        self,
        job_id: str,
        user_id: int,
        source: str,
        filename: str,
        blob: Blob,
        options: dict[str, Any],
        api_key_id: int | None = None,
    ) -> Job:
        job = Job(
            id=job_id,
            user_id=user_id,
            source=source,
            api_key_id=api_key_id,
            status=JobStatus.QUEUED,
            filename=filename,
            options=options,
            input_key=blob.key,
            input_bytes=blob.size,
            input_sha256=blob.sha256,
        )
        try:
            with self.db.session() as session, session.begin():
                quotas.recheck(session, self.settings, user_id, blob.size)
                session.add(job)
        except Exception:
            self.storage.delete_prefix(f"jobs/{job_id}")
            raise
        log.info("job queued", extra={"job_id": job_id, "user_id": user_id, "bytes": blob.size})
        self.queue.notify(job_id)
        return job

    # --- looking up ----------------------------------------------------------------------------

    def get(self, job_id: str, user_id: int | None = None) -> Job | None:
        """The job, if it exists (and, when user_id is given, belongs to that user and was not
        removed from their history)."""
        with self.db.session() as session:
            job = session.get(Job, job_id)
        if job is None or (user_id is not None and (job.user_id != user_id or job.removed_at is not None)):
            return None
        return job

    def list(self, user_id: int, limit: int = 50, offset: int = 0) -> Sequence[Job]:
        """The user's jobs, newest first (not those removed from the history)."""
        with self.db.session() as session:
            return session.scalars(
                select(Job)
                .where(Job.user_id == user_id, Job.removed_at.is_(None))
                .order_by(Job.created_at.desc(), Job.id)
                .limit(limit)
                .offset(offset)
            ).all()

    # --- stopping and deleting -------------------------------------------------------------------

    def cancel(self, job_id: str, user_id: int | None = None) -> Job | None:
        """Cancel a queued or running job (a finished one is left as it is); returns the job."""
        job = self.get(job_id, user_id)
        if job is None or job.finished:
            return job
        canceled = dict(error_kind="canceled", error_message="The job was canceled.")
        if not store.finish(self.db, job_id, None, JobStatus.CANCELED, self.retention, **canceled):
            with self.db.session() as session, session.begin():
                session.execute(
                    update(Job)
                    .where(Job.id == job_id, Job.status == JobStatus.RUNNING)
                    .values(cancel_requested=True)
                )
            self.queue.cancel(job_id)
        log.info("job cancel requested", extra={"job_id": job_id})
        return self.get(job_id)

    def remove(self, job_id: str, user_id: int | None = None) -> bool:
        """Delete a job's files and take it out of the history, canceling it first if it runs. The
        row stays, hidden, so usage figures (models compressed, bytes saved) do not change."""
        job = self.cancel(job_id, user_id)
        if job is None or job.removed_at is not None:
            return False
        now = utcnow()
        with self.db.session() as session, session.begin():
            session.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(removed_at=now, purged_at=now, input_key=None, output_key=None)
            )
        self.storage.delete_prefix(f"jobs/{job_id}")
        log.info("job removed from the history", extra={"job_id": job_id})
        return True

    def delete(self, job_id: str, user_id: int | None = None) -> bool:
        """Delete a job with its files, canceling it first if it runs."""
        job = self.cancel(job_id, user_id)
        if job is None:
            return False
        with self.db.session() as session, session.begin():
            session.execute(delete(Job).where(Job.id == job_id))
        self.storage.delete_prefix(f"jobs/{job_id}")
        return True

    def delete_user_jobs(self, user_id: int) -> int:
        """Delete every job of an account with its files (the account is being deleted)."""
        with self.db.session() as session:
            ids = session.scalars(select(Job.id).where(Job.user_id == user_id).order_by(Job.id)).all()
        for job_id in ids:
            self.delete(job_id)
        return len(ids)

    # --- retention -------------------------------------------------------------------------------

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        """Delete the files of jobs past their expiry (keeping the rows, for history and usage),
        work files of interrupted uploads, expired sessions and old rate-limit events."""
        now = now or utcnow()
        with self.db.session() as session:
            expired = session.scalars(
                select(Job.id)
                .where(
                    Job.status.in_(JobStatus.FINISHED),
                    Job.expires_at <= now,
                    Job.purged_at.is_(None),
                )
                .order_by(Job.expires_at, Job.id)
            ).all()
        for job_id in expired:
            self.storage.delete_prefix(f"jobs/{job_id}")
            with self.db.session() as session, session.begin():
                session.execute(
                    update(Job).where(Job.id == job_id).values(purged_at=now, input_key=None, output_key=None)
                )
        with self.db.session() as session, session.begin():
            sessions = session.execute(
                delete(BrowserSession).where(BrowserSession.expires_at <= now)
            ).rowcount
            failures = session.execute(
                delete(ThrottleEvent).where(ThrottleEvent.created_at <= now - timedelta(days=1))
            ).rowcount
        partial = self.storage.sweep_partial(PARTIAL_MAX_AGE_SECONDS)
        counts = {
            "jobs expired": len(expired),
            "sessions": sessions,
            "throttle events": failures,
            "partial files": partial,
        }
        if any(counts.values()):
            log.info("retention sweep", extra={"counts": counts})
        return counts
