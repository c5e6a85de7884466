"""Which encoding one texture gets: the lowest encoder quality whose SSIM (and PSNR) against the
source meets its class's goal, found by the search in quality.py; near-lossless WebP where no lossy
quality does; a palette image for flat colour art where that is smaller; the KTX2 ladder.

With auto quality (``texture_quality=0``) a texture is searched whole up to 2048x2048 and on a
2048x2048 mosaic of four tiles beyond (so the cost is bounded), then encoded whole and checked
again (quality.settle). Where no lossy quality meets the goal on a PNG source (WebP's lossy mode
halves chroma resolution), WebP's lossless mode takes values rounded to a few levels
(near_lossless_steps), about half the bytes of exact; on a JPEG source, WebP's best (quality 100).
A normal map from a full-chroma JPEG may instead become a full-chroma JPEG, at least as close to the
source as the WebP and smaller (_jpeg_rival). A colour PNG of flat art may also become a palette
image of at most 256 colours, each pixel within a few levels (palette_radii, palette.py),
where that is smaller still: BoxTexturedDraco's logo (2601 colours, only from anti-aliasing) is
7.0 kB near-lossless and 4.7 kB as a palette within 4 levels; MultiUVTest's second UV grid (240
colours) 15.8 kB lossy at q21 and 6.4 kB exactly as a palette. KTX2's auto quality is a fixed
setting per codec (Basis encodes are too slow to search); for a PNG source it climbs a short
ladder (ETC1S, UASTC with RDO, UASTC without) until the goal is met.

Example::

    how, data, (ssim, psnr) = best_encoding(array, read, entry, "webp", True, options)
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from ..pass_options import TexturesOptions
from . import palette, quality
from .classify import COLOR, DATA, NORMAL
from .encoders import Encoding, decode, decode_sample, encode, posterize, quality_axis
from .pixels import quiet_pillow

AUTO_LOWEST = 10
"""The auto search's lowest quality: below it every codec's artefacts are plain to see."""
AUTO_START = 80
"""The auto search's first quality (quality.lowest_quality's start): most corpus colour textures
and maps from JPEG land between WebP q75 and q86, so the search starts near its answer, and the
largest, slowest encode, quality 100, is made only where 80 misses. Over 19 corpus textures:
4.2 encodes each instead of 5.1, and 44% fewer encoded bytes. Normal and data maps from PNG start
at 100: WebP's lossy mode rarely reproduces them (they go near-lossless), and one probe says so."""
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
NEAR_LOSSLESS_STEPS = {"normal": (3,), "data": (7, 5, 3)}
"""Where no lossy WebP quality meets the goal on a lossless source (WebP's lossy mode halves the
chroma resolution, which a normal or packed data map cannot take), its lossless mode after
rounding values to these steps, coarsest first, keeping the first that meets the goal. Odd steps:
step 2k + 1 keeps every value within k levels with the fewest distinct values. Within 1 level
for normal maps (FlightHelmet's worst rendered view has SSIM 0.9815 with exact normal maps,
0.9801 within 1 level, 0.9794 within 2), 3 for data maps (roughness, metalness or occlusion 1%
off is invisible) and for normal maps that shade only rough surfaces, which take data's
allowances (_allowances: SpherePbrNext's, 89.5 kB within 1 level, 61 kB within 3, worst view
0.9949 both ways). Colour: within texture_near_lossless levels (near_lossless_steps; balanced 2,
max 4), a step that would band a smooth gradient left out (PALETTE_SHIFT).
Exact lossless only where every step misses."""
EXACT = (1.0, 100.0)
"""(SSIM, PSNR) of a lossless encoding."""
PALETTE_SHIFT = 2.0
"""How far (levels) a palette, or a near-lossless rounding of a colour texture, may move any 7x7
area's mean (quality.largest_shift): no further than rounding within 2 levels can. Merging colours
within 4 levels leaves a logo's or a UV grid's areas where they were (only edge and noise colours
move: BoxTexturedDraco's logo 1.2 levels), but puts steps into a smooth gradient (banding), which
moves whole bands by up to 4 (a generated gradient: 4.0; SphereLights' base colour, which has
shaded gradients: 4.0; so it is merged within 2 levels instead). SSIM hardly sees that banding
(0.98 to 0.99 on such gradients)."""
PALETTE_PIXELS = 1 << 20
"""Above this size a texture that a lossy quality already matches is first encoded as a palette on
a sample of a million pixels (quality.sample, four tiles of 512x512), and whole only where that
sample's bytes, scaled to the whole image, undercut the lossy encoding: a lossless encode of the
whole costs a second or more, and a photograph's lossy encoding wins anyway (CesiumMilkTruck's
2048x2048 texture has 136 colours, yet is 374 kB as a palette, 33 kB lossy). A 2048x2048 grid of
grey cells: lossy q11 13.9 kB, exact as a palette 3.6 kB."""
PALETTE_SAMPLE = (512, 2)
"""quality.sample's tile and grid for that estimate."""


