"""schemathesis over the whole native API, bounded: no operation answers a 5xx, and every
answer (its status, content type, headers and body) is one the document lists.

Inputs are generated from the document itself, valid and invalid alike (wrong types, values
out of range, missing fields, odd strings in paths), a few dozen per operation; the run takes
well under a minute in-process. A failure prints the request that reproduces it.
"""

from __future__ import annotations

import json
from pathlib import Path

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import AUTH

DOCUMENT = Path(__file__).parents[2] / "docs" / "openapi.json"

_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


# The committed document is the contract the SDK, the CLI and other clients read;
# `openapi --check` (make check) keeps it equal to what the server generates.
schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text(encoding="utf-8")))


@schema.parametrize()
@settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)
def test_every_answer_is_one_the_document_lists(case: schemathesis.Case, contract_app: FastAPI) -> None:
    case.call_and_validate(app=contract_app, headers=AUTH, checks=_CHECKS)
