"""Blob storage: where uploaded models and compressed results live, by key.

The interface is `Storage`; the default backend, `LocalStorage`, keeps blobs as files in a folder
(which several machines may share). Blobs are written through a `BlobWriter` that enforces a size
limit and computes a SHA-256 as the bytes go by, so an upload is never held whole in memory:

>>> storage = LocalStorage(Path("/srv/glbcompress/blobs"))
>>> with storage.writer(limit=512 * 1024 * 1024) as out:
...     for chunk in chunks:
...         out.write(chunk)                   # raises TooLarge past the limit
...     blob = out.commit("jobs/42/input.glb") # Blob(key, size, sha256)

``receive_upload`` (``uploads.py``) does the same for an HTTP request body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Blob, BlobWriter, InvalidKey, MissingBlob, Storage, TooLarge, check_key
from .local import LocalStorage

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "Blob",
    "BlobWriter",
    "InvalidKey",
    "LocalStorage",
    "MissingBlob",
    "Storage",
    "TooLarge",
    "check_key",
    "make_storage",
]


def make_storage(settings: Settings) -> Storage:
    """The storage the settings describe (today always a local folder)."""
    return LocalStorage(settings.blob_dir)
