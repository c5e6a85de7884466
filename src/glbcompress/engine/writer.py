"""Writing a Document as one GLB.

Only objects reachable from the scenes and animations are written. Accessor data is grouped into
bufferViews by role (vertex streams of one layout, indices, animation times, animation outputs by
path, other) so that each group compresses well as one EXT_meshopt_compression stream; a group is
stored compressed only where that saves more than the extension's JSON costs. Every view starts on
a four-byte boundary, vertex streams have a byteStride, and min/max are computed from the data a
loader will see. The JSON is shortened as json_tidy describes.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from . import accessors as acc
from .breakdown import ByteBreakdown, breakdown
from .document import COLLECTIONS, Accessor, Blob, Document, Image, Pointer
from .json_tidy import tidy
from .links import reachable
from .quantization import needs_mesh_quantization
from .records import dataclass

ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
ROOT_ORDER = ("asset", "extensionsUsed", "extensionsRequired", "scene", *COLLECTIONS)
POINTS_LINES_STRIPS = (0, 1, 2, 3, 5, 6)


@dataclass(frozen=True)
class WriteOptions:
    meshopt: bool = False
    """Store accessor streams with EXT_meshopt_compression (required, with a fallback buffer)."""
    meshopt_level: int = 2
    """Unused by codec version 0 (kept for version 1 when loaders accept it)."""
    float32_json: bool = False
    """Write rotations, scales, material factors and the like in the fewest digits that keep
    their float32 value (see json_tidy); translations and extras keep every digit."""


DEFAULT_WRITE_OPTIONS = WriteOptions()


@dataclass
class WriteResult:
    bytes_written: int
    breakdown: ByteBreakdown
    json: dict


@dataclass
class _Role:
    kind: str  # "vertex", "triangles", "indices", "animation-input", "animation", "other"
    group: str  # the attribute ("POSITION", "TEXCOORD") or animation path; non-vertex streams group by it
    per_row: int = 1  # elements that belong together in one meshopt row (a keyframe of morph weights)


def accessor_roles(doc: Document, keep: set[int]) -> dict[int, _Role]:
    """id(accessor) -> how it is used; the first use found wins."""
    roles: dict[int, _Role] = {}

    def put(a: Any, role: _Role) -> None:
        if isinstance(a, Accessor) and id(a) in keep and id(a) not in roles:
            roles[id(a)] = role

    for _mesh, prim in doc.primitives():
        mode = prim.get("mode", 4)
        put(prim.get("indices"), _Role("indices" if mode in POINTS_LINES_STRIPS else "triangles", "INDEX"))
        for semantic, a in prim.get("attributes", {}).items():
            put(a, _Role("vertex", semantic.split("_")[0]))
        for target in prim.get("targets", []):
            for semantic, a in target.items():
                put(a, _Role("vertex", semantic.split("_")[0]))
    for anim in doc.animations:
        for sampler in anim.get("samplers", []):
            put(sampler.get("input"), _Role("animation-input", "TIME"))
            path = "other"
            for channel in anim.get("channels", []):
                if channel.get("sampler") is sampler:
                    path = str(channel.get("target", {}).get("path", "pointer"))
            put(
                sampler.get("output"),
                _Role("animation", path, _weights_per_key(sampler) if path == "weights" else 1),
            )
    return roles


def _weights_per_key(sampler: dict) -> int:
    """Morph weights per keyframe of a weights sampler's output (1 if it does not add up)."""
    inp, out = sampler.get("input"), sampler.get("output")
    if not isinstance(inp, Accessor) or not isinstance(out, Accessor) or not inp.count:
        return 1
    per_key = out.count // (3 if sampler.get("interpolation") == "CUBICSPLINE" else 1)
    return per_key // inp.count if per_key % inp.count == 0 else 1


