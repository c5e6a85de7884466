"""The textures of a compression report as rows of text, one per image: what the dashboard's result
card and ``glbcompress compress --list-textures`` show.

The textures pass reports each image in its changes (``changes["textures"]``): its class, format,
size and bytes before and after, the quality chosen, and SSIM/PSNR against the source. A row with
``after.format == "factor"`` is a single-colour texture folded into material factors; a row without
``after`` was left as it is, and its ``note`` says why (as it does where ``after`` is in another format
than the one asked for).

Plain Python (no imports): the command line loads it without slowing its start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

COLUMNS = (
    ("image", "image"),
    ("class", "class"),
    ("before", "before"),
    ("after", "after"),
    ("quality", "quality"),
    ("ssim", "SSIM"),
    ("psnr", "PSNR"),
)
"""Each row's keys, in order, with a header for them."""

CLASSES = {"color": "colour"}
FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "avif": "AVIF", "ktx2": "KTX2"}


def report_textures(passes: Iterable[Any]) -> list[dict[str, Any]]:
    """The textures pass's rows as the report holds them: ``passes`` is the report's list of passes,
    as dicts (``Report.as_dict()``, the service's stored report) or as ``PassReport`` objects."""
    rows: list[dict[str, Any]] = []
    for step in passes or ():
        name = step.get("name") if isinstance(step, Mapping) else getattr(step, "name", None)
        changes = step.get("changes") if isinstance(step, Mapping) else getattr(step, "changes", None)
        if name == "textures" and isinstance(changes, Mapping):
            rows.extend(row for row in changes.get("textures") or () if isinstance(row, Mapping))
    return rows


def texture_rows(
    passes: Iterable[Any], size: Callable[[int], str], missing: str = "–"
) -> list[dict[str, str]]:
    """One row of text per texture of the report: image, class, before, after, quality, ssim and
    psnr (keys of COLUMNS). ``size`` words a byte count; ``missing`` stands for a figure that the
    row has not got (a texture folded into a factor or kept has no quality or SSIM)."""
    return [_row(row, size, missing) for row in report_textures(passes)]


def _row(row: Mapping[str, Any], size: Callable[[int], str], missing: str) -> dict[str, str]:
    after = row.get("after")
    if not isinstance(after, Mapping):
        note = str(row.get("note") or "").strip()
        after_text = note if note.startswith("kept") else f"kept: {note}" if note else "kept"
    elif after.get("format") == "factor":
        after_text = "material factor"
    else:
        after_text = _image(after, size, row.get("codec"))
        if row.get("note"):  # why the format differs from the one asked for
            after_text += f" ({str(row['note']).strip()})"
    quality, ssim, psnr = row.get("quality"), row.get("ssim"), row.get("psnr")
    kind = str(row.get("class") or missing)
    return {
        "image": str(row.get("image") or missing),
        "class": CLASSES.get(kind, kind),
        "before": _image(row.get("before") or {}, size),
        "after": after_text,
        "quality": missing if quality is None else str(quality),
        "ssim": f"{ssim:.5f}" if _number(ssim) else missing,
        "psnr": f"{psnr:.2f} dB" if _number(psnr) else missing,
    }


def _image(image: Mapping[str, Any], size: Callable[[int], str], codec: Any = None) -> str:
    """'PNG 256×256, 27 kB' (the size left out where the report has none)."""
    name = str(image.get("format") or "?")
    name = FORMATS.get(name, name.upper())
    if codec:
        name += f" ({str(codec).upper()})"
    pixels = str(image.get("size") or "").replace("x", "×")
    count = image.get("bytes")
    return f"{name} {pixels}".strip() + (f", {size(count)}" if _number(count) else "")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
