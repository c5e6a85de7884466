"""The SDK's exception for every problem type the server documents, and a sensible one for
types and answers it does not know."""

from __future__ import annotations

import pytest

from glbcompress.client import errors
from glbcompress.service.api.problems import KINDS, TYPE_PREFIX


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_server_problem_kind_has_its_class(kind: str) -> None:
    status, title, _ = KINDS[kind]
    body = {"type": TYPE_PREFIX + kind, "title": title, "status": status, "detail": f"about {kind}"}
    exc = errors.from_problem(status, body, request_id="r1", retry_after=3.0)
    assert kind in errors.BY_KIND, f"the SDK has no class for {kind}"
    assert type(exc) is errors.BY_KIND[kind]
    assert exc.status == status and exc.kind == kind and exc.title == title
    assert str(exc) == f"about {kind}" and exc.request_id == "r1"
    assert isinstance(exc, errors.ApiError) and isinstance(exc, errors.ClientError)
    assert type(exc).status == (500 if status >= 500 else status)


def test_the_named_classes() -> None:
    def of(kind: str) -> errors.ApiError:
        return errors.from_problem(KINDS[kind][0], {"type": TYPE_PREFIX + kind, "detail": "d"}, retry_after=7)

    assert isinstance(of("invalid-model"), errors.InvalidModel)
    assert isinstance(of("invalid-model"), errors.ModelError)
    assert isinstance(of("unsupported-file-type"), errors.UnsupportedExtension)
    assert isinstance(of("file-too-large"), errors.FileTooLarge)
    assert isinstance(of("revoked-api-key"), errors.Unauthorized)
    assert isinstance(of("job-failed"), errors.Conflict)
    limited = of("rate-limited")
    assert isinstance(limited, errors.RateLimited) and limited.retry_after == 7


def test_unknown_types_and_bodies_map_by_status() -> None:
    newer = errors.from_problem(422, {"type": TYPE_PREFIX + "something-new", "detail": "new"})
    assert type(newer) is errors.UnprocessableRequest and newer.kind == "something-new"
    html = errors.from_problem(502, None, fallback="The server answered HTTP 502: Bad gateway")
    assert type(html) is errors.ServerError and str(html) == "The server answered HTTP 502: Bad gateway"
    assert type(errors.from_problem(418, {})) is errors.ApiError


def test_a_failed_jobs_error_and_its_job_id() -> None:
    exc = errors.from_job_error(
        {"type": TYPE_PREFIX + "limit-exceeded", "detail": "too many pixels"}, job=None
    )
    assert type(exc) is errors.LimitExceeded and exc.status == 422 and str(exc) == "too many pixels"
    sync = errors.from_problem(422, {"type": TYPE_PREFIX + "invalid-model", "detail": "d", "job_id": "abc"})
    assert sync.job_id == "abc"
