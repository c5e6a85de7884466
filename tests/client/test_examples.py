"""The SDK and remote CLI examples in ``docs/api.md`` are the files the dashboard's API docs page
shows and ``tests/service/test_api_docs.py`` runs against a live server (``api_examples/``), word
for word, so the contract document cannot drift from tested code."""

from __future__ import annotations

from pathlib import Path

import pytest

from glbcompress.service.web.api_docs import EXAMPLES, EXAMPLES_DIR

ROOT = Path(__file__).resolve().parents[2]
IN_API_MD = ("compress_sdk.py", "jobs_sdk.py", "remote_cli.sh")


@pytest.mark.parametrize("name", IN_API_MD)
def test_api_md_shows_the_tested_example_as_it_is(name: str) -> None:
    assert name in {example.file for example in EXAMPLES}, f"{name} is not run by the API docs tests"
    assert (EXAMPLES_DIR / name).read_text().strip() in (ROOT / "docs" / "api.md").read_text()


def test_every_sdk_example_is_on_the_page() -> None:
    sdk = {example.file for example in EXAMPLES if example.label in ("Python SDK", "glbcompress remote")}
    assert sdk == {"compress_sdk.py", "compress_gltf_set_sdk.py", "jobs_sdk.py", "remote_cli.sh"}
