"""Accessor bytes <-> numpy arrays: strides, matrix column padding, sparse storage, quantized types.

Layout rules follow glTF 2.0 section 3.6.2: an element of a matrix of 1- or 2-byte components has
each column padded to four bytes, and vertex attribute elements start on four-byte boundaries.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .document import COMPONENT_DTYPES, TYPE_SIZES
from .errors import InvalidModel


def column_layout(type_: str, itemsize: int) -> tuple[int, int, int]:
    """(columns, bytes of one column's values, bytes of one column with padding)."""
    if type_ in ("MAT2", "MAT3", "MAT4"):
        n = int(type_[3])
        col = n * itemsize
        return n, col, (col + 3) & ~3
    n = TYPE_SIZES[type_]
    return 1, n * itemsize, n * itemsize


def element_size(type_: str, itemsize: int) -> int:
    """Bytes one element occupies in a tightly packed buffer, matrix padding included."""
    cols, _, padded = column_layout(type_, itemsize)
    return cols * padded


def decode(
    view: memoryview | bytes | np.ndarray,
    byte_offset: int,
    count: int,
    type_: str,
    component_type: int,
    byte_stride: int | None,
    where: str,
) -> np.ndarray:
    """Read count elements from a bufferView's bytes into a (count, components) array (a copy)."""
    dtype = COMPONENT_DTYPES[component_type]
    esize = element_size(type_, dtype.itemsize)
    stride = byte_stride or esize
    raw = np.frombuffer(view, dtype=np.uint8) if not isinstance(view, np.ndarray) else view
    if stride < esize:
        raise InvalidModel(f"{where}: byteStride {stride} is smaller than one element ({esize} bytes).")
    end = byte_offset + (stride * (count - 1) + esize if count else 0)
    if byte_offset < 0 or end > len(raw):
        raise InvalidModel(
            f"{where}: {count} elements at offset {byte_offset} need {end} bytes, "
            f"but its bufferView has {len(raw)}."
        )
    ncomp = TYPE_SIZES[type_]
    if count == 0:
        return np.zeros((0, ncomp), dtype)
    if stride == esize:  # tightly packed (the usual case): a plain slice is ten times quicker
        rows = raw[byte_offset:end].reshape(count, esize)
        rows.flags.writeable = False
    else:
        rows = as_strided(raw[byte_offset:], shape=(count, esize), strides=(stride, 1), writeable=False)
    cols, colbytes, padded = column_layout(type_, dtype.itemsize)
    if padded != colbytes:
        rows = rows.reshape(count, cols, padded)[:, :, :colbytes].reshape(count, cols * colbytes)
    out = np.ascontiguousarray(rows).view(dtype).reshape(count, ncomp)
    return out.astype(dtype.newbyteorder("="), copy=False)


def encode(data: np.ndarray, type_: str, stride: int | None = None) -> bytes:
    """An array as packed element bytes: matrix columns padded, rows padded to stride if given."""
    data = np.ascontiguousarray(data)
    count = data.shape[0]
    itemsize = data.dtype.itemsize
    cols, colbytes, padded = column_layout(type_, itemsize)
    rows = data.view(np.uint8).reshape(count, -1)
    if padded != colbytes:
        out = np.zeros((count, cols, padded), np.uint8)
        out[:, :, :colbytes] = rows.reshape(count, cols, colbytes)
        rows = out.reshape(count, cols * padded)
    if stride is not None and stride > rows.shape[1]:
        out = np.zeros((count, stride), np.uint8)
        out[:, : rows.shape[1]] = rows
        rows = out
    return rows.tobytes()


def vertex_stride(type_: str, itemsize: int) -> int:
    """Stride of a vertex attribute stream: the element size rounded up to four bytes."""
    return (element_size(type_, itemsize) + 3) & ~3
