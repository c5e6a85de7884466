"""textures: re-encode every texture as WebP, AVIF, KTX2 (Basis Universal), PNG or JPEG, at the
lowest quality that still looks like the source, and turn solid-colour textures into factors.

Textures are most of the bytes of most real models. Each image is classified by the material slots
that read it (colour: sRGB, lossy with chroma subsampling; normal: strictest; data such as packed
occlusion/roughness/metalness: linear, every channel its own signal; see textures/classify.py).
With ``texture_quality=0`` (auto) the pass searches, per texture, the lowest encoder quality whose
SSIM against the source meets the class's target (on the whole image up to 2048x2048, on a
2048x2048 mosaic of four tiles beyond, so the cost is bounded: see textures/quality.py), then
encodes the whole image and checks the target again. Where no lossy quality meets the target on a
PNG source (WebP's lossy mode halves chroma resolution), WebP's lossless mode takes values rounded
to a few levels (near-lossless, NEAR_LOSSLESS_STEPS), about half the bytes of exact. A colour PNG
of flat art may also become a palette image of at most 256 colours, each pixel within a few levels
(PALETTE_RADII, textures/palette.py), where that is smaller still. Channels no
slot reads are not stored (an opaque material's base-colour alpha; G and B of an occlusion-only
map). Images can be scaled down (never up), and each new image either replaces the old (its
extension becomes required) or keeps a PNG/JPEG fallback (``texture_fallback``: the extension
stays optional). An encoding that comes out larger than the original is not used (except KTX2,
chosen for GPU memory rather than bytes). KTX2's auto quality is a fixed setting per codec (Basis
encodes are too slow to search); for a PNG source it climbs a short ladder (ETC1S, UASTC with RDO,
UASTC without) until the target is met.
KTX2 inputs are left as they are unless ``texture_reencode_ktx2``.

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
from dataclasses import dataclass, replace
from typing import Any

from ..document import Document, Image
from ..errors import EngineError, InvalidOptions, LimitExceeded
from ..limits import DEFAULT_LIMITS
from ..pass_options import TexturesOptions

NAME = "textures"

DEFAULTS = TexturesOptions()
AUTO_LOWEST = 10
"""The auto search's lowest quality: below it every codec's artefacts are plain to see."""
AUTO_START = 80
"""The auto search's first quality (quality.lowest_quality's start): most corpus colour textures
and maps from JPEG land between WebP q75 and q86, so the search starts near its answer, and the
largest, slowest encode, quality 100, is made only where 80 misses. Over 19 corpus textures:
4.2 encodes each instead of 5.1, and 44% fewer encoded bytes. Normal and data maps from PNG start
at 100: WebP's lossy mode rarely reproduces them (they go near-lossless), and one probe says so."""
CORE = ("image/png", "image/jpeg")
KTX2_AUTO_QUALITY = {False: 75, True: 92}
"""KTX2 with texture_quality 0, by codec (the ladder's first steps): ETC1S quality level 192 of
255, UASTC with RDO lambda 0.4 (gltfpack's defaults)."""
MIN_PSNR = {"color": 30.0, "normal": 34.0, "data": 34.0}
"""PSNR floors (dB) beside the SSIM targets: data and normal maps hold values, whose absolute
errors shade every pixel (a roughness map 4 levels off on average is at 36 dB)."""
LOSSY_SOURCE_SLACK = (0.02, 2.0)
"""On a lossy (JPEG, WebP) source whose goal the search's first quality misses, the goal is at
most this far below the best SSIM and PSNR the codec reaches (quality 100)."""
SAMPLE_SLACK = 0.01
"""How far the whole image's SSIM may fall below the target the tile mosaic met before the
quality is raised (the mosaic's estimate is usually within a few thousandths)."""
NEAR_LOSSLESS_STEPS = {"color": (5, 3), "normal": (3,), "data": (7, 5, 3)}
"""Where no lossy WebP quality meets the goal on a lossless source (WebP's lossy mode halves the
chroma resolution, which a normal or packed data map cannot take), its lossless mode after
rounding values to these steps, coarsest first, keeping the first that meets the goal. Odd steps:
step 2k + 1 keeps every value within k levels with the fewest distinct values. Within 2 levels
for colour, 1 for normal maps (FlightHelmet's worst rendered view has SSIM 0.9815 with exact
normal maps, 0.9801 within 1 level, 0.9794 within 2), 3 for data maps (roughness, metalness or
occlusion 1% off is invisible) and for normal maps that shade only rough surfaces, which take
data's allowances (_allowances: SpherePbrNext's, 89.5 kB within 1 level, 61 kB within 3, worst
view 0.9949 both ways).
Exact lossless only where every step misses."""
EXACT = (1.0, 100.0)
"""(SSIM, PSNR) of a lossless encoding."""
PALETTE_RADII = (4, 2)
"""A colour texture from a lossless source (logos, labels, UV grids, flat-shaded art) becomes a
WebP palette image of at most 256 colours where that is smaller than its other encodings: each
pixel within 4 levels of the source, else within 2 (textures/palette.py). BoxTexturedDraco's logo
(2601 colours, only from anti-aliasing): near-lossless 7.0 kB, palette within 4 levels 4.7 kB;
MultiUVTest's second UV grid (240 colours): lossy q21 15.8 kB, exact as a palette 6.4 kB."""
PALETTE_SHIFT = 2.0
"""How far (levels) a palette may move any 7x7 area's mean (quality.largest_shift): no further
than near-lossless's rounding can. Merging colours within 4 levels leaves a logo's or a UV grid's
areas where they were (only edge and noise colours move: BoxTexturedDraco's logo 1.2 levels),
but puts steps into a smooth gradient (banding), which moves whole bands by up to 4 (a generated
gradient: 4.0; SphereLights' base colour, which has shaded gradients: 4.0; so it is merged within
2 levels instead). SSIM hardly sees that banding (0.98 to 0.99 on such gradients)."""
PALETTE_PIXELS = 1 << 20
"""Above this size a texture that a lossy quality already matches is first encoded as a palette on
a sample of a million pixels (quality.sample, four tiles of 512x512), and whole only where that
sample's bytes, scaled to the whole image, undercut the lossy encoding: a lossless encode of the
whole costs a second or more, and a photograph's lossy encoding wins anyway (CesiumMilkTruck's
2048x2048 texture has 136 colours, yet is 374 kB as a palette, 33 kB lossy). A 2048x2048 grid of
grey cells: lossy q11 13.9 kB, exact as a palette 3.6 kB."""
PALETTE_SAMPLE = (512, 2)
"""quality.sample's tile and grid for that estimate."""


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

    results = _parallel(work, entries)
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


