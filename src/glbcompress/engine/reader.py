"""Reading GLB and .gltf files into a Document.

Hand-written on numpy: files are memory-mapped, every length and index is checked before it is
used, and compressed inputs (EXT_meshopt_compression, KHR_draco_mesh_compression) are decoded so
that they can be optimized again.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np

from . import accessors as acc
from .breakdown import ByteBreakdown, breakdown
from .document import COLLECTIONS, COMPONENT_DTYPES, TYPE_SIZES, Accessor, Blob, Document, Image
from .errors import InvalidModel, LimitExceeded, UnsupportedModel
from .extensions import MESHOPT_EXTENSIONS, check_required
from .limits import DEFAULT_LIMITS, DecodeBudget, Limits
from .links import link
from .resources import map_file, read_data_uri, resolve_path
from .structure import check_structure
from .transforms import check_hierarchy

GLB_MAGIC = b"glTF"
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942


def read(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Read a .glb or .gltf file. External files are resolved inside the file's folder only."""
    path = Path(path)
    if not path.is_file():
        raise InvalidModel(f"{path.name}: no such file.")
    data = map_file(path)
    if not len(data):
        raise InvalidModel(f"{path.name}: the file is empty.")
    size = len(data)
    if bytes(data[:4]) == GLB_MAGIC:
        gltf, bin_chunk = parse_glb(data, limits)
    else:
        gltf, bin_chunk = parse_json(data, limits), None
    del data  # a .gltf's text is parsed: unmap it (a GLB's BIN chunk keeps its own view)
    doc, stats = _build(gltf, bin_chunk, path.parent, limits, size)
    doc.info["input_bytes"] = stats.total
    doc.info["limits"] = limits  # passes that decode more (images) check against the same limits
    doc.info["input_breakdown"] = stats
    return doc


def parse_glb(data: memoryview, limits: Limits) -> tuple[dict, memoryview | None]:
    """Split a GLB into its JSON (parsed) and its BIN chunk, checking every length."""
    if len(data) < 12:
        raise InvalidModel("The GLB file ends inside its 12-byte header.")
    _magic, version, length = struct.unpack_from("<4sII", data, 0)
    if version != 2:
        raise UnsupportedModel(f"GLB version {version} is not supported; only glTF 2.0 (GLB version 2).")
    if length > len(data):
        raise InvalidModel(
            f"The GLB header declares {length} bytes but the file has {len(data)}: it is truncated."
        )
    if length < 20:
        raise InvalidModel(
            f"The GLB header declares {length} bytes, too few for the JSON chunk: the file is damaged."
        )
    chunks: list[tuple[int, memoryview]] = []
    offset = 12
    while offset < length:
        if offset + 8 > length:
            raise InvalidModel(f"The GLB file ends inside a chunk header at byte {offset}.")
        chunk_length, chunk_type = struct.unpack_from("<II", data, offset)
        start = offset + 8
        if start + chunk_length > length:
            raise InvalidModel(
                f"A GLB chunk at byte {offset} declares {chunk_length} bytes, more than the file holds."
            )
        chunks.append((chunk_type, data[start : start + chunk_length]))
        offset = start + ((chunk_length + 3) & ~3)
    if chunks[0][0] != CHUNK_JSON:
        raise InvalidModel("The first GLB chunk must be the JSON chunk.")
    gltf = parse_json(chunks[0][1], limits)
    bin_chunk = None
    for position, (chunk_type, chunk) in enumerate(chunks[1:], start=1):
        if chunk_type == CHUNK_JSON:
            raise InvalidModel("The GLB file has more than one JSON chunk.")
        if chunk_type == CHUNK_BIN:
            if position != 1:
                raise InvalidModel("The GLB BIN chunk must directly follow the JSON chunk.")
            bin_chunk = chunk
    return gltf, bin_chunk


