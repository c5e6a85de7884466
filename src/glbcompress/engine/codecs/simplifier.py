"""meshoptimizer's simplifier, called through ctypes.

The ``meshopt`` package we encode with has no simplifier. The ``meshoptimizer`` package on PyPI
(pinned to 0.2.30a0, an sdist that compiles meshoptimizer 0.22's C++ sources with the machine's
compiler; MIT, like meshoptimizer) builds the whole C library into one shared object, but its
Python wrapper declares some of the simplifier's arguments wrongly. So we load that shared object
ourselves, without importing the wrapper, and declare each function's C signature here exactly as
meshoptimizer 0.22's ``meshoptimizer.h`` does. ctypes releases the GIL while the C code runs.

Every function takes and returns numpy arrays; indices are uint32, positions float32 (n, 3).

>>> indices, error = simplify(indices, positions, target_index_count=3000, target_error=0.01)
"""

from __future__ import annotations

import ctypes
import importlib.util
from functools import cache
from pathlib import Path

import numpy as np

PACKAGE = "meshoptimizer"
PINNED = "meshoptimizer==0.2.30a0"
MAX_ATTRIBUTES = 32
"""meshopt_simplifyWithAttributes takes at most this many float attributes per vertex."""

# Option bits of meshopt_simplify (meshoptimizer.h 0.22).
LOCK_BORDER = 1 << 0
"""Do not move vertices on the topological border (edges with one triangle)."""
SPARSE = 1 << 1
ERROR_ABSOLUTE = 1 << 2
"""target_error and the result error are in position units instead of relative to the extent."""
PRUNE = 1 << 3
"""Remove disconnected parts smaller than the error limit."""

_uint_p = ctypes.POINTER(ctypes.c_uint)
_float_p = ctypes.POINTER(ctypes.c_float)
_ubyte_p = ctypes.POINTER(ctypes.c_ubyte)
_size = ctypes.c_size_t

# name -> (result type, argument types), as declared in meshoptimizer.h (0.22).
SIGNATURES: dict[str, tuple[object, list[object]]] = {
    # destination, indices, index_count, vertex_positions, vertex_count, vertex_positions_stride,
    # target_index_count, target_error, options, result_error
    "meshopt_simplify": (
        _size,
        [_uint_p, _uint_p, _size, _float_p, _size, _size, _size, ctypes.c_float, ctypes.c_uint, _float_p],
    ),
    # ... vertex_positions_stride, vertex_attributes, vertex_attributes_stride, attribute_weights,
    # attribute_count, vertex_lock, target_index_count, target_error, options, result_error
    "meshopt_simplifyWithAttributes": (
        _size,
        [
            _uint_p,
            _uint_p,
            _size,
            _float_p,
            _size,
            _size,
            _float_p,
            _size,
            _float_p,
            _size,
            _ubyte_p,
            _size,
            ctypes.c_float,
            ctypes.c_uint,
            _float_p,
        ],
    ),
    # destination, indices, index_count, vertex_positions, vertex_count, vertex_positions_stride,
    # target_index_count, target_error, result_error
    "meshopt_simplifySloppy": (
        _size,
        [_uint_p, _uint_p, _size, _float_p, _size, _size, _size, ctypes.c_float, _float_p],
    ),
    # destination, vertex_positions, vertex_count, vertex_positions_stride, vertex_colors,
    # vertex_colors_stride, color_weight, target_vertex_count
    "meshopt_simplifyPoints": (
        _size,
        [_uint_p, _float_p, _size, _size, _float_p, _size, ctypes.c_float, _size],
    ),
    # vertex_positions, vertex_count, vertex_positions_stride
    "meshopt_simplifyScale": (ctypes.c_float, [_float_p, _size, _size]),
}


class SimplifierUnavailable(RuntimeError):
    """The meshoptimizer package (a declared dependency) is missing or not the pinned build."""


