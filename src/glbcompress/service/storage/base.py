"""The storage interface every backend implements, and what it hands back."""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

KEY = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$")
"""Keys are slash-separated names of letters, digits, '.', '_' and '-' that never start with '.'
(so no '..', no hidden files, no absolute paths)."""


class InvalidKey(ValueError):
    pass


class MissingBlob(FileNotFoundError):
    pass


class TooLarge(ValueError):
    """More bytes than the limit allows. The message is meant for the user."""

    def __init__(self, limit: int):
        super().__init__(f"The file is larger than the {format_size(limit)} limit.")
        self.limit = limit


def format_size(n: int) -> str:
    for unit, scale in (("GB", 1024**3), ("MB", 1024**2), ("kB", 1024)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n} bytes"


def check_key(key: str) -> str:
    if len(key) > 255 or not KEY.match(key):
        raise InvalidKey(f"not a valid blob key: {key!r}")
    return key


@dataclass(frozen=True)
class Blob:
    key: str
    size: int
    sha256: str


class BlobWriter(AbstractContextManager["BlobWriter"]):
    """Receives one blob chunk by chunk: counts and hashes the bytes, refuses more than the limit,
    and makes the blob visible under its key only on commit. Leaving the with-block without
    committing discards what was written."""

    def __init__(self, limit: int | None):
        self.limit = limit
        self.size = 0
        self._hash = hashlib.sha256()
        self._done = False

    def write(self, chunk: bytes) -> None:
        if self._done:
            raise RuntimeError("this blob was already committed or discarded")
        self.size += len(chunk)
        if self.limit is not None and self.size > self.limit:
            self.discard()
            raise TooLarge(self.limit)
        self._hash.update(chunk)
        self._write(chunk)

    def commit(self, key: str) -> Blob:
        check_key(key)
        if self._done:
            raise RuntimeError("this blob was already committed or discarded")
        self._done = True
        self._commit(key)
        return Blob(key, self.size, self._hash.hexdigest())

    def discard(self) -> None:
        if not self._done:
            self._done = True
            self._discard()

    def __exit__(self, *_exc: object) -> None:
        self.discard()

    @abstractmethod
    def _write(self, chunk: bytes) -> None: ...

    @abstractmethod
    def _commit(self, key: str) -> None: ...

    @abstractmethod
    def _discard(self) -> None: ...


class Storage(ABC):
    """Blobs by key. Implementations must make a committed blob appear whole or not at all."""

    @abstractmethod
    def writer(self, limit: int | None = None) -> BlobWriter:
        """A writer for a new blob of at most limit bytes."""

    @abstractmethod
    def save_file(self, key: str, path: Path) -> Blob:
        """Store the local file at path (consuming it) under key."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """The blob for reading; raises MissingBlob."""

    @abstractmethod
    def local_path(self, key: str) -> AbstractContextManager[Path]:
        """A path on this machine where the blob can be read as a file for the with-block."""

    @abstractmethod
    def scratch(self) -> AbstractContextManager[Path]:
        """A private folder on this machine for work files, deleted after the with-block."""

    @abstractmethod
    def size(self, key: str) -> int:
        """The blob's size in bytes; raises MissingBlob."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete the blob if it exists."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> None:
        """Delete every blob whose key starts with prefix + '/'."""

    @abstractmethod
    def list_keys(self, prefix: str = "") -> Iterator[str]:
        """Keys of stored blobs (under prefix), in sorted order."""

    @abstractmethod
    def sweep_partial(self, older_than_seconds: float) -> int:
        """Delete work files left by interrupted writes; returns how many."""

    @abstractmethod
    def check(self) -> None:
        """Raise if the storage cannot be written."""
