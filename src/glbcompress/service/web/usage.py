"""The Usage page: models compressed and bytes saved per day (charts drawn as SVG on the server,
with the same figures in a table for screen readers), per source and API key, and totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..context import services
from ..db import Job, JobSource, utcnow
from ..jobs import usage
from .figures import format_size
from .pages import CurrentUser, render

router = APIRouter(include_in_schema=False)

DAYS = 30
CHART_WIDTH, CHART_HEIGHT, PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT = 720, 200, 12, 172, 56


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    """What a tooltip and the table say: the day and its value."""


@dataclass(frozen=True)
class Chart:
    title: str
    bars: list[Bar]
    ticks: list[tuple[float, str]]
    """(y, label) of the horizontal grid lines."""
    days: list[tuple[float, str]]
    """(x, label) of the dates written under the axis."""
    empty: bool


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _nice_bytes(value: float) -> float:
    """A round top for a byte axis, in the unit its labels use (2 kB, not 2000 B)."""
    scale = 1.0
    while value >= scale * 1024 and scale < 1024**4:
        scale *= 1024
    return _nice_max(value / scale) * scale


def chart(title: str, days: list[usage.Day], value: Any, show: Any, nice: Any = _nice_max) -> Chart:
    """A bar per day; value(day) is the bar's height in data units, show(x) its text."""
    values = [float(value(d)) for d in days]
    top = nice(max(values, default=0))
    plot_w = CHART_WIDTH - PLOT_LEFT - 8
    plot_h = PLOT_BOTTOM - PLOT_TOP
    slot = plot_w / max(1, len(days))
    bars = []
    for i, (d, v) in enumerate(zip(days, values, strict=True)):
        h = plot_h * v / top
        bars.append(
            Bar(
                x=round(PLOT_LEFT + i * slot + slot * 0.15, 2),
                y=round(PLOT_BOTTOM - h, 2),
                width=round(slot * 0.7, 2),
                height=round(h, 2),
                label=f"{d.day.isoformat()}: {show(v)}",
            )
        )
    ticks = [(round(PLOT_BOTTOM - plot_h * f, 2), show(top * f)) for f in (0, 0.5, 1)]
    labels = [
        (round(PLOT_LEFT + i * slot + slot / 2, 2), d.day.strftime("%b %d"))
        for i, d in enumerate(days)
        if i % 7 == (len(days) - 1) % 7
    ]
    return Chart(title, bars, ticks, labels, empty=not any(values))


def _count(v: float) -> str:
    return f"{v:g}" if v == int(v) else f"{v:.1f}"


def key_rows(request: Request, user_id: int) -> list[dict[str, Any]]:
    """Usage per API key of the account (revoked keys too: their jobs still count); requests as
    the API Keys page counts them (including those not yet written to the database)."""
    from ..auth import api_keys

    s = services(request)
    figures = usage.by_source(s.db, user_id, Job.api_key_id)
    now = utcnow()
    rows = []
    for key in api_keys.list_keys(s.db, user_id):
        requests, _last_used = s.key_activity.figures(key)
        rows.append(
            {
                "label": key.name,
                "prefix": key.prefix,
                "revoked": not api_keys.active(key, now),
                "requests": requests,
                "figures": figures.get(key.id, usage.Figures()),
            }
        )
    return rows


@router.get("/usage")
def usage_page(request: Request, user: CurrentUser) -> Response:
    db = services(request).db
    days = usage.daily(db, user.id, DAYS)
    window = usage.total(days)
    sources = usage.by_source(db, user.id)
    source_rows = [
        {"label": label, "figures": sources.get(key, usage.Figures())}
        for key, label in ((JobSource.DASHBOARD, "Dashboard"), (JobSource.API, "API (all keys)"))
    ]
    context = {
        "title": "Usage",
        "days": list(reversed(days)),
        "window_days": DAYS,
        "window": window,
        "total": usage.totals(db, user.id),
        "sources": source_rows,
        "keys": key_rows(request, user.id),
        "models_chart": chart("Models compressed per day", days, lambda d: d.models, _count),
        "saved_chart": chart(
            "Bytes saved per day", days, lambda d: d.saved, lambda v: format_size(int(v)), _nice_bytes
        ),
        "chart_width": CHART_WIDTH,
        "chart_height": CHART_HEIGHT,
        "plot_left": PLOT_LEFT,
        "plot_bottom": PLOT_BOTTOM,
        "size": format_size,
    }
    return render(request, "usage.html", context, active="usage")
