"""The "API docs" page: authentication, every endpoint, formats, errors and limits, with
copy-paste examples in curl, Python and JavaScript.

The examples are files in ``api_examples/``, listed in ``EXAMPLES``; the page shows each file as it
is, and ``tests/service/test_api_docs.py`` runs each one (bash, python, node) against a live
server, so what the page shows is what was tested. To add an example (e.g. the Python SDK), add
its file and an ``Example`` entry: it then appears on the page and is run by the tests.

The error table, limits and option list come from the code and settings they describe
(``api/problems.KINDS``, ``Settings``, ``engine.options.schema()``), so they cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from starlette.responses import Response

from ..api.problems import KINDS, TYPE_PREFIX
from ..context import services
from .figures import format_size
from .pages import CurrentUser, render

router = APIRouter(include_in_schema=False)

EXAMPLES_DIR = Path(__file__).parent / "api_examples"
Language = Literal["shell", "python", "javascript"]
LABELS = {"shell": "curl", "python": "Python", "javascript": "JavaScript (fetch)"}


@dataclass(frozen=True)
class Example:
    task: str
    """The heading the example is shown under (one task, several languages)."""
    label: str
    language: Language
    file: str
    produces: str | None = None
    """A GLB file the example writes (the tests check it is one)."""
    server: bool = False
    """A long-running receiver rather than a script that ends (the tests drive it)."""

    @property
    def code(self) -> str:
        return _read(self.file)


@lru_cache(maxsize=64)
def _read(name: str) -> str:
    return (EXAMPLES_DIR / name).read_text()


TASKS = {
    "compress": "Compress a model",
    "gltf-set": "A .gltf with its files",
    "jobs": "Background jobs",
    "webhooks": "Receive webhooks",
}
EXAMPLES: tuple[Example, ...] = (
    Example("compress", "curl", "shell", "compress.sh", produces="model-compressed.glb"),
    Example(
        "compress", "Python (requests)", "python", "compress_requests.py", produces="model-compressed.glb"
    ),
    Example(
        "compress", "JavaScript (fetch)", "javascript", "compress_fetch.mjs", produces="model-compressed.glb"
    ),
    Example("gltf-set", "curl", "shell", "compress_gltf_set.sh", produces="scene-compressed.glb"),
    Example("jobs", "curl", "shell", "jobs.sh", produces="model-compressed.glb"),
    Example("jobs", "Python (requests)", "python", "jobs_requests.py", produces="model-compressed.glb"),
    Example("jobs", "JavaScript (fetch)", "javascript", "jobs_fetch.mjs"),
    Example("webhooks", "Python", "python", "webhook_receiver.py", server=True),
    # The Python SDK (glbcompress.client) and its command line, `glbcompress remote`.
    Example("compress", "Python SDK", "python", "compress_sdk.py", produces="model-compressed.glb"),
    Example("compress", "glbcompress remote", "shell", "remote_cli.sh", produces="compressed/model.glb"),
    Example("gltf-set", "Python SDK", "python", "compress_gltf_set_sdk.py", produces="scene-compressed.glb"),
    Example("jobs", "Python SDK", "python", "jobs_sdk.py", produces="model-compressed.glb"),
)


def _hours(hours: float) -> str:
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


@router.get("/api-docs")
def api_docs_page(request: Request, user: CurrentUser) -> Response:
    from glbcompress.engine.options import schema
    from glbcompress.engine.presets import PRESET_HELP

    s = services(request).settings
    base = str(request.base_url).rstrip("/")
    errors = [
        {"status": status, "type": kind, "title": title, "when": when}
        for kind, (status, title, when) in sorted(KINDS.items(), key=lambda item: (item[1][0], item[0]))
    ]
    context = {
        "title": "API docs",
        "base_url": base,
        "tasks": [(key, title, [e for e in EXAMPLES if e.task == key]) for key, title in TASKS.items()],
        "labels": LABELS,
        "errors": errors,
        "type_prefix": TYPE_PREFIX,
        "options": schema(),
        "presets": PRESET_HELP,
        "limits": {
            "max_upload": format_size(s.max_upload_bytes),
            "sync_max": format_size(s.sync_max_bytes),
            "sync_wait": f"{s.sync_wait_seconds:g} s",
            "rate_limit": s.api_rate_limit,
            "retention": _hours(s.retention_hours),
            "webhook_attempts": s.webhook_max_attempts,
            "webhook_retry": f"{s.webhook_retry_seconds:g} s",
            "webhook_timeout": f"{s.webhook_timeout_seconds:g} s",
        },
    }
    return render(request, "api_docs.html", context, active="api-docs")