ENCODED: ContextVar[Callable[[], None] | None] = ContextVar("encoded", default=None)
"""Called after each encode the current thread makes (the textures pass counts an image's encodes
to show how far it has got)."""


def _encode(array: Any, how: Encoding) -> bytes:
    data = encode(array, how)
    counted = ENCODED.get()
    if counted is not None:
        counted()
    return data


def class_goal(kind: str, options: TexturesOptions) -> quality.Goal:
    """What a texture of this class must reach under these options."""
    ssim = {COLOR: options.texture_ssim, NORMAL: options.texture_ssim_normal, DATA: options.texture_ssim_data}
    return quality.Goal(ssim[kind], MIN_PSNR[kind])


def best_encoding(
    array: Any, read: tuple[int, ...], entry: Any, target: str, srgb: bool | None, options: TexturesOptions
) -> tuple[Any, bytes, tuple[float, float]] | None:
    """The encoding to use, its bytes, and (SSIM, PSNR) of its decoded pixels against array in
    the channels the slots read; None where the format cannot match a lossless source. With auto
    quality, a colour texture from a lossless source may also become a palette image (_palette),
    where that is smaller."""

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
    """The image reduced to at most 256 colours within palette_radii levels (the widest that
    meets the goal and moves no area by more than PALETTE_SHIFT), as WebP lossless; None where no
    radius does, or where a larger image's sample says it would not undercut best's lossy bytes
    (PALETTE_PIXELS)."""

    goal = class_goal(entry.kind, options)
    base = best[0] if best else Encoding("webp", kind=entry.kind)
    pixels = array.shape[0] * array.shape[1]
    lossy_bytes = len(best[1]) if best and not best[0].lossless and pixels > PALETTE_PIXELS else 0
    for radius in palette_radii(options):
        reduced = palette.reduce(array, radius)
        if reduced is None:
            return None  # a narrower radius needs more colours still
        exact = reduced is array
        if not exact and quality.largest_shift(array, reduced) > PALETTE_SHIFT:
            continue  # banding: a narrower radius may not band
        how = replace(base, lossless=True, step=1, palette=0 if exact else radius, quality=100)
        if lossy_bytes:
            sample = quality.sample(reduced, *PALETTE_SAMPLE)
            if len(_encode(sample, how)) * pixels / (sample.shape[0] * sample.shape[1]) >= lossy_bytes:
                return None  # a narrower radius would not be smaller
        data = _encode(reduced, how)  # already a palette: encode's own reduction returns it as it is
        measured = measure(array, data, how, read)
        if exact or goal.met(quality.Probe(radius, *measured, len(data))):
            return how, data, measured
    return None


def _encoding(
    array: Any, read: tuple[int, ...], entry: Any, target: str, srgb: bool | None, options: TexturesOptions
) -> tuple[Any, bytes, tuple[float, float]] | None:
    """best_encoding without the palette: the format's own modes (the auto search, near-lossless)."""

    uastc = options.texture_ktx2_mode == "uastc" or (
        options.texture_ktx2_mode == "auto" and entry.kind != COLOR
    )
    base = Encoding(target, 100, False, entry.kind, srgb is not False, uastc)
    if target == "png":
        return base, _encode(array, base), EXACT
    goal = class_goal(entry.kind, options)
    lossless_source = entry.image.mime_type == "image/png"
    if target == "ktx2" and not options.texture_quality:
        return _ktx2_auto(array, read, base, goal, options, climb=lossless_source)
    if options.texture_quality:
        how = replace(base, quality=options.texture_quality)
        data = _encode(array, how)
        return how, data, measure(array, data, how, read)
    search = _Search(array, read, base)
    probe = search.probe
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
        # they get the codec's best (or a JPEG as close and smaller: _jpeg_rival), or keep their
        # source if that is smaller. On a rough surface the codec's chroma subsampling shows no
        # more than the source's own artefacts (Soldier's JPEG normal map: quality 92 for 100,
        # 203 kB for 331, worst view 0.9900 for 0.9901).
        best = probe(100)
        goal = quality.Goal(
            min(goal.ssim, best.ssim - LOSSY_SOURCE_SLACK[0]),
            min(goal.psnr, best.psnr - LOSSY_SOURCE_SLACK[1]),
        )
    found = quality.lowest_quality(probe, goal, low=AUTO_LOWEST, axis=axis, start=start)
    if found is not None:
        chosen = search.settled(found, goal, axis)
    elif target == "webp" and not lossless_source:
        # WebP's lossy mode has no full-chroma setting: its strongest encoding is quality 100 (up
        # to 2048x2048 the probe already made and measured).
        chosen = search.whole(100)
    else:
        steps = near_lossless_steps(allowances, options)
        how, data, measured = _strongest(array, base, read, lossless_source, goal, steps, allowances == COLOR)
        if lossless_source and measured[0] < goal.ssim - SAMPLE_SLACK:
            return None  # a PNG (sharp colour edges, say) that this lossy format cannot match
        return how, data, measured
    if target == "webp" and entry.kind == NORMAL and _full_chroma_jpeg(entry.image):
        return _jpeg_rival(array, read, entry, chosen) or chosen
    return chosen