@cache
def library() -> ctypes.CDLL:
    """The compiled meshoptimizer library with our signatures declared (loaded once)."""
    spec = importlib.util.find_spec(PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec else []
    candidates = sorted(
        p for folder in folders for p in Path(folder).glob("_meshoptimizer*") if p.suffix in (".so", ".pyd")
    )
    if not candidates:
        raise SimplifierUnavailable(
            f"Simplification needs the '{PACKAGE}' package, which is not installed or has no compiled "
            f"library: run `pip install '{PINNED}'` (it compiles with a C++ compiler)."
        )
    lib = ctypes.CDLL(str(candidates[0]))
    try:
        for name, (restype, argtypes) in SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype = restype
            fn.argtypes = argtypes
        # The library's Python module init would route allocations through PyMem_Malloc, which
        # needs the GIL; ctypes calls run without it, so allocate with the C runtime's malloc/free.
        libc = ctypes.CDLL(None)
        lib.meshopt_setAllocator.restype = None
        lib.meshopt_setAllocator.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        lib.meshopt_setAllocator(
            ctypes.cast(libc.malloc, ctypes.c_void_p), ctypes.cast(libc.free, ctypes.c_void_p)
        )
    except AttributeError as exc:
        raise SimplifierUnavailable(
            f"The installed '{PACKAGE}' library lacks {exc}; install the pinned build: `pip install '{PINNED}'`."
        ) from exc
    return lib


def available() -> bool:
    try:
        library()
    except SimplifierUnavailable:
        return False
    return True


def _ptr(array: np.ndarray | None, ctype: type) -> object:
    return None if array is None else array.ctypes.data_as(ctypes.POINTER(ctype))


def _indices(indices: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(indices, dtype=np.uint32).reshape(-1)
    if len(out) % 3:
        raise ValueError("triangle list indices must come in threes")
    return out


def _positions(positions: np.ndarray) -> np.ndarray:
    out = np.ascontiguousarray(positions, dtype=np.float32)
    if out.ndim != 2 or out.shape[1] != 3:
        raise ValueError("positions must be an (n, 3) array")
    return out


def _check_range(indices: np.ndarray, vertex_count: int) -> None:
    if len(indices) and int(indices.max()) >= vertex_count:
        raise ValueError("an index is out of the vertex range")


def simplify(
    indices: np.ndarray,
    positions: np.ndarray,
    target_index_count: int,
    target_error: float,
    options: int = 0,
    attributes: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    vertex_lock: np.ndarray | None = None,
) -> tuple[np.ndarray, float]:
    """Fewer triangles over the same vertices: (new triangle-list indices, error reached).

    target_error is relative to the mesh's extent unless options has ERROR_ABSOLUTE; the error
    returned is in the same unit. attributes (n, k float32, k <= 32) with k weights make the metric
    attribute-aware; vertex_lock (n uint8, 1 = keep) pins vertices. Vertices whose positions are
    equal but attributes differ form seams, which are kept."""
    idx = _indices(indices)
    pos = _positions(positions)
    _check_range(idx, len(pos))
    target = int(min(max(target_index_count, 0), len(idx)) // 3 * 3)
    out = np.empty(len(idx), np.uint32)
    error = ctypes.c_float(0.0)
    lib = library()
    if attributes is None or attributes.shape[1] == 0:
        n = lib.meshopt_simplify(
            _ptr(out, ctypes.c_uint), _ptr(idx, ctypes.c_uint), len(idx), _ptr(pos, ctypes.c_float),
            len(pos), 12, target, float(target_error), options, ctypes.byref(error),
        )  # fmt: skip
    else:
        attrs = np.ascontiguousarray(attributes, dtype=np.float32)
        w = np.ascontiguousarray(weights, dtype=np.float32).reshape(-1)
        k = attrs.shape[1]
        if len(attrs) != len(pos) or len(w) != k or k > MAX_ATTRIBUTES or (w < 0).any():
            raise ValueError(
                f"need one row of at most {MAX_ATTRIBUTES} attributes per vertex and a weight each"
            )
        lock = None
        if vertex_lock is not None:
            lock = np.ascontiguousarray(vertex_lock, dtype=np.uint8).reshape(-1)
            if len(lock) != len(pos):
                raise ValueError("vertex_lock needs one value per vertex")
        n = lib.meshopt_simplifyWithAttributes(
            _ptr(out, ctypes.c_uint), _ptr(idx, ctypes.c_uint), len(idx), _ptr(pos, ctypes.c_float),
            len(pos), 12, _ptr(attrs, ctypes.c_float), 4 * k, _ptr(w, ctypes.c_float), k,
            _ptr(lock, ctypes.c_ubyte), target, float(target_error), options, ctypes.byref(error),
        )  # fmt: skip
    return out[:n].copy(), float(error.value)


def simplify_sloppy(
    indices: np.ndarray, positions: np.ndarray, target_index_count: int, target_error: float
) -> tuple[np.ndarray, float]:
    """Like simplify, but merges vertices on a grid without regard for topology or seams: reaches
    any target, at the cost of attribute seams and holes. Errors are relative to the extent."""
    idx = _indices(indices)
    pos = _positions(positions)
    _check_range(idx, len(pos))
    target = int(min(max(target_index_count, 0), len(idx)) // 3 * 3)
    out = np.empty(len(idx), np.uint32)
    error = ctypes.c_float(0.0)
    n = library().meshopt_simplifySloppy(
        _ptr(out, ctypes.c_uint), _ptr(idx, ctypes.c_uint), len(idx), _ptr(pos, ctypes.c_float),
        len(pos), 12, target, float(target_error), ctypes.byref(error),
    )  # fmt: skip
    return out[:n].copy(), float(error.value)


def simplify_points(
    positions: np.ndarray,
    target_vertex_count: int,
    colors: np.ndarray | None = None,
    color_weight: float = 1.0,
) -> np.ndarray:
    """The points to keep of a point cloud (indices into positions), about target_vertex_count of
    them, spread to preserve its shape (and colours, rgb floats, if given)."""
    pos = _positions(positions)
    target = int(min(max(target_vertex_count, 0), len(pos)))
    if target == 0:
        return np.zeros(0, np.uint32)
    rgb = None
    if colors is not None:
        rgb = np.ascontiguousarray(colors[:, :3], dtype=np.float32)
        if rgb.shape != pos.shape:
            raise ValueError("colors need an rgb row per point")
    out = np.empty(target, np.uint32)
    n = library().meshopt_simplifyPoints(
        _ptr(out, ctypes.c_uint), _ptr(pos, ctypes.c_float), len(pos), 12,
        _ptr(rgb, ctypes.c_float), 12, float(color_weight), target,
    )  # fmt: skip
    return out[:n].copy()


def simplify_scale(positions: np.ndarray) -> float:
    """The factor between the simplifier's relative errors and position units (the largest extent)."""
    pos = _positions(positions)
    if not len(pos):
        return 0.0
    return float(library().meshopt_simplifyScale(_ptr(pos, ctypes.c_float), len(pos), 12))
