"""textures: re-encode every texture as WebP, AVIF, KTX2 (Basis Universal), PNG or JPEG, at the
lowest quality that still looks like the source, and turn solid-colour textures into factors.

Textures are most of the bytes of most real models. Each image is classified by the material slots
that read it (colour: sRGB, lossy with chroma subsampling; normal: strictest; data such as packed
occlusion/roughness/metalness: linear, every channel its own signal; see textures/classify.py).
With ``texture_quality=0`` (auto) each texture gets the lowest encoder quality whose SSIM against
the source meets its class's target, or near-lossless WebP, or a palette image for flat colour art
(textures/choose.py, over the search in textures/quality.py). Channels no slot reads are not
stored (an opaque material's base-colour alpha; G and B of an occlusion-only map). Images can be
scaled down (never up), and each new image either replaces the old (its extension becomes
required) or keeps a PNG/JPEG fallback (``texture_fallback``: the extension stays optional). An
encoding that comes out larger than the original is not used (except KTX2, chosen for GPU memory
rather than bytes). KTX2 inputs are left as they are unless ``texture_reencode_ktx2``.

Images are decoded with their pixel count checked first (LimitExceeded names the image) and
encoded in parallel threads (Pillow and numpy release the GIL; basisu is a separate process).
The report lists every image: class, slots, format, bytes and size before and after, the quality
chosen, and SSIM/PSNR of the result against the (resized) source.

Example::

    textures(doc, TexturesOptions(texture_format="webp"))
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..document import Document, Image
from ..errors import EngineError, InvalidOptions, LimitExceeded
from ..limits import DEFAULT_LIMITS
from ..pass_options import TexturesOptions
from ..progress import pass_progress

NAME = "textures"

DEFAULTS = TexturesOptions()
CORE = ("image/png", "image/jpeg")


@dataclass
class _Result:
    """What became of one reference image (computed in a worker thread; applied in order)."""

    entry: Any  # classify.ImageUse
    row: dict
    solid: Any = None  # solid.Solid
    primary: tuple[bytes, str] | None = None
    """New bytes and MIME type, or None to leave the image as it is."""
    fallback: tuple[bytes, str] | None = None
    keep_original_fallback: bool = False
    warning: str | None = None


def textures(doc: Document, options: TexturesOptions = DEFAULTS) -> dict:
    from ..textures.classify import image_uses

    _check(options)
    limits = doc.info.get("limits", DEFAULT_LIMITS)
    animated = _animated_materials(doc)
    entries = [e for e in image_uses(doc) if _wanted(e, options)]
    for entry in entries:
        entry.animated = any(id(use.material) in animated for use in entry.uses)
    index_of = {id(image): i for i, image in enumerate(doc.images)}

    def work(entry: Any) -> _Result:
        where = _where(entry.image, index_of[id(entry.image)])
        return _process(entry, where, options, limits.max_image_pixels)

    results = _parallel(work, entries, pass_progress(doc))
    out: dict[str, Any] = {}
    rows, warnings = [], []
    folded = solid_images = 0
    for result in results:
        if result.warning:
            warnings.append(result.warning)
        if result.solid is not None:
            folded += _apply_solid(doc, result, options, animated)
            solid_images += 1
        elif result.primary is not None:
            _apply(doc, result, keep_others=options.texture_format == "keep")
        rows.append(result.row)
    _declare_extensions(doc)
    changed = [r for r in rows if r.get("after")]
    if changed:
        before = sum(r["before"]["bytes"] for r in changed)
        after = sum(r["after"]["bytes"] for r in changed)
        out["images re-encoded"] = len(changed)
        out["texture bytes"] = f"{before} -> {after}"
    if solid_images:
        out["solid textures"] = solid_images
        out["texture slots folded into factors"] = folded
    if rows:
        out["textures"] = rows
        measured = [r["ssim"] for r in rows if "ssim" in r]
        if measured:
            out["fidelity"] = {"texture_min_ssim": round(min(measured), 5)}
    if warnings:
        out["warnings"] = warnings
    return out


def _check(options: TexturesOptions) -> None:
    """A missing KTX2 encoder is an options error, raised before any work."""
    if options.texture_format == "ktx2" or options.texture_reencode_ktx2:
        from ..textures import basisu

        if basisu.find() is None:
            raise InvalidOptions(basisu.INSTALL_HINT)


def _wanted(entry: Any, options: TexturesOptions) -> bool:
    """KTX2 textures stay as they are unless re-encoding them was asked for."""
    from ..textures.classify import texture_images

    if options.texture_reencode_ktx2:
        return True
    return not any(im.mime_type == "image/ktx2" for t in entry.textures for im in texture_images(t))


def _where(image: Image, index: int) -> str:
    name = image.name or image.source_name
    return f"images[{index}]" + (f" ({name})" if name else "")


ENCODES_HALFWAY = 3
"""For the progress shown while an image is worked on: after this many encodes it counts as half
done (after n encodes, n / (n + 3) of the way; finished, all of it). The 59 corpus images take
0 to 7 (none where an image is folded into a factor or kept), most 2 or 4."""


def _parallel(
    work: Callable[[Any], _Result], entries: list, report: Callable[[float, str], None]
) -> list[_Result]:
    """work(entry) for every entry on a thread pool; results (and the first error) in order.
    report(fraction, "finished/total") after each encode and each finished image (from this
    thread), so that the bar moves while a large image is searched."""
    import queue
    from concurrent.futures import ThreadPoolExecutor

    from ..textures.choose import ENCODED

    total = len(entries)
    if not total:
        return []
    events: queue.SimpleQueue[tuple[int, bool]] = queue.SimpleQueue()  # (image, finished)

    def run(index: int) -> _Result:
        ENCODED.set(lambda: events.put((index, False)))
        try:
            return work(entries[index])
        finally:
            events.put((index, True))

    encodes, finished = [0] * total, [False] * total
    workers = min(total, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="textures") as pool:
        futures = {i: pool.submit(run, i) for i in sorted(range(total), key=lambda i: -_cost(entries[i]))}
        while not all(finished):
            index, done = events.get()
            encodes[index] += not done
            finished[index] = finished[index] or done
            ways = [1.0 if f else n / (n + ENCODES_HALFWAY) for n, f in zip(encodes, finished, strict=True)]
            report(sum(ways) / total, f"{sum(finished)}/{total}")
        return [futures[i].result() for i in range(total)]


def _cost(entry: Any) -> int:
    """How long an image's search is likely to take, to start the longest first (so that no worker
    is left with a large image after the others have finished): its encoded size."""
    return len(entry.image.data)


# -- one image ------------------------------------------------------------------------------------


def _process(entry: Any, where: str, options: TexturesOptions, max_pixels: int) -> _Result:
    from ..textures import pixels

    image = entry.image
    row: dict[str, Any] = {
        "image": where,
        "class": entry.kind,
        "slots": entry.slots,
        "before": {"format": _format_name(image.mime_type), "bytes": len(image.data)},
    }
    result = _Result(entry, row)
    try:
        source = _decode(image, where, max_pixels)
        row["before"]["size"] = f"{source.width}x{source.height}"
        _encode(result, source, options)
    except LimitExceeded:
        raise
    except EngineError as exc:
        result.warning = f"{exc.message} The image was left as it is."
    except pixels.ToolError as exc:
        result.warning = f"{where}: {exc} The image was left as it is."
    if result.warning:
        result.solid = result.primary = result.fallback = None
        result.keep_original_fallback = False
        row.pop("after", None)
        row["note"] = "left as it is (see warnings)"
    return result


def _decode(image: Image, where: str, max_pixels: int) -> Any:
    from ..textures import basisu, pixels

    if image.mime_type != "image/ktx2":
        return pixels.decode(image.data, image.mime_type, where, max_pixels)
    info = basisu.ktx2_info(image.data, where)
    pixels.check_pixels(info.width, info.height, where, max_pixels)
    return pixels.Pixels(basisu.decode(image.data))


def _encode(result: _Result, source: Any, options: TexturesOptions) -> None:
    from ..textures import choose, pixels, quality, solid
    from ..textures.classify import NORMAL
    from ..textures.encoders import FORMAT_OF_MIME, MIME

    entry, row = result.entry, result.row
    array = _used_channels(source.array, entry.channels)
    if options.texture_solid:
        value = solid.solid_value(
            array, _read_channels(entry.channels, array), options.texture_solid_tolerance
        )
        if value is not None:
            result.solid = value
            row["after"] = {"format": "factor", "bytes": 0, "size": "1x1"}
            row["note"] = f"single colour {value.value.tolist()}"
            return
    if source.orientation != 1:
        row["note"] = (
            f"kept: EXIF orientation {source.orientation} (web viewers turn the image by it, other "
            "viewers do not; a re-encoded image would lose it)"
        )
        return
    original_format = FORMAT_OF_MIME.get(entry.image.mime_type, "png")
    target = options.texture_format if options.texture_format != "keep" else original_format
    srgb = entry.srgb
    if target == "ktx2" and srgb is None:
        result.warning = (
            f"{row['image']} is read as sRGB colour and as linear data; a KTX2 image has one transfer "
            "function, so it was left as it is."
        )
        row["note"] = "read as colour and as data: not converted to KTX2"
        return
    width, height = _size(source, entry.kind, target, options)
    resized = (width, height) != (source.width, source.height)
    if not resized and (
        (options.texture_format == "keep" and target != "png") or (target == "png" and source.bits == 16)
    ):
        row["note"] = "kept (re-encoding would lose precision or gain nothing)"
        return
    scaled = pixels.resize(pixels.Pixels(array, source.bits), width, height, entry.kind == NORMAL)
    array = scaled.array
    if target == "jpeg" and array.shape[2] == 4:
        target = "png"  # JPEG has no alpha, and this image's alpha is read
        row["note"] = "alpha is read: PNG instead of JPEG"
    read = _read_channels(entry.channels, array)
    best = choose.best_encoding(array, read, entry, target, srgb, options)
    if best is None and not resized:
        row["note"] = f"kept: no {target} quality reaches the SSIM target"
        return
    if best is None:  # resized, so the source cannot stay: exact PNG
        target = "png"
        best = choose.best_encoding(array, read, entry, target, srgb, options)
    assert best is not None
    chosen, data, measured = best
    larger = len(data) >= len(entry.image.data) and entry.image.mime_type in (*CORE, MIME[target])
    if target != "ktx2" and not resized and larger:
        row["note"] = f"kept: {chosen.describe()} was not smaller ({len(data)} bytes)"
        return
    if chosen.format != target:  # choose._jpeg_rival
        row["note"] = "full chroma: at least as close as WebP, and smaller"
        target = chosen.format
    result.primary = (data, MIME[target])
    row["after"] = {"format": target, "bytes": len(data), "size": f"{width}x{height}"}
    row["quality"] = chosen.quality
    if chosen.lossless or target == "png":
        row["quality"] = f"near-lossless ±{chosen.step // 2}" if chosen.step > 1 else "lossless"
        if chosen.palette:
            row["quality"] = f"palette ±{chosen.palette}"
    if target == "ktx2":
        row["codec"] = "uastc" if chosen.uastc else "etc1s"
    row["ssim"], row["psnr"] = round(measured[0], 5), round(measured[1], 2)
    if quality.sampled(array.shape, quality.TILE, quality.VERIFY_GRID) and measured != choose.EXACT:
        row["measured on"] = "64 tiles of 128x128 pixels"
    if target in ("webp", "avif", "ktx2") and options.texture_fallback:
        _fallback(result, array, resized, original_format)


def _used_channels(array: Any, channels: tuple[int, ...]) -> Any:
    """Channels no slot reads are not stored: alpha dropped; an image read through one colour
    channel only (occlusion, say) becomes grey, which every viewer reads back in R, G and B."""
    if array.shape[2] == 4 and 3 not in channels:
        array = array[..., :3]
    if array.shape[2] >= 3 and len(channels) == 1 and channels[0] < 3:
        array = array[..., channels[0] : channels[0] + 1]
    return array


def _read_channels(channels: tuple[int, ...], array: Any) -> tuple[int, ...]:
    """The slots' channels as indices into array: a grey array's one channel stands for R, G and
    B; alpha that the image does not store reads as opaque, a constant, and is left out (a slot
    that reads only that finds a solid texture)."""
    if array.shape[2] == 1:
        return (0,) if any(c < 3 for c in channels) else ()
    return tuple(c for c in channels if c < array.shape[2])


def _size(source: Any, kind: str, target: str, options: TexturesOptions) -> tuple[int, int]:
    from ..textures.classify import DATA, NORMAL
    from ..textures.pixels import target_size

    scale = options.texture_scale
    if kind == NORMAL:
        scale = options.texture_scale_normal
    elif kind == DATA:
        scale = options.texture_scale_data
    width, height = target_size(
        source.width, source.height, scale, options.texture_max_size, options.texture_pow2
    )
    if target == "ktx2":
        # KHR_texture_basisu: the base level's sides are multiples of four.
        width, height = max(4, width - width % 4), max(4, height - height % 4)
    return width, height


def _fallback(result: _Result, array: Any, resized: bool, original_format: str) -> None:
    """A core image for viewers without the extension: the original where it is PNG or JPEG and
    the size did not change, else the resized pixels as JPEG (from a JPEG, no alpha) or PNG."""
    from ..textures.encoders import Encoding, encode

    if not resized and result.entry.image.mime_type in ("image/png", "image/jpeg"):
        result.keep_original_fallback = True
        return
    if original_format == "jpeg" and array.shape[2] != 4:
        result.fallback = (encode(array, Encoding("jpeg", 90, kind=result.entry.kind)), "image/jpeg")
    else:
        result.fallback = (encode(array, Encoding("png")), "image/png")


def _format_name(mime: str) -> str:
    return mime.split("/")[-1]


# -- applying results to the document ------------------------------------------------------------


def _new_image(doc: Document, like: Image, data: bytes, mime: str) -> Image:
    props = {k: v for k, v in like.props.items() if k in ("name", "extras")}
    image = Image(data, mime, props, like.source_name)
    doc.images.append(image)
    return image


def _apply(doc: Document, result: _Result, keep_others: bool) -> None:
    """Point every texture of the image at the new image (and its fallback). keep_others (format
    "keep"): a recompressed core image replaces only the core source; WebP, AVIF or KTX2 images
    beside it stay."""
    from ..textures.encoders import EXTENSION, FORMAT_OF_MIME

    data, mime = result.primary  # type: ignore[misc]
    original = result.entry.image
    primary = _new_image(doc, original, data, mime)
    fallback = None
    if result.keep_original_fallback:
        fallback = original
    elif result.fallback is not None:
        fallback = _new_image(doc, original, *result.fallback)
    ext_name = EXTENSION.get(FORMAT_OF_MIME[mime])
    for texture in result.entry.textures:
        if ext_name is None and keep_others:
            texture["source"] = primary
            continue
        _clear_sources(texture)
        if ext_name is None:
            texture["source"] = primary
            continue
        texture.setdefault("extensions", {})[ext_name] = {"source": primary}
        if fallback is not None:
            texture["source"] = fallback


def _clear_sources(texture: dict) -> None:
    from ..textures.classify import IMAGE_EXTENSIONS

    texture.pop("source", None)
    exts = texture.get("extensions")
    if isinstance(exts, dict):
        for name in IMAGE_EXTENSIONS:
            exts.pop(name, None)
        if not exts:
            del texture["extensions"]


def _apply_solid(doc: Document, result: _Result, options: TexturesOptions, animated: set[int]) -> int:
    """Fold the constant into each slot that allows it; other slots keep a one-pixel image."""
    from ..textures import solid
    from ..textures.encoders import Encoding, encode

    folded = 0
    left = False
    for use in result.entry.uses:
        if id(use.material) in animated or not solid.fold(use, result.solid, options.texture_solid_tolerance):
            left = True
        else:
            folded += 1
    if left:
        import numpy as np

        pixel = np.asarray(result.solid.value, np.uint8).reshape(1, 1, -1)
        image = _new_image(doc, result.entry.image, encode(pixel, Encoding("png")), "image/png")
        for texture in result.entry.textures:
            _clear_sources(texture)
            texture["source"] = image
        result.row["after"]["bytes"] = len(image.data)
        result.row["after"]["format"] = "png"
    return folded


def _animated_materials(doc: Document) -> set[int]:
    """ids of materials that KHR_animation_pointer animates (their factors and slots must stay)."""
    from ..document import Pointer

    found: set[int] = set()
    for anim in doc.animations:
        for channel in anim.get("channels", []):
            pointer = channel.get("target", {}).get("extensions", {}).get("KHR_animation_pointer", {})
            target = pointer.get("pointer") if isinstance(pointer, dict) else None
            if isinstance(target, Pointer) and target.collection == "materials":
                found.add(id(target.target))
    return found


def _declare_extensions(doc: Document) -> None:
    """Each image extension in use is required exactly when some texture has no core fallback."""
    from ..links import reachable
    from ..textures.classify import IMAGE_EXTENSIONS

    keep = reachable(doc)
    live = [t for t in doc.textures if id(t) in keep]
    for name in IMAGE_EXTENSIONS:
        users = [t for t in live if isinstance(t.get("extensions", {}).get(name), dict)]
        if not users:
            continue
        required = any(not isinstance(t.get("source"), Image) for t in users)
        doc.use_extension(name, required=required)
        if not required and name in doc.root.get("extensionsRequired", []):
            doc.root["extensionsRequired"].remove(name)