def parse_json(data: memoryview | bytes, limits: Limits) -> dict:
    """Parse glTF JSON with bounds on size and nesting."""
    if len(data) > limits.max_json_bytes:
        raise LimitExceeded(f"The glTF JSON is {len(data)} bytes; the limit is {limits.max_json_bytes}.")
    head = bytes(data[:512]).lstrip()
    if head[:1] == b"<":
        raise InvalidModel("This is an HTML or XML page, not a glTF model (was a web page saved instead?).")
    if head[:1] != b"{":
        raise InvalidModel("This is not a glTF model: it is neither a GLB file nor glTF JSON.")
    try:
        text = str(data, "utf-8-sig")  # straight from the (mapped) bytes: no extra copy
    except UnicodeDecodeError as exc:
        raise InvalidModel(f"The glTF JSON is not valid UTF-8 (byte {exc.start}).") from exc
    _check_shape(data, limits)
    try:
        gltf = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidModel(
            f"The glTF JSON is invalid: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        ) from exc
    except RecursionError as exc:
        raise LimitExceeded("The glTF JSON is nested too deeply.") from exc
    if not isinstance(gltf, dict):
        raise InvalidModel("The glTF JSON must be an object at the top level.")
    return gltf


def _reject_constant(name: str) -> Any:
    raise InvalidModel(f"The glTF JSON contains {name}, which JSON does not allow.")


_BRACKET_STEP = np.zeros(256, np.int8)
_BRACKET_STEP[[ord("{"), ord("[")]] = 1
_BRACKET_STEP[[ord("}"), ord("]")]] = -1
_BRACKETS = [ord(c) for c in "{[}]"]
_COMMA, _BRACE = ord(","), ord("{")
_SCAN_CHUNK = 1 << 22


def _check_shape(raw: memoryview | bytes, limits: Limits) -> None:
    """Refuse JSON nested deeper than max_json_depth without recursing, and JSON with more values
    or objects than the limits allow before parsing it (Python objects take many times the bytes
    of their text: a JSON of millions of tiny objects would take gigabytes). Brackets, braces and
    commas inside strings count too, which can only make the checks stricter for pathological
    names. Scanned in chunks so a large JSON (a big data URI) costs a few megabytes here, not
    several copies of itself."""
    chars = np.frombuffer(raw, dtype=np.uint8)
    depth = values = objects = 0
    for start in range(0, len(chars), _SCAN_CHUNK):
        chunk = chars[start : start + _SCAN_CHUNK]
        counts = np.bincount(chunk, minlength=256)
        values += int(counts[_COMMA])
        objects += int(counts[_BRACE])
        if not counts[_BRACKETS].any():
            continue
        steps = _BRACKET_STEP[chunk]
        running = np.cumsum(steps[steps != 0], dtype=np.int64) + depth
        if int(running.max()) > limits.max_json_depth:
            raise LimitExceeded(f"The glTF JSON is nested more than {limits.max_json_depth} levels deep.")
        depth = int(running[-1])
    if values > limits.max_json_values:
        raise LimitExceeded(
            f"The glTF JSON holds more than {limits.max_json_values:,} values (about {values:,}); "
            "a model this large is not supported."
        )
    if objects > limits.max_json_objects:
        raise LimitExceeded(
            f"The glTF JSON holds {objects:,} objects; the limit is {limits.max_json_objects:,}."
        )


def _list(gltf: dict, key: str) -> list:
    value = gltf.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise InvalidModel(f"'{key}' must be a list of objects.")
    return value


def _int(obj: dict, key: str, where: str, default: int | None = None, minimum: int = 0) -> int:
    value = obj.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidModel(f"{where}.{key} must be an integer of at least {minimum}, not {value!r}.")
    return value


def _build(
    gltf: dict, bin_chunk: memoryview | None, base: Path, limits: Limits, file_bytes: int
) -> tuple[Document, ByteBreakdown]:
    asset = gltf.get("asset")
    if not isinstance(asset, dict) or not str(asset.get("version", "")).startswith("2"):
        raise UnsupportedModel('Only glTF 2.0 is supported (the asset.version field must be "2.0").')
    check_required(gltf)
    check_structure(gltf)
    for key in (*COLLECTIONS, "buffers", "bufferViews"):
        gltf[key] = _list(gltf, key)

    external: dict[str, int] = {}
    buffers = [_read_buffer(i, b, bin_chunk, base, limits, external) for i, b in enumerate(gltf["buffers"])]
    budget = DecodeBudget(limits, file_bytes + sum(external.values()))
    views = [_read_view(i, v, buffers, limits, budget) for i, v in enumerate(gltf["bufferViews"])]
    accessors = [_read_accessor(i, a, views, limits, budget) for i, a in enumerate(gltf["accessors"])]
    image_files: dict[str, int] = {}
    images = [
        _read_image(i, im, views, base, limits, image_files, budget) for i, im in enumerate(gltf["images"])
    ]
    stats = breakdown(
        gltf, file_bytes + sum(external.values()) + sum(image_files.values()), sum(image_files.values())
    )

    # Draco streams are linked as Blobs so the draco codec can decode them after linking.
    for m, mesh in enumerate(gltf.get("meshes", [])):
        for p, prim in enumerate(
            mesh.get("primitives", []) if isinstance(mesh.get("primitives"), list) else []
        ):
            ext = (
                prim.get("extensions", {}).get("KHR_draco_mesh_compression")
                if isinstance(prim, dict)
                else None
            )
            if isinstance(ext, dict):
                v = _int(
                    ext, "bufferView", f"meshes[{m}].primitives[{p}].extensions.KHR_draco_mesh_compression"
                )
                if v >= len(views):
                    raise InvalidModel(f"meshes[{m}].primitives[{p}]: Draco bufferView {v} does not exist.")
                budget.take(len(views[v][0]), f"meshes[{m}].primitives[{p}]")
                ext["bufferView"] = Blob(bytes(views[v][0]))

    doc = Document()
    for key in COLLECTIONS:
        setattr(doc, key, gltf.pop(key, []))
    doc.accessors = accessors
    doc.images = images
    gltf.pop("buffers", None)
    gltf.pop("bufferViews", None)
    doc.root = gltf
    _check_meshes(doc)
    link(doc)
    check_hierarchy(doc)
    if any("KHR_draco_mesh_compression" in prim.get("extensions", {}) for _, prim in doc.primitives()):
        from .codecs.draco import decode_draco_primitives  # imported only for Draco input

        decode_draco_primitives(doc, limits, budget)
    check_geometry(doc)
    for name in (*MESHOPT_EXTENSIONS, "KHR_draco_mesh_compression"):
        doc.drop_extension(name)
    return doc, stats


def _read_buffer(
    index: int,
    buffer: dict,
    bin_chunk: memoryview | None,
    base: Path,
    limits: Limits,
    external: dict[str, int],
) -> memoryview:
    where = f"buffers[{index}]"
    length = _int(buffer, "byteLength", where)  # 0 is tolerated: some tools write empty fallbacks
    exts = buffer.get("extensions", {})
    is_fallback = any(isinstance(exts.get(e), dict) and exts[e].get("fallback") for e in MESHOPT_EXTENSIONS)
    uri = buffer.get("uri")
    if uri is None:
        if is_fallback:
            return memoryview(b"")
        if index != 0 or bin_chunk is None:
            raise InvalidModel(f"{where} has no uri and there is no GLB BIN chunk to hold it.")
        data = bin_chunk
    elif not isinstance(uri, str):
        raise InvalidModel(f"{where}.uri must be a string.")
    elif uri.startswith("data:"):
        data = memoryview(read_data_uri(uri, limits, where)[0])
    else:
        path = resolve_path(uri, base, where)
        data = map_file(path)
        external[str(path)] = len(data)
    if len(data) < length:
        if is_fallback:
            return memoryview(b"")
        raise InvalidModel(f"{where} declares {length} bytes but its data has only {len(data)}.")
    return data[:length]


def _read_view(
    index: int, view: dict, buffers: list[memoryview], limits: Limits, budget: DecodeBudget
) -> tuple[memoryview, int | None]:
    """(bytes, byteStride) of a bufferView, decompressed if it is meshopt-compressed."""
    where = f"bufferViews[{index}]"
    stride = view.get("byteStride")
    if stride is not None:
        stride = _int(view, "byteStride", where, minimum=1)
    for ext_name in MESHOPT_EXTENSIONS:
        ext = view.get("extensions", {}).get(ext_name)
        if isinstance(ext, dict):
            from .codecs.meshopt_codec import decode_view

            source = _slice(ext, buffers, f"{where}.extensions.{ext_name}")
            count = _int(ext, "count", where)
            size = _int(ext, "byteStride", where, minimum=1)
            declared = _int(view, "byteLength", where, minimum=1)
            if count * size != declared:
                raise InvalidModel(
                    f"{where}: its meshopt stream decodes to {count} x {size} bytes, "
                    f"but the bufferView declares {declared}."
                )
            budget.take(count * size, where)
            if count * size > limits.max_decoded_bytes:
                raise LimitExceeded(f"{where}: decompresses to more than {limits.max_decoded_bytes} bytes.")
            decoded = decode_view(source, ext, count, size, where)
            return memoryview(decoded), stride
    return _slice(view, buffers, where), stride


def _slice(view: dict, buffers: list[memoryview], where: str) -> memoryview:
    b = _int(view, "buffer", where)
    if b >= len(buffers):
        raise InvalidModel(f"{where} refers to buffer {b}, but the model has {len(buffers)} buffers.")
    offset = _int(view, "byteOffset", where, default=0)
    length = _int(view, "byteLength", where, minimum=1)
    data = buffers[b]
    if offset + length > len(data):
        raise InvalidModel(
            f"{where} needs bytes {offset} to {offset + length} of buffer {b}, which has only {len(data)}."
        )
    return data[offset : offset + length]


def _read_accessor(
    index: int, a: dict, views: list[tuple[memoryview, int | None]], limits: Limits, budget: DecodeBudget
) -> Accessor:
    where = f"accessors[{index}]"
    ctype = a.get("componentType")
    type_ = a.get("type")
    if ctype not in COMPONENT_DTYPES:
        raise InvalidModel(f"{where}.componentType {ctype!r} is not a glTF component type.")
    if type_ not in TYPE_SIZES:
        raise InvalidModel(f"{where}.type {type_!r} is not a glTF accessor type.")
    count = _int(a, "count", where, minimum=1)
    if count > limits.max_count:
        raise LimitExceeded(f"{where}.count is {count}; the limit is {limits.max_count}.")
    dtype = COMPONENT_DTYPES[ctype]
    budget.take(count * TYPE_SIZES[type_] * dtype.itemsize, where)
    if "bufferView" in a:
        v = _int(a, "bufferView", where)
        if v >= len(views):
            raise InvalidModel(
                f"{where} refers to bufferView {v}, but the model has {len(views)} bufferViews."
            )
        view, stride = views[v]
        data = acc.decode(view, _int(a, "byteOffset", where, default=0), count, type_, ctype, stride, where)
    else:
        data = np.zeros((count, TYPE_SIZES[type_]), dtype)
    sparse = a.get("sparse")
    if sparse is not None:
        data = _apply_sparse(data, sparse, views, where)
    props = {k: v for k, v in a.items() if k in ("name", "extras", "extensions")}
    return Accessor(data, type_, bool(a.get("normalized", False)), props, sparse=sparse is not None)


def _apply_sparse(
    data: np.ndarray, sparse: Any, views: list[tuple[memoryview, int | None]], where: str
) -> np.ndarray:
    where = f"{where}.sparse"
    if (
        not isinstance(sparse, dict)
        or not isinstance(sparse.get("indices"), dict)
        or not isinstance(sparse.get("values"), dict)
    ):
        raise InvalidModel(f"{where} must have indices and values.")
    n = _int(sparse, "count", where, minimum=1)
    if n > len(data):
        raise InvalidModel(f"{where}.count {n} exceeds the accessor's count {len(data)}.")
    ind, val = sparse["indices"], sparse["values"]
    ictype = ind.get("componentType")
    if ictype not in (5121, 5123, 5125):
        raise InvalidModel(f"{where}.indices.componentType must be an unsigned integer type.")
    iv = _int(ind, "bufferView", f"{where}.indices")
    vv = _int(val, "bufferView", f"{where}.values")
    if iv >= len(views) or vv >= len(views):
        raise InvalidModel(f"{where} refers to a bufferView that does not exist.")
    indices = acc.decode(
        views[iv][0], _int(ind, "byteOffset", where, default=0), n, "SCALAR", ictype, None, where
    )
    cols = data.shape[1]
    type_ = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 9: "MAT3", 16: "MAT4"}.get(cols, "MAT2")
    ctype = next(k for k, v in COMPONENT_DTYPES.items() if v == data.dtype)
    values = acc.decode(views[vv][0], _int(val, "byteOffset", where, default=0), n, type_, ctype, None, where)
    indices = indices[:, 0]
    if indices.size and int(indices.max()) >= len(data):
        raise InvalidModel(f"{where} has an index past the accessor's {len(data)} elements.")
    data = data.copy() if not data.flags.writeable else data
    data[indices.astype(np.int64)] = values
    return data