def _parallel(work: Callable[[Any], _Result], entries: list) -> list[_Result]:
    """work(entry) for every entry on a thread pool; results (and the first error) in order."""
    workers = min(len(entries), os.cpu_count() or 1)
    if workers <= 1:
        return [work(e) for e in entries]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="textures") as pool:
        futures = [pool.submit(work, e) for e in entries]
        return [f.result() for f in futures]


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
    from ..textures import pixels, quality, solid
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
    best = _best_encoding(array, read, entry, target, srgb, options)
    if best is None and not resized:
        row["note"] = f"kept: no {target} quality reaches the SSIM target"
        return
    if best is None:  # resized, so the source cannot stay: exact PNG
        target = "png"
        best = _best_encoding(array, read, entry, target, srgb, options)
    assert best is not None
    chosen, data, measured = best
    larger = len(data) >= len(entry.image.data) and entry.image.mime_type in (*CORE, MIME[target])
    if target != "ktx2" and not resized and larger:
        row["note"] = f"kept: {chosen.describe()} was not smaller ({len(data)} bytes)"
        return
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
    if quality.sampled(array.shape, quality.TILE, quality.VERIFY_GRID) and measured != EXACT:
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


def _goal(kind: str, options: TexturesOptions) -> Any:
    from ..textures.classify import COLOR, DATA, NORMAL
    from ..textures.quality import Goal

    ssim = {COLOR: options.texture_ssim, NORMAL: options.texture_ssim_normal, DATA: options.texture_ssim_data}
    return Goal(ssim[kind], MIN_PSNR[kind])


