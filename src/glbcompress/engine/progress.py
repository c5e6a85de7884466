"""How far a compression has got: the callback a caller gives (``progress(step, fraction)``, the
fraction rising from 0 to 1), and how a pass that runs long reports its own way through it.

The pipeline gives each pass a span of the fraction; a pass calls ``pass_progress(doc)(fraction,
detail)`` and the caller sees the step ``"<pass> <detail>"`` at the matching point of that span
(the textures pass: ``"textures 2/5"`` as images finish). Outside a pipeline run it does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from .document import Document

Progress = Callable[[str, float], None]
PassProgress = Callable[[float, str], None]

KEY = "progress"
"""Where the running pass's reporter lives in doc.info."""


def quiet(step: str, fraction: float) -> None:
    pass


def pass_progress(doc: Document) -> PassProgress:
    """For a pass: report(fraction, detail), fraction from 0 to 1 through the pass."""
    return doc.info.get(KEY, _ignore)


def enter(doc: Document, progress: Progress, name: str, start: float, span: float) -> None:
    """The pass `name` runs next and owns [start, start + span] of the caller's fraction."""
    progress(name, start)

    def report(fraction: float, detail: str) -> None:
        progress(f"{name} {detail}", start + span * min(max(fraction, 0.0), 1.0))

    doc.info[KEY] = report


def leave(doc: Document) -> None:
    doc.info.pop(KEY, None)


def _ignore(fraction: float, detail: str) -> None:
    pass
