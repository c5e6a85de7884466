"""Palette reduction: at most 256 colours, every pixel within a few levels of its source.

WebP's lossless mode stores an image of at most 256 colours as indices into a palette, which
costs a fraction of what the same image takes in full colour: logos, labels, UV grids and baked
flat-shaded art often have a few thousand colours only because their edges are anti-aliased or
their areas carry a little noise. reduce() merges such colours into at most 256, each source
colour replaced by a palette colour within `radius` levels in every channel (alpha exact), so the
error is bounded as near-lossless's is, while the image becomes a palette image. Where that takes
more than 256 colours (a photograph, a smooth gradient) it gives up, and the caller encodes
otherwise.

The palette is a greedy cover: the most frequent colour not yet covered becomes a palette colour,
and every uncovered colour within `radius` of it maps to it; so the palette favours the colours
that cover the most pixels, and a rare colour never pulls a common one away from its value.
"""

from __future__ import annotations

import numpy as np

LIMIT = 256
"""Colours in a WebP palette."""
STRIP_ROWS = 256
"""Rows mapped at a time (bounds the temporary keys and indices to a few hundred pixel rows)."""
MAX_DISTINCT = 1 << 16
"""Images with more distinct colours are not tried: even at a radius of 4 levels, 256 palette
colours cover them only in special cases, and finding that out would cost more than it saves."""


class TooManyColours(ValueError):
    """No palette within the radius has at most the limit's colours."""


def reduced(array: np.ndarray, radius: int, limit: int = LIMIT) -> np.ndarray:
    """reduce(), raising TooManyColours where it finds no palette."""
    out = reduce(array, radius, limit)
    if out is None:
        raise TooManyColours(f"the image needs more than {limit} colours within {radius} levels.")
    return out


def reduce(array: np.ndarray, radius: int, limit: int = LIMIT) -> np.ndarray | None:
    """array (H, W, C) uint8 with at most `limit` distinct colours, each pixel's colour channels
    within radius levels of the source and its alpha (fourth channel) unchanged; array itself
    where it already has that few; None where no such palette was found."""
    from PIL import Image as PILImage

    channels = array.shape[2]
    image = PILImage.fromarray(array[..., 0] if channels == 1 else array)
    found = image.getcolors(MAX_DISTINCT)  # [(count, colour)], or None past MAX_DISTINCT
    if found is None:
        return None
    if len(found) <= limit:
        return array
    counts = np.array([count for count, _colour in found], np.int64)
    colours = np.array([colour for _count, colour in found], np.int16).reshape(len(found), channels)
    owner = _cover(colours, counts, radius, limit)
    if owner is None:
        return None
    keys = colour_keys(colours.astype(np.uint8))
    order = np.argsort(keys)
    return mapped(array, keys[order], colours[owner[order]].astype(np.uint8))


def mapped(array: np.ndarray, keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values[i] for every pixel of array whose colour_keys() is keys[i] (keys sorted, holding
    every colour of array): an image's pixels through a lookup table of its colours, such as a
    palette's indices or merged colours. Mapped in strips of rows: the keys of a whole 16383x8192
    image alone would be 0.5 GB."""
    out = np.empty(array.shape[:-1] + values.shape[1:], values.dtype)
    for top in range(0, array.shape[0], STRIP_ROWS):
        out[top : top + STRIP_ROWS] = values[
            np.searchsorted(keys, colour_keys(array[top : top + STRIP_ROWS]))
        ]
    return out


def _cover(colours: np.ndarray, counts: np.ndarray, radius: int, limit: int) -> np.ndarray | None:
    """For each colour the index of the palette colour it maps to (at most `limit` of them, each
    within radius of its members in every colour channel, alpha equal), or None."""
    colour = colours[:, : min(3, colours.shape[1])]
    alpha = colours[:, 3] if colours.shape[1] == 4 else None
    owner = np.full(len(colours), -1, np.int64)
    free = np.ones(len(colours), bool)
    for _ in range(limit):
        centre = int(np.argmax(np.where(free, counts, -1)))
        near = free & (np.abs(colour - colour[centre]).max(axis=1) <= radius)
        if alpha is not None:
            near &= alpha == alpha[centre]
        owner[near] = centre
        free &= ~near
        if not free.any():
            return owner
    return None


def colour_keys(values: np.ndarray) -> np.ndarray:
    """One uint32 per colour (its channels' bytes, the first highest), for sorting and looking up:
    keys sort as the colours do, channel by channel."""
    keys = np.zeros(values.shape[:-1], np.uint32)
    for channel in range(values.shape[-1]):
        keys = (keys << np.uint32(8)) | values[..., channel]
    return keys