def _row_bytes(esize: int, per_row: int) -> int:
    """Bytes per meshopt row of data that is not a vertex stream: a whole keyframe of morph
    weights when that fits (meshopt predicts each byte from the row before, so rows should hold the
    same targets: three times smaller measured on MorphStressTest), else one element, else four
    bytes (meshopt rows are multiples of four; groups are padded to four bytes)."""
    wide = esize * per_row
    if per_row > 1 and wide % 4 == 0 and wide <= 256:
        return wide
    return esize if esize % 4 == 0 else 4


def _padded(length: int) -> int:
    return length + (-length % 4)


@dataclass
class _Stream:
    """The bytes of one group of accessors that becomes one bufferView."""

    kind: str
    stride: int
    filter: str | None
    members: list[tuple[int, np.ndarray, Accessor]]
    data: bytes
    """Plain, or meshopt-filtered rows when filter is set."""
    compressed: tuple[bytes, dict] | None = None
    """The meshopt encoding and its extension fields (mode, count, filter)."""

    def extension(self, offset: int) -> dict:
        assert self.compressed is not None
        encoded, fields = self.compressed
        return {
            "buffer": 0,
            "byteOffset": offset,
            "byteLength": len(encoded),
            "byteStride": self.stride,
            **fields,
        }

    def saving(self, offset: int) -> int:
        """Bytes (BIN and JSON) saved by storing the stream compressed rather than plain."""
        if self.compressed is None:
            return 0
        text = json.dumps(
            {"extensions": {"EXT_meshopt_compression": self.extension(offset)}}, separators=(",", ":")
        )
        extension_json = len(text) - 1  # less the braces, plus the comma before it
        return _padded(len(self.data)) - _padded(len(self.compressed[0])) - extension_json


MESHOPT_FILE_JSON = len(
    json.dumps({"byteLength": 10**6, "extensions": {"EXT_meshopt_compression": {"fallback": True}}})
) + 2 * len(',"EXT_meshopt_compression"')
"""JSON bytes that using EXT_meshopt_compression at all costs: the fallback buffer and the
extension's name in extensionsUsed and extensionsRequired."""


def _worth_compressing(streams: list[_Stream]) -> list[bool]:
    """Which streams to store compressed: those it makes smaller, counting the extension's JSON,
    and none if together they do not save what using the extension costs (a small model is
    smaller plain)."""
    offset = sum(_padded(len(s.data)) for s in streams)  # about as many digits as the real offsets
    savings = [s.saving(offset) for s in streams]
    if sum(x for x in savings if x > 0) <= MESHOPT_FILE_JSON:
        return [False] * len(streams)
    return [x > 0 for x in savings]