def _best_encoding(
    array: Any, read: tuple[int, ...], entry: Any, target: str, srgb: bool | None, options: TexturesOptions
) -> tuple[Any, bytes, tuple[float, float]] | None:
    """The encoding to use, its bytes, and (SSIM, PSNR) of its decoded pixels against array in
    the channels the slots read; None where the format cannot match a lossless source. With auto
    quality, a colour texture from a lossless source may also become a palette image (_palette),
    where that is smaller."""
    from ..textures.classify import COLOR

    best = _encoding(array, read, entry, target, srgb, options)
    if (
        target == "webp"
        and not options.texture_quality
        and entry.kind == COLOR
        and entry.image.mime_type == "image/png"
    ):
        palette = _palette(array, read, best, entry, options)
        if palette is not None and (best is None or len(palette[1]) < len(best[1])):
            return palette
    return best


def _palette(
    array: Any, read: tuple[int, ...], best: Any, entry: Any, options: TexturesOptions
) -> tuple[Any, bytes, tuple[float, float]] | None:
    """The image reduced to at most 256 colours within PALETTE_RADII levels (the widest that
    meets the goal and moves no area by more than PALETTE_SHIFT), as WebP lossless; None where no
    radius does, or where a larger image's sample says it would not undercut best's lossy bytes
    (PALETTE_PIXELS)."""
    from ..textures import palette, quality
    from ..textures.encoders import Encoding, encode

    goal = _goal(entry.kind, options)
    base = best[0] if best else Encoding("webp", kind=entry.kind)
    pixels = array.shape[0] * array.shape[1]
    lossy_bytes = len(best[1]) if best and not best[0].lossless and pixels > PALETTE_PIXELS else 0
    for radius in PALETTE_RADII:
        reduced = palette.reduce(array, radius)
        if reduced is None:
            return None  # a narrower radius needs more colours still
        exact = reduced is array
        if not exact and quality.largest_shift(array, reduced) > PALETTE_SHIFT:
            continue  # banding: a narrower radius may not band
        how = replace(base, lossless=True, step=1, palette=0 if exact else radius, quality=100)
        if lossy_bytes:
            sample = quality.sample(reduced, *PALETTE_SAMPLE)
            if len(encode(sample, how)) * pixels / (sample.shape[0] * sample.shape[1]) >= lossy_bytes:
                return None  # a narrower radius would not be smaller
        data = encode(reduced, how)  # already a palette: encode's own reduction returns it as it is
        measured = _measure(array, data, how, read)
        if exact or goal.met(quality.Probe(radius, *measured, len(data))):
            return how, data, measured
    return None