MIME_BY_MAGIC = (
    (b"\x89PNG", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\xabKTX 20\xbb", "image/ktx2"),
    (b"DDS ", "image/vnd-ms.dds"),
)


def sniff_mime(data: bytes) -> str | None:
    for magic, mime in MIME_BY_MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp" and data[8:12] in (b"avif", b"avis"):
        return "image/avif"
    return None


def _read_image(
    index: int,
    im: dict,
    views: list[tuple[memoryview, int | None]],
    base: Path,
    limits: Limits,
    external: dict[str, int],
    budget: DecodeBudget,
) -> Image:
    where = f"images[{index}]"
    source_name = None
    if "bufferView" in im:
        v = _int(im, "bufferView", where)
        if v >= len(views):
            raise InvalidModel(f"{where} refers to bufferView {v}, which does not exist.")
        budget.take(len(views[v][0]), where)
        data = bytes(views[v][0])
        declared = im.get("mimeType")
    elif isinstance(im.get("uri"), str):
        uri = im["uri"]
        if uri.startswith("data:"):
            data, declared = read_data_uri(uri, limits, where)
        else:
            path = resolve_path(uri, base, where)
            data = bytes(map_file(path))
            external[str(path)] = len(data)
            declared = im.get("mimeType")
            source_name = path.name
    else:
        raise InvalidModel(f"{where} has neither a uri nor a bufferView.")
    if not data:
        raise InvalidModel(f"{where} is empty (0 bytes).")
    mime = sniff_mime(data) or (declared if isinstance(declared, str) else None) or "application/octet-stream"
    props = {k: v for k, v in im.items() if k in ("name", "extras", "extensions")}
    return Image(data, mime, props, source_name)


def _check_meshes(doc: Document) -> None:
    """Structure checks before linking."""
    for m, mesh in enumerate(doc.meshes):
        prims = mesh.get("primitives")
        if not isinstance(prims, list) or not prims or not all(isinstance(p, dict) for p in prims):
            raise InvalidModel(f"meshes[{m}] must have a non-empty list of primitives.")
        for p, prim in enumerate(prims):
            if not isinstance(prim.get("attributes"), dict):
                raise InvalidModel(f"meshes[{m}].primitives[{p}] has no attributes.")
            targets = prim.get("targets", [])
            if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
                raise InvalidModel(f"meshes[{m}].primitives[{p}].targets must be a list of objects.")


def check_geometry(doc: Document) -> None:
    """Data checks after linking and decoding: equal attribute counts, indices in range, finite
    floats (NaN or infinity in a model breaks bounds, normals and every viewer)."""
    for m, mesh in enumerate(doc.meshes):
        for p, prim in enumerate(mesh["primitives"]):
            where = f"meshes[{m}].primitives[{p}]"
            attributes = [a for t in [prim["attributes"], *prim.get("targets", [])] for a in t.values()]
            counts = {a.count for a in attributes}
            if len(counts) > 1:
                raise InvalidModel(f"{where}: its attributes have different counts {sorted(counts)}.")
            indices = prim.get("indices")
            if indices is not None and counts and indices.count:
                if indices.data.dtype.kind == "f" or indices.type != "SCALAR":
                    raise InvalidModel(f"{where}: indices must be unsigned integer scalars.")
                top = int(indices.data.max())
                if top >= next(iter(counts)):
                    raise InvalidModel(
                        f"{where}: index {top} is out of range for {next(iter(counts))} vertices."
                    )
    for i, a in enumerate(doc.accessors):
        if a.data.dtype.kind == "f" and not np.isfinite(a.data).all():
            raise InvalidModel(f"accessors[{i}] contains NaN or infinite values.")
