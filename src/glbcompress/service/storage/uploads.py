"""Receiving an HTTP request body into storage: streamed to disk in chunks, with a size limit and a
SHA-256, never held whole in memory.

>>> blob = await receive_upload(request, storage, "jobs/42/input.glb", limit=settings.max_upload_bytes)

A Content-Length above the limit is refused before a byte is read; a body that turns out longer
than the limit (chunked, or a lying header) is refused as soon as it passes it. Either way
`TooLarge` is raised and nothing is kept.
"""

from __future__ import annotations

from anyio import to_thread
from starlette.requests import Request

from .base import Blob, Storage, TooLarge

FLUSH_BYTES = 1 << 20
"""Chunks are gathered up to this size, then written in a worker thread (the event loop never
waits on the disk)."""


def declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


async def receive_upload(request: Request, storage: Storage, key: str, limit: int) -> Blob:
    declared = declared_length(request)
    if declared is not None and declared > limit:
        raise TooLarge(limit)
    writer = storage.writer(limit)
    try:
        pending: list[bytes] = []
        pending_bytes = 0
        async for chunk in request.stream():
            pending.append(chunk)
            pending_bytes += len(chunk)
            if writer.size + pending_bytes > limit:
                raise TooLarge(limit)
            if pending_bytes >= FLUSH_BYTES:
                await to_thread.run_sync(writer.write, b"".join(pending))
                pending, pending_bytes = [], 0
        if pending:
            await to_thread.run_sync(writer.write, b"".join(pending))
        return await to_thread.run_sync(writer.commit, key)
    finally:
        writer.discard()
