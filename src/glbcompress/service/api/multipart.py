"""Receiving a multipart/form-data upload (one model, or a .gltf with its files) into storage as
it streams: every file part goes through a size-limited BlobWriter, never whole into memory, and
the upload is refused (``TooLarge``) as soon as its files pass the limit in total — or before a
byte is read, when Content-Length already says so.

>>> received = await receive_multipart(request, storage, limit, key_for=lambda n, name: f"jobs/{id}/part-{n}")
>>> received.fields["preset"], [(part.filename, part.blob.size) for part in received.files]

Text fields are small (at most ``MAX_FIELD_BYTES`` each, ``MAX_FIELDS`` of them); a broken body
raises ``MultipartError`` with a message for the user.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from anyio import to_thread
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, MultipartState, parse_options_header
from starlette.requests import Request

from ..storage import Blob, BlobWriter, Storage, TooLarge
from ..storage.uploads import FLUSH_BYTES, declared_length

MAX_FIELDS = 64
MAX_FIELD_BYTES = 16 * 1024
MAX_FILES = 1000
MAX_HEADER_BYTES = 16 * 1024
OVERHEAD_BYTES = 1024 * 1024
"""What a multipart body may carry beyond its files' bytes (boundaries, part headers, fields)."""


class MultipartError(ValueError):
    """The body is not acceptable multipart; the message is meant for the user."""


@dataclass
class FilePart:
    field: str
    filename: str
    blob: Blob


@dataclass
class Received:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[FilePart] = field(default_factory=list)


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)
    writer: BlobWriter | None = None
    header_bytes: int = 0


def _decode(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("latin-1")


class _Receiver:
    """python-multipart's callbacks gather events; ``drain`` then writes them (disk work in a
    worker thread), so the event loop never waits on the disk."""

    def __init__(self, storage: Storage, limit: int, key_for: Callable[[int, str], str]):
        self.storage = storage
        self.limit = limit
        self.key_for = key_for
        self.received = Received()
        self.part = _Part()
        self.header_name = b""
        self.header_value = b""
        self.events: list[tuple[str, _Part, bytes]] = []
        self.file_bytes = 0
        self.writers: list[BlobWriter] = []

    # --- parser callbacks (synchronous, no I/O) ------------------------------------------------

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self.header_value += data[start:end]

    def _count_header(self, n: int) -> None:
        self.part.header_bytes += n
        if self.part.header_bytes > MAX_HEADER_BYTES:
            raise MultipartError("A part's headers are too long.")

    def on_header_end(self) -> None:
        self.part.headers.append((self.header_name.lower(), self.header_value))
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        disposition = next((v for k, v in self.part.headers if k == b"content-disposition"), b"")
        _, options = parse_options_header(disposition)
        if b"name" not in options:
            raise MultipartError("Every part needs a Content-Disposition header with a name.")
        self.part.name = _decode(options[b"name"])
        if b"filename" in options:
            if len(self.received.files) + sum(1 for e in self.events if e[0] == "file") >= MAX_FILES:
                raise MultipartError(f"An upload may hold at most {MAX_FILES} files.")
            self.part.filename = _decode(options[b"filename"])
            self.events.append(("file", self.part, b""))
        elif len(self.received.fields) >= MAX_FIELDS:
            raise MultipartError(f"An upload may hold at most {MAX_FIELDS} fields.")

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self.part.filename is None:
            if len(self.part.data) + len(chunk) > MAX_FIELD_BYTES:
                raise MultipartError(f"The field '{self.part.name}' is longer than {MAX_FIELD_BYTES} bytes.")
            self.part.data.extend(chunk)
            return
        self.file_bytes += len(chunk)
        if self.file_bytes > self.limit:
            raise TooLarge(self.limit)
        self.events.append(("data", self.part, chunk))

    def on_part_end(self) -> None:
        if self.part.filename is None:
            self.received.fields[self.part.name] = _decode(bytes(self.part.data))
        else:
            self.events.append(("end", self.part, b""))

    # --- writing (async; disk work in a thread) --------------------------------------------------

    async def drain(self) -> None:
        pending: list[bytes] = []
        pending_part: _Part | None = None

        async def flush() -> None:
            nonlocal pending
            if pending and pending_part is not None and pending_part.writer is not None:
                await to_thread.run_sync(pending_part.writer.write, b"".join(pending))
            pending = []

        size = 0
        for kind, part, chunk in self.events:
            if kind == "file":
                part.writer = self.storage.writer(self.limit)
                self.writers.append(part.writer)
            elif kind == "data":
                if pending_part is not part:
                    await flush()
                    pending_part, size = part, 0
                pending.append(chunk)
                size += len(chunk)
                if size >= FLUSH_BYTES:
                    await flush()
                    size = 0
            else:
                if pending_part is part:
                    await flush()
                    pending_part = None
                assert part.writer is not None and part.filename is not None
                n = len(self.received.files)
                blob = await to_thread.run_sync(part.writer.commit, self.key_for(n, part.filename))
                self.received.files.append(FilePart(part.name, part.filename, blob))
        await flush()
        self.events.clear()

    def discard(self) -> None:
        for writer in self.writers:
            writer.discard()


async def receive_multipart(
    request: Request, storage: Storage, limit: int, key_for: Callable[[int, str], str]
) -> Received:
    """The request's multipart body: its text fields, and its files committed to storage under
    key_for(index, filename). Raises TooLarge or MultipartError; on failure nothing is kept
    except files already committed (the caller deletes their keys)."""
    declared = declared_length(request)
    if declared is not None and declared > limit + OVERHEAD_BYTES:
        raise TooLarge(limit)
    _, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if not boundary:
        raise MultipartError("The multipart body has no boundary in its Content-Type.")
    receiver = _Receiver(storage, limit, key_for)
    callbacks = {
        name: getattr(receiver, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
        )
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit + OVERHEAD_BYTES:
                raise TooLarge(limit)
            parser.write(chunk)
            await receiver.drain()
        parser.finalize()
        if parser.state != MultipartState.END:
            raise MultipartError("The multipart body ends before its closing boundary (was it cut short?).")
        await receiver.drain()
    except FormParserError:
        raise MultipartError("The multipart body is malformed.") from None
    finally:
        receiver.discard()
    return receiver.received