class _Bin:
    """The BIN chunk under construction: parts appended at four-byte alignment."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.length = 0

    def add(self, data: bytes) -> int:
        offset = self.length
        self.parts.append(data)
        self.length += len(data)
        pad = -self.length % 4
        if pad:
            self.parts.append(b"\0" * pad)
            self.length += pad
        return offset


def _minmax(values: np.ndarray) -> tuple[list, list]:
    if values.dtype == np.float32:
        lo, hi = values.min(axis=0), values.max(axis=0)
        return [_f32(v) for v in lo], [_f32(v) for v in hi]
    return values.min(axis=0).tolist(), values.max(axis=0).tolist()


def _f32(value: np.floating) -> float | int:
    """A float32 as the shortest decimal that reads back as the same float32."""
    text = np.format_float_positional(np.float32(value), unique=True, trim="-")
    number = float(text)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


class _Writer:
    def __init__(self, doc: Document, options: WriteOptions):
        self.doc = doc
        self.options = options
        self.bin = _Bin()
        self.fallback_length = 0
        self.views: list[dict] = []
        self.index_of: dict[int, int] = {}
        self.blob_views: dict[int, int] = {}
        self.sparse_index_views: dict[bytes, int] = {}
        self.uses_meshopt = False

    def build(self) -> dict:
        doc = self.doc
        keep = reachable(doc)
        emitted: dict[str, list] = {}
        for name in COLLECTIONS:
            items = [o for o in doc.collection(name) if id(o) in keep]
            emitted[name] = items
            for i, o in enumerate(items):
                self.index_of[id(o)] = i
        roles = accessor_roles(doc, keep)
        accessors_json = self._accessors(emitted["accessors"], roles)
        images_json = [self._image(im) for im in emitted["images"]]
        out: dict[str, Any] = {}
        for key, value in doc.root.items():
            if key not in ("extensionsUsed", "extensionsRequired"):
                out[key] = self._export(value)
        out.setdefault("asset", {"version": "2.0"})
        for name in COLLECTIONS:
            if name == "accessors":
                items = accessors_json
            elif name == "images":
                items = images_json
            elif name == "animations":
                items = [self._animation(a) for a in emitted[name]]
            else:
                items = [self._export_item(o) for o in emitted[name]]
            if items:
                out[name] = items
        if self.views:
            out["bufferViews"] = self.views
        buffers = []
        if self.bin.length:
            buffers.append({"byteLength": self.bin.length})
        if self.uses_meshopt:
            buffers.append(
                {
                    "byteLength": self.fallback_length,
                    "extensions": {"EXT_meshopt_compression": {"fallback": True}},
                }
            )
            fallback_index = len(buffers) - 1
            for view in self.views:
                if view.get("buffer") == "fallback":
                    view["buffer"] = fallback_index
        if buffers:
            out["buffers"] = buffers
        self._extensions(out, emitted)
        tidy(out, float32=self.options.float32_json)
        return {k: out[k] for k in (*ROOT_ORDER, *out) if k in out}

    # -- references ---------------------------------------------------------------------------

    def _export(self, value: Any, local: dict[int, int] | None = None) -> Any:
        """A JSON copy of value with every reference replaced by its new index."""
        if local is not None and id(value) in local:
            return local[id(value)]
        if id(value) in self.index_of:
            return self.index_of[id(value)]
        if isinstance(value, dict):
            return {k: self._export(v, local) for k, v in value.items()}
        if isinstance(value, list):
            return [self._export(v, local) for v in value]
        if isinstance(value, Pointer):
            return f"/{value.collection}/{self.index_of[id(value.target)]}{value.rest}"
        if isinstance(value, Blob):
            # Primitives that share one stream share its bufferView.
            if id(value) not in self.blob_views:
                self.blob_views[id(value)] = self._view(self.bin.add(value.data), len(value.data))
            return self.blob_views[id(value)]
        if isinstance(value, (Accessor, Image)):
            raise AssertionError("an accessor or image is referenced but not in the document's lists")
        return value

    def _export_item(self, obj: dict) -> dict:
        return {k: self._export(v) for k, v in obj.items()}

    def _animation(self, anim: dict) -> dict:
        local = {id(s): i for i, s in enumerate(anim.get("samplers", []))}
        return {k: self._export(v, local if k == "channels" else None) for k, v in anim.items()}

    # -- binary data --------------------------------------------------------------------------

    def _view(self, offset: int, length: int, **fields: Any) -> int:
        self.views.append({"buffer": 0, "byteOffset": offset, "byteLength": length, **fields})
        return len(self.views) - 1

    def _image(self, image: Image) -> dict:
        view = self._view(self.bin.add(image.data), len(image.data))
        return {**self._export(image.props), "bufferView": view, "mimeType": image.mime_type}

    def _accessors(self, items: list[Accessor], roles: dict[int, _Role]) -> list[dict]:
        out: list[dict] = []
        groups: dict[tuple, list[tuple[int, np.ndarray, Accessor]]] = {}
        for i, a in enumerate(items):
            role = roles.get(id(a), _Role("other", "other"))
            entry: dict[str, Any] = {}
            data = a.data
            if role.kind in ("triangles", "indices") and self.options.meshopt and data.dtype == np.uint8:
                data = data.astype(np.uint16)
            entry["componentType"] = {
                np.dtype(np.int8): 5120,
                np.dtype(np.uint8): 5121,
                np.dtype(np.int16): 5122,
                np.dtype(np.uint16): 5123,
                np.dtype(np.uint32): 5125,
                np.dtype(np.float32): 5126,
            }[data.dtype]
            if a.normalized:
                entry["normalized"] = True
            entry["count"] = len(data)
            entry["type"] = a.type
            if role.group == "POSITION" or role.kind == "animation-input":
                entry["min"], entry["max"] = _minmax(data)
            if a.draco:
                out.append({**entry, **self._export(a.props)})
                continue
            if a.sparse and not self.options.meshopt and self._write_sparse(entry, data, a):
                out.append({**entry, **self._export(a.props)})
                continue
            esize = acc.element_size(a.type, data.dtype.itemsize)
            if role.kind == "vertex":
                stride = acc.vertex_stride(a.type, data.dtype.itemsize)
            elif role.kind in ("triangles", "indices"):
                stride = esize
            else:
                stride = _row_bytes(esize, role.per_row)
            # Vertex streams of one layout share a bufferView whatever their semantic: a view
            # costs a hundred bytes of JSON or more, and meshopt compresses the joined stream as
            # well as its parts (Fox: 430 bytes less, Soldier 530).
            group = "" if role.kind == "vertex" else role.group
            key = (role.kind, group, stride, a.meshopt_filter if self.options.meshopt else None)
            groups.setdefault(key, []).append((i, data, a))
            out.append({**entry, **self._export(a.props)})
        streams = [self._stream(key, members, out) for key, members in groups.items()]
        for stream, compress in zip(streams, _worth_compressing(streams), strict=True):
            self._emit(stream, compress, out)
        return out

    def _write_sparse(self, entry: dict, data: np.ndarray, a: Accessor) -> bool:
        """Store data as sparse over zeros if that is smaller than storing it densely."""
        rows = np.flatnonzero(np.any(data != 0, axis=1))
        if not len(rows):
            return True  # all zeros: an accessor without a bufferView reads as zeros
        if len(rows) * 3 >= len(data):
            return False
        itype = np.uint8 if len(data) <= 256 else np.uint16 if len(data) <= 65536 else np.uint32
        index_bytes = rows.astype(itype).tobytes()
        values = acc.encode(data[rows], a.type)
        # Morph targets often change the same vertices: equal index lists share one bufferView.
        if index_bytes not in self.sparse_index_views:
            self.sparse_index_views[index_bytes] = self._view(self.bin.add(index_bytes), len(index_bytes))
        entry["sparse"] = {
            "count": len(rows),
            "indices": {
                "bufferView": self.sparse_index_views[index_bytes],
                "componentType": {np.uint8: 5121, np.uint16: 5123, np.uint32: 5125}[itype],
            },
            "values": {"bufferView": self._view(self.bin.add(values), len(values))},
        }
        return True

    def _stream(
        self, key: tuple, members: list[tuple[int, np.ndarray, Accessor]], out: list[dict]
    ) -> _Stream:
        """One group's bytes, plain and (with meshopt) compressed; sets the members' byteOffsets."""
        kind, _group, stride, filter_ = key
        stream = _Stream(
            kind, stride, filter_, members, self._pack(kind, stride, members, out, bool(filter_))
        )
        if self.options.meshopt:
            stream.compressed = self._meshopt(kind, stride, filter_, stream.data)
        return stream

    def _emit(self, stream: _Stream, compress: bool, out: list[dict]) -> None:
        """Write the stream's bufferView: compressed with a fallback view, or plain."""
        fields: dict[str, Any] = {}
        if stream.kind == "vertex":
            fields["byteStride"] = stream.stride
            fields["target"] = ARRAY_BUFFER
        elif stream.kind in ("triangles", "indices"):
            fields["target"] = ELEMENT_ARRAY_BUFFER
        view_index = len(self.views)
        data = stream.data
        if not compress or stream.compressed is None:
            if stream.filter:  # what a decoder would yield
                data = self._pack(stream.kind, stream.stride, stream.members, out, filtered=False)
            self._view(self.bin.add(data), len(data), **fields)
        else:
            encoded = stream.compressed[0]
            ext = stream.extension(self.bin.add(encoded))
            fb_offset = self.fallback_length
            self.fallback_length += _padded(len(data))
            self.views.append(
                {
                    "buffer": "fallback",
                    "byteOffset": fb_offset,
                    "byteLength": len(data),
                    **fields,
                    "extensions": {"EXT_meshopt_compression": ext},
                }
            )
            self.uses_meshopt = True
        for i, _data, _a in stream.members:
            out[i]["bufferView"] = view_index

    def _pack(
        self,
        kind: str,
        stride: int,
        members: list[tuple[int, np.ndarray, Accessor]],
        out: list[dict],
        filtered: bool,
    ) -> bytes:
        """The group's bytes (meshopt-filtered rows where asked and present); sets byteOffsets."""
        chunks = []
        offset = 0
        for i, data, a in members:
            rows = a.filtered if (filtered and a.filtered is not None) else None
            raw = (
                rows.tobytes()
                if rows is not None
                else acc.encode(data, a.type, stride if kind == "vertex" else None)
            )
            if offset:
                out[i]["byteOffset"] = offset
            chunks.append(raw)
            offset += len(raw)
            # Index streams stay contiguous (a pad would read as extra indices); others keep four-byte starts.
            pad = 0 if kind in ("triangles", "indices") else -offset % 4
            if pad:
                chunks.append(b"\0" * pad)
                offset += pad
        return b"".join(chunks)

    def _meshopt(self, kind: str, stride: int, filter_: str | None, data: bytes) -> tuple[bytes, dict] | None:
        from .codecs.meshopt_codec import encode_stream

        return encode_stream(kind, stride, filter_, data)

    # -- extensions ---------------------------------------------------------------------------

    def _extensions(self, out: dict, emitted: dict[str, list]) -> None:
        present: set[str] = set()

        def scan(value: Any) -> None:
            stack = [value]
            while stack:
                cur = stack.pop()
                if isinstance(cur, dict):
                    exts = cur.get("extensions")
                    if isinstance(exts, dict):
                        present.update(exts.keys())
                    stack.extend(v for v in cur.values() if isinstance(v, (dict, list)))
                elif isinstance(cur, list):
                    stack.extend(v for v in cur if isinstance(v, (dict, list)))

        scan(out)
        if needs_mesh_quantization(self.doc, emitted):
            present.add("KHR_mesh_quantization")
        old_used = list(self.doc.root.get("extensionsUsed", []))
        old_required = set(self.doc.root.get("extensionsRequired", []))
        used = [n for n in old_used if n in present] + sorted(present - set(old_used))
        required = [n for n in used if n in old_required]
        for name in ("KHR_mesh_quantization", "EXT_meshopt_compression", "KHR_draco_mesh_compression"):
            if name in present and name not in required:
                required.append(name)
        if used:
            out["extensionsUsed"] = used
        else:
            out.pop("extensionsUsed", None)
        if required:
            out["extensionsRequired"] = required
        else:
            out.pop("extensionsRequired", None)


def to_json(doc: Document, options: WriteOptions = DEFAULT_WRITE_OPTIONS) -> tuple[dict, list[bytes]]:
    """The GLB's JSON and the parts of its BIN chunk."""
    writer = _Writer(doc, options)
    gltf = writer.build()
    return gltf, writer.bin.parts


def write_glb(doc: Document, path: str | Path, options: WriteOptions = DEFAULT_WRITE_OPTIONS) -> WriteResult:
    """Write doc as a GLB file; returns its size and the bytes by category."""
    gltf, parts = to_json(doc, options)
    text = json.dumps(gltf, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")
    text += b" " * (-len(text) % 4)
    bin_length = sum(len(p) for p in parts)
    total = 12 + 8 + len(text) + (8 + bin_length if bin_length else 0)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<4sII", b"glTF", 2, total))
        fh.write(struct.pack("<II", len(text), 0x4E4F534A))
        fh.write(text)
        if bin_length:
            fh.write(struct.pack("<II", bin_length, 0x004E4942))
            for part in parts:
                fh.write(part)
    return WriteResult(total, breakdown(gltf, total), gltf)
