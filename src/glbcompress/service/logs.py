"""Structured logs: one JSON object per line on stderr, with the request id of the request being
served, and never a secret.

>>> log.info("job finished", extra={"job_id": job.id, "seconds": 1.2})
{"ts": "2026-11-01T12:00:00.123Z", "level": "info", "logger": "glbcompress.jobs",
 "msg": "job finished", "request_id": "…", "job_id": "…", "seconds": 1.2}

Secrets are kept out twice: the code never passes passwords, cookies, tokens or Authorization
headers to a logger, and the formatter still masks any field whose name sounds secret and any
text that looks like an API key or a ``password=...`` pair.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

SECRET_FIELD = re.compile(r"pass(word)?|secret|token|cookie|authori[sz]ation|api_?key|credential", re.I)
MASK = "[redacted]"
SECRET_TEXT = [
    (re.compile(r"\bglbc_[A-Za-z0-9]{8,}"), MASK),  # API keys (the API keys issue's format)
    (re.compile(r"(?i)(\b(?:authorization|cookie|set-cookie)\b\s*[=:]\s*)[^\r\n]+"), rf"\1{MASK}"),
    (re.compile(r"(?i)(\b(?:password|passwd|secret|token|api_key)\b\s*[=:]\s*)\S+"), rf"\1{MASK}"),
    (re.compile(r"(?i)(\bbearer\s+)\S+"), rf"\1{MASK}"),
]
STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}


def redact(text: str) -> str:
    for pattern, replacement in SECRET_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _clean(key: str, value: Any) -> Any:
    if SECRET_FIELD.search(key):
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {str(k): _clean(str(k), v) for k, v in value.items()}
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        for key, value in record.__dict__.items():
            if key not in STANDARD and not key.startswith("_"):
                entry[key] = _clean(key, value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure(level: str = "INFO") -> None:
    """Send the service's, uvicorn's and Alembic's logs to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True  # the request middleware logs requests
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
