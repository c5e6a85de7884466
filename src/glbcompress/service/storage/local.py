"""Blobs as files in a folder: ``<root>/<key>``. Writes go to ``<root>/.partial/`` first and are
renamed into place on commit, so a blob is whole or absent, also to other processes sharing the
folder."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from .base import Blob, BlobWriter, MissingBlob, Storage, check_key

PARTIAL = ".partial"


class LocalWriter(BlobWriter):
    def __init__(self, storage: LocalStorage, limit: int | None):
        super().__init__(limit)
        self._storage = storage
        self._path = storage.partial_dir / secrets.token_hex(16)
        self._file: BinaryIO | None = open(self._path, "xb")  # noqa: SIM115 - closed by commit/discard

    def _write(self, chunk: bytes) -> None:
        assert self._file is not None
        self._file.write(chunk)

    def _commit(self, key: str) -> None:
        assert self._file is not None
        self._file.close()
        self._file = None
        self._storage.move_in(self._path, key)

    def _discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._path.unlink(missing_ok=True)


class LocalStorage(Storage):
    def __init__(self, root: Path):
        self.root = Path(root)
        self.partial_dir = self.root / PARTIAL
        self.partial_dir.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def move_in(self, src: Path, key: str) -> None:
        dst = self.path(key)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)

    def writer(self, limit: int | None = None) -> BlobWriter:
        return LocalWriter(self, limit)

    def save_file(self, key: str, path: Path) -> Blob:
        with self.writer() as out, open(path, "rb") as src:
            while chunk := src.read(1 << 20):
                out.write(chunk)
            blob = out.commit(key)
        Path(path).unlink(missing_ok=True)
        return blob

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self.path(key), "rb")
        except FileNotFoundError:
            raise MissingBlob(key) from None

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        path = self.path(key)
        if not path.is_file():
            raise MissingBlob(key)
        yield path

    @contextmanager
    def scratch(self) -> Iterator[Path]:
        folder = Path(tempfile.mkdtemp(dir=self.partial_dir))
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def size(self, key: str) -> int:
        try:
            return self.path(key).stat().st_size
        except FileNotFoundError:
            raise MissingBlob(key) from None

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
        self._remove_empty_parents(self.path(key).parent)

    def delete_prefix(self, prefix: str) -> None:
        folder = self.path(prefix)
        shutil.rmtree(folder, ignore_errors=True)
        self._remove_empty_parents(folder.parent)

    def _remove_empty_parents(self, folder: Path) -> None:
        while folder != self.root and folder.is_relative_to(self.root):
            try:
                folder.rmdir()
            except OSError:
                return  # not empty, or already gone
            folder = folder.parent

    def list_keys(self, prefix: str = "") -> Iterator[str]:
        base = self.path(prefix) if prefix else self.root
        found = [p for p in base.rglob("*") if p.is_file() and PARTIAL not in p.relative_to(self.root).parts]
        for path in sorted(found):
            yield path.relative_to(self.root).as_posix()

    def sweep_partial(self, older_than_seconds: float) -> int:
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in sorted(self.partial_dir.iterdir()):
            if entry.stat().st_mtime < cutoff:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed += 1
        return removed

    def check(self) -> None:
        probe = self.partial_dir / f"probe-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