def _encoding(
    array: Any, read: tuple[int, ...], entry: Any, target: str, srgb: bool | None, options: TexturesOptions
) -> tuple[Any, bytes, tuple[float, float]] | None:
    """_best_encoding without the palette: the format's own modes (the auto search, near-lossless)."""
    from ..textures import quality
    from ..textures.classify import COLOR, NORMAL
    from ..textures.encoders import Encoding, encode, quality_axis

    uastc = options.texture_ktx2_mode == "uastc" or (
        options.texture_ktx2_mode == "auto" and entry.kind != COLOR
    )
    base = Encoding(target, 100, False, entry.kind, srgb is not False, uastc)
    if target == "png":
        return base, encode(array, base), EXACT
    goal = _goal(entry.kind, options)
    lossless_source = entry.image.mime_type == "image/png"
    if target == "ktx2" and not options.texture_quality:
        return _ktx2_auto(array, read, base, goal, options, climb=lossless_source)
    if options.texture_quality:
        how = replace(base, quality=options.texture_quality)
        data = encode(array, how)
        return how, data, _measure(array, data, how, read)
    sample = quality.sample(array)
    mosaic_tile = 0 if sample is array else quality.SEARCH_TILE
    tried: dict[int, tuple[quality.Probe, bytes]] = {}

    def probe(q: int) -> quality.Probe:
        if q not in tried:
            how = replace(base, quality=q)
            data = encode(sample, how)
            tried[q] = (quality.Probe(q, *_measure(sample, data, how, read, mosaic_tile), len(data)), data)
        return tried[q][0]

    axis = quality_axis(target)
    start = _auto_start(entry.kind, lossless_source)
    allowances = _allowances(entry)
    if not lossless_source and allowances != NORMAL and not goal.met(probe(start)):
        # A lossy source caps what any re-encoding can match (its own artefacts, its chroma
        # subsampling): aim no higher than just below the best this codec reaches. Without this,
        # a goal just under that best buys the source's artefacts at great cost (DamagedHelmet's
        # packed map: quality 96, 1.08 MB, for SSIM 0.940 where 100 reaches 0.946), while one
        # just over it would be relaxed. Normal maps only where they shade rough surfaces
        # alone (_allowances): elsewhere every error tilts a sharp reflection (SpherePbrNext's
        # clearcoat normal map from JPEG at such a goal: quality 86 for 100, and its worst
        # rendered view falls from SSIM 0.995 to 0.934), so where no quality meets their goal
        # they get the codec's best, or keep their source if that is smaller. On a rough
        # surface the codec's chroma subsampling shows no more than the source's own artefacts
        # (Soldier's JPEG normal map: quality 92 for 100, 203 kB for 331, worst view 0.9900
        # for 0.9901).
        best = probe(100)
        goal = quality.Goal(
            min(goal.ssim, best.ssim - LOSSY_SOURCE_SLACK[0]),
            min(goal.psnr, best.psnr - LOSSY_SOURCE_SLACK[1]),
        )
    found = quality.lowest_quality(probe, goal, low=AUTO_LOWEST, axis=axis, start=start)
    if found is None:
        if target == "webp" and not lossless_source and sample is array:
            # WebP's lossy mode has no full-chroma setting: its strongest encoding is the probe at
            # 100, already made (and measured) on the whole image.
            return replace(base, quality=100), tried[100][1], (probe(100).ssim, probe(100).psnr)
        steps = NEAR_LOSSLESS_STEPS[allowances]
        how, data, measured = _strongest(array, base, read, lossless_source, goal, steps)
        if lossless_source and measured[0] < goal.ssim - SAMPLE_SLACK:
            return None  # a PNG (sharp colour edges, say) that this lossy format cannot match
        return how, data, measured
    if sample is array:  # up to 2048x2048 a texture is its own sample: the probe was the real thing
        return replace(base, quality=found.quality), tried[found.quality][1], (found.ssim, found.psnr)
    # The mosaic stands in for the whole image; where the two disagree by more than the search's
    # noise, the quality is raised until the whole image passes too (in a bounded number of whole
    # encodes: see quality.settle).
    whole: dict[int, tuple[Any, bytes, tuple[float, float]]] = {}

    def encode_whole(q: int) -> float:
        how = replace(base, quality=q)
        data = encode(array, how)
        whole[q] = (how, data, _measure(array, data, how, read))
        return whole[q][2][0]

    return whole[quality.settle(found.quality, encode_whole, probe, goal, SAMPLE_SLACK, axis=axis)]