class _Search:
    """One encoding's probes for the auto search: encodes of the texture's sample (quality.sample:
    the texture itself up to 2048x2048, a mosaic of four tiles beyond), measured and kept by
    quality; and the whole image's encodings that settle the search's answer."""

    def __init__(self, array: Any, read: tuple[int, ...], base: Encoding) -> None:
        self.array, self.read, self.base = array, read, base
        self.sample = quality.sample(array)
        self.is_whole = self.sample is array
        self._tile = 0 if self.is_whole else quality.SEARCH_TILE
        self._tried: dict[int, tuple[quality.Probe, bytes]] = {}
        self._whole: dict[int, tuple[Any, bytes, tuple[float, float]]] = {}

    def probe(self, q: int) -> quality.Probe:
        if q not in self._tried:
            how = replace(self.base, quality=q)
            data = _encode(self.sample, how)
            measured = measure(self.sample, data, how, self.read, self._tile)
            self._tried[q] = (quality.Probe(q, *measured, len(data)), data)
        return self._tried[q][0]

    def whole(self, q: int) -> tuple[Any, bytes, tuple[float, float]]:
        """The whole image at quality q: its encoding, bytes and (SSIM, PSNR)."""
        if self.is_whole:  # the probe was the real thing
            probe = self.probe(q)
            return replace(self.base, quality=q), self._tried[q][1], (probe.ssim, probe.psnr)
        if q not in self._whole:
            how = replace(self.base, quality=q)
            data = _encode(self.array, how)
            self._whole[q] = (how, data, measure(self.array, data, how, self.read))
        return self._whole[q]

    def settled(
        self, found: quality.Probe, goal: quality.Goal, axis: quality.Axis | None
    ) -> tuple[Any, bytes, tuple[float, float]]:
        """The whole image at the search's answer. The mosaic stands in for a larger image; where
        the two disagree by more than the search's noise, the quality is raised until the whole
        image passes too (in a bounded number of whole encodes: see quality.settle)."""
        if self.is_whole:
            return self.whole(found.quality)
        chosen = quality.settle(
            found.quality, lambda q: self.whole(q)[2][0], self.probe, goal, SAMPLE_SLACK, axis=axis
        )
        return self.whole(chosen)


def _full_chroma_jpeg(image: Any) -> bool:
    """Whether the image is a JPEG whose chroma is stored at full resolution (4:4:4 or 4:2:2)."""
    if image.mime_type != "image/jpeg":
        return False
    from PIL import Image as PILImage
    from PIL import JpegImagePlugin

    quiet_pillow()  # a source already decoded, its size checked
    try:
        with PILImage.open(io.BytesIO(image.data)) as opened:  # reads the header only
            return JpegImagePlugin.get_sampling(opened) in (0, 1)
    except (OSError, ValueError, SyntaxError):
        return False


def _jpeg_rival(
    array: Any, read: tuple[int, ...], entry: Any, webp: tuple[Any, bytes, tuple[float, float]]
) -> tuple[Any, bytes, tuple[float, float]] | None:
    """A JPEG with full chroma at the lowest quality whose SSIM and PSNR are at least those of the
    chosen WebP encoding, where it is smaller; None where none is, or where the source is kept
    anyway (the WebP is no smaller than it). For a normal map from a full-chroma JPEG, whose
    per-channel detail WebP's half-resolution chroma cannot keep: the XR controllers' 1024x1024
    JPEG normal maps reach SSIM 0.59 at WebP quality 100 (381 kB), a JPEG matches that at quality
    78 (157 kB); over the 30 such models the files halve, 29 render within 0.0008 of WebP's worst
    view, one 0.0034 lower (0.9846 -> 0.9812: its grain, rendered, differs as much at JPEG quality
    90; only 95, larger than WebP's best, restores it). Soldier's rough normal map: WebP quality
    92 (203 kB) or JPEG 52 (147 kB), worst view 0.9900 and 0.9899."""
    how, data, measured = webp
    if array.shape[2] == 4:
        return None  # JPEG stores no alpha
    if len(data) >= len(entry.image.data):
        return None  # the source stays: nothing to rival
    goal = quality.Goal(*measured)
    search = _Search(array, read, replace(how, format="jpeg", full_chroma=True))
    found = quality.lowest_quality(search.probe, goal, low=AUTO_LOWEST, start=AUTO_START)
    if found is None:
        return None
    rival = search.settled(found, goal, None)
    if len(rival[1]) >= len(data) or not goal.met(quality.Probe(rival[0].quality, *rival[2], len(rival[1]))):
        return None
    return rival


