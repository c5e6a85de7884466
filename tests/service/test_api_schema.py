"""Schemathesis against /openapi.json of a live server: for every API operation, generated
requests (valid ones and invalid ones, with a real API key) never get a 5xx, and every answer conforms to the
schema — its status, content type, headers and body. Bounded (a few examples per operation) so
the suite stays fast; the hand-written tests cover each case in depth."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode

from glbcompress.service.app import create_app
from glbcompress.service.auth import accounts, api_keys
from glbcompress.service.db import migrate

from .conftest import LiveServer, make_settings

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A live server on loopback and an API key of an account on it."""
    tmp = tmp_path_factory.mktemp("schemathesis")
    config = make_settings(tmp, f"sqlite:///{tmp / 'service.db'}", api_rate_limit=0, sync_wait_seconds=10)
    migrate.upgrade(config.database_url)
    app = create_app(config)
    db = app.state.services.db
    user = accounts.create_user(db, "fuzz@example.com", "correct horse battery")
    key = api_keys.create_key(db, user.id, "schemathesis").key
    with LiveServer(app) as server:
        yield server.url, key


def test_api_conforms_to_its_schema(live: tuple[str, str]) -> None:
    url, key = live
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.label for op in operations} >= {
        "POST /v1/compress",
        "GET /v1/jobs/{job_id}/result",
        "GET /v1/usage",
    }
    for operation, mode in itertools.product(operations, (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
        def conforms(case: schemathesis.Case) -> None:
            # Webhooks are tested with a local receiver; generated callback URLs would make DNS lookups.
            if case.query:
                case.query.pop("callback_url", None)
            if isinstance(case.body, dict):
                case.body.pop("callback_url", None)
            case.call_and_validate(base_url=url, headers={"Authorization": f"Bearer {key}"}, checks=CHECKS)

        conforms()