def _ktx2_auto(
    array: Any, read: tuple[int, ...], base: Any, goal: Any, options: TexturesOptions, climb: bool
) -> tuple[Any, bytes, tuple[float, float]]:
    """KTX2 at fixed settings (Basis encodes take seconds per megapixel: too slow to search); for a
    lossless source (climb), one step up a ladder while the result misses the goal: ETC1S, UASTC
    with RDO, UASTC without. ETC1S cannot hold sharp coloured detail; RDO can blur a fine normal
    map. A JPEG's own artefacts keep every step from the goal: climbing would only buy bytes."""
    from ..textures import quality
    from ..textures.encoders import encode

    ladder = [(False, KTX2_AUTO_QUALITY[False]), (True, KTX2_AUTO_QUALITY[True]), (True, 100)]
    if base.uastc:
        ladder = ladder[1:]
    if options.texture_ktx2_mode != "auto":
        ladder = [step for step in ladder if step[0] == base.uastc]
    if not climb:
        ladder = ladder[:1]
    for uastc, level in ladder:
        how = replace(base, uastc=uastc, quality=level)
        data = encode(array, how)
        measured = _measure(array, data, how, read)
        if goal.met(quality.Probe(level, measured[0] + SAMPLE_SLACK, measured[1], len(data))):
            break
    return how, data, measured


def _allowances(entry: Any) -> str:
    """The class whose allowances (the relaxed goal on a lossy source, near-lossless steps) apply
    to an image: its own, but data's for a normal map that shades only rough surfaces
    (classify.ImageUse.rough), where errors of a few levels stay out of sight as in data maps."""
    from ..textures.classify import DATA, NORMAL

    return DATA if entry.kind == NORMAL and entry.rough else entry.kind


def _auto_start(kind: str, lossless_source: bool) -> int:
    from ..textures.classify import COLOR

    return 100 if lossless_source and kind != COLOR else AUTO_START


def _strongest(
    array: Any, base: Any, read: tuple[int, ...], lossless_source: bool, goal: Any, steps: tuple[int, ...]
) -> tuple[Any, bytes, tuple[float, float]]:
    """No lossy quality meets the goal: WebP's lossless mode for a lossless source (re-encoding a
    JPEG losslessly only stores its artefacts at great cost), near-lossless at the coarsest of
    steps that meets the goal, else the format's best quality with full chroma resolution."""
    from ..textures import quality
    from ..textures.encoders import encode

    if base.format == "webp" and lossless_source:
        for step in steps:
            how = replace(base, lossless=True, step=step)
            data = encode(array, how)
            measured = _measure(array, data, how, read)
            if goal.met(quality.Probe(step, *measured, len(data))):
                return how, data, measured
        how = replace(base, lossless=True)
        return how, encode(array, how), EXACT
    how = replace(base, quality=100, full_chroma=True)
    data = encode(array, how)
    return how, data, _measure(array, data, how, read)


def _measure(
    reference: Any, data: bytes, how: Any, read: tuple[int, ...], mosaic_tile: int = 0
) -> tuple[float, float]:
    """(SSIM, PSNR) of the decoded image against reference, in the channels read; for a larger
    image, on a million pixels of tiles (quality.measured; SSIM from the windows inside a tile).
    mosaic_tile: reference is the search's mosaic of tiles this size (quality.sample)."""
    from ..textures import quality
    from ..textures.encoders import decode, decode_sample

    if not read:  # nothing stored is read (an alpha-only slot on an opaque image)
        return EXACT
    if mosaic_tile:  # the search's sample, a few million pixels: decoded whole, then measured in part
        decoded, _tile = quality.measured(decode(data, how.format, reference.shape[2]), mosaic_tile)
    else:
        decoded = decode_sample(data, how.format, reference.shape[2])
    reference, tile = quality.measured(reference, mosaic_tile)
    if len(read) < reference.shape[2]:
        reference, decoded = reference[..., list(read)], decoded[..., list(read)]
    return quality.ssim(reference, decoded, tile), quality.psnr(reference, decoded)


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