def _ktx2_auto(
    array: Any, read: tuple[int, ...], base: Any, goal: Any, options: TexturesOptions, climb: bool
) -> tuple[Any, bytes, tuple[float, float]]:
    """KTX2 at fixed settings (Basis encodes take seconds per megapixel: too slow to search); for a
    lossless source (climb), one step up a ladder while the result misses the goal: ETC1S, UASTC
    with RDO, UASTC without. ETC1S cannot hold sharp coloured detail; RDO can blur a fine normal
    map. A JPEG's own artefacts keep every step from the goal: climbing would only buy bytes."""

    ladder = [(False, KTX2_AUTO_QUALITY[False]), (True, KTX2_AUTO_QUALITY[True]), (True, 100)]
    if base.uastc:
        ladder = ladder[1:]
    if options.texture_ktx2_mode != "auto":
        ladder = [step for step in ladder if step[0] == base.uastc]
    if not climb:
        ladder = ladder[:1]
    for uastc, level in ladder:
        how = replace(base, uastc=uastc, quality=level)
        data = _encode(array, how)
        measured = measure(array, data, how, read)
        if goal.met(quality.Probe(level, measured[0] + SAMPLE_SLACK, measured[1], len(data))):
            break
    return how, data, measured


def _allowances(entry: Any) -> str:
    """The class whose allowances (the relaxed goal on a lossy source, near-lossless steps) apply
    to an image: its own, but data's for a normal map that shades only rough surfaces
    (classify.ImageUse.rough), where errors of a few levels stay out of sight as in data maps."""

    return DATA if entry.kind == NORMAL and entry.rough else entry.kind


def _auto_start(kind: str, lossless_source: bool) -> int:
    return 100 if lossless_source and kind != COLOR else AUTO_START


def near_lossless_steps(allowances: str, options: TexturesOptions) -> tuple[int, ...]:
    """The rounding steps to try, coarsest first: for colour every odd step that keeps values
    within texture_near_lossless levels (2: 5 and 3), else the class's NEAR_LOSSLESS_STEPS."""
    if allowances == COLOR:
        return tuple(range(2 * options.texture_near_lossless + 1, 2, -2))
    return NEAR_LOSSLESS_STEPS[allowances]


def palette_radii(options: TexturesOptions) -> tuple[int, ...]:
    """How far a palette may move a colour, widest first: twice texture_near_lossless, then half
    as far each time down to 2 (balanced: 4, 2; max: 8, 4, 2), so that where a wide radius bands a
    gradient a narrower one is still tried; 0 (only an image of 256 colours or fewer, exactly)."""
    radius = 2 * options.texture_near_lossless
    radii = []
    while radius >= 2:
        radii.append(radius)
        radius //= 2
    return tuple(radii) or (0,)


def _strongest(
    array: Any,
    base: Any,
    read: tuple[int, ...],
    lossless_source: bool,
    goal: Any,
    steps: tuple[int, ...],
    banding: bool = False,
) -> tuple[Any, bytes, tuple[float, float]]:
    """No lossy quality meets the goal: WebP's lossless mode for a lossless source (re-encoding a
    JPEG losslessly only stores its artefacts at great cost), near-lossless at the coarsest of
    steps that meets the goal, else the format's best quality with full chroma resolution.
    banding: leave out a step that moves some area by more than PALETTE_SHIFT (colour: rounding to
    9 levels puts visible steps into a smooth gradient; within 2 levels it cannot)."""
    if base.format == "webp" and lossless_source:
        for step in steps:
            coarse = banding and step // 2 > PALETTE_SHIFT
            if coarse and quality.largest_shift(array, posterize(array, step)) > PALETTE_SHIFT:
                continue  # banding: a finer step may not band
            how = replace(base, lossless=True, step=step)
            data = _encode(array, how)
            measured = measure(array, data, how, read)
            if goal.met(quality.Probe(step, *measured, len(data))):
                return how, data, measured
        how = replace(base, lossless=True)
        return how, _encode(array, how), EXACT
    how = replace(base, quality=100, full_chroma=True)
    data = _encode(array, how)
    return how, data, measure(array, data, how, read)


def measure(
    reference: Any, data: bytes, how: Any, read: tuple[int, ...], mosaic_tile: int = 0
) -> tuple[float, float]:
    """(SSIM, PSNR) of the decoded image against reference, in the channels read; for a larger
    image, on a million pixels of tiles (quality.measured; SSIM from the windows inside a tile).
    mosaic_tile: reference is the search's mosaic of tiles this size (quality.sample)."""

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
