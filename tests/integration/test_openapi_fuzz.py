"""Property-based API tests: schemathesis generates requests, valid and invalid, from our own
`/openapi.json` and sends them to the real server; none may get a 5xx, and every response must
conform to what the schema documents for its status. Without the API key, every operation but
`/healthz` must answer 401. (Driven through hypothesis directly: schemathesis' pytest plugin
does not run under this pytest.)"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.conftest import API_KEY

EXAMPLES_PER_OPERATION = 25
UNAUTHORIZED_EXAMPLES_PER_OPERATION = 10
OPEN_PATHS = {"/healthz"}
"""The only operation in the schema that needs no key (`/openapi.json` and `/docs` are open
too, and not in it)."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,  # every status the server answers is documented
    response_schema_conformance,  # the body against the schema of its status
    content_type_conformance,
    response_headers_conformance,
]


def _keep_local(case: schemathesis.Case[Any], nowhere: str) -> None:
    """A generated `audio_url` or `webhook_url` the server would act on goes to `nowhere`."""
    if isinstance(case.body, dict):
        for field in ("audio_url", "webhook_url"):
            value = case.body.get(field)
            if isinstance(value, str) and value.lower().startswith(("http://", "https://")):
                case.body[field] = f"{nowhere}/fuzz"


def _operations(server: str) -> list[Any]:
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10  # every route of /v2, /v3/token and /healthz
    return operations


def _run(operation: Any, examples: int, test: Any) -> None:
    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case[Any]) -> None:
        test(case)

    run()


def test_no_generated_request_gets_a_server_error_or_a_response_off_the_schema(
    server: str, nowhere: str
) -> None:
    statuses: Counter[int] = Counter()

    def check(case: schemathesis.Case[Any]) -> None:
        _keep_local(case, nowhere)
        response = case.call_and_validate(
            headers={"authorization": API_KEY}, checks=CHECKS, timeout=30
        )
        statuses[response.status_code] += 1

    operations = _operations(server)
    for operation in operations:
        _run(operation, EXAMPLES_PER_OPERATION, check)
    # shown with `pytest -s`: how much was tried, and what came back
    print(f"{len(operations)} operations, {sum(statuses.values())} requests: {dict(statuses)}")
    assert statuses[200] and all(code < 500 for code in statuses)


def test_every_operation_but_health_needs_the_key(server: str, nowhere: str) -> None:
    tried: Counter[str] = Counter()

    def check(case: schemathesis.Case[Any]) -> None:
        _keep_local(case, nowhere)
        response = case.call_and_validate(checks=CHECKS, timeout=30)  # no authorization header
        tried[case.operation.label] += 1
        assert response.status_code == 401, (
            f"{case.method} {case.formatted_path} without a key -> {response.status_code}: "
            f"{response.text[:300]}"
        )
        assert response.json()["error"]

    guarded = [op for op in _operations(server) if op.path not in OPEN_PATHS]
    for operation in guarded:
        _run(operation, UNAUTHORIZED_EXAMPLES_PER_OPERATION, check)
    assert len(tried) == len(guarded) >= 9
    for path in ("/healthz", "/openapi.json", "/docs"):
        assert httpx.get(f"{server}{path}", timeout=30).status_code == 200, path


def test_the_checks_catch_a_response_off_the_schema(server: str) -> None:
    """What the checks above rest on: a body or media type the schema does not allow fails."""
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    case = schema["/v3/token"]["GET"].Case()
    request = requests.Request("GET", f"{server}/v3/token").prepare()

    def response(status: int, content: bytes, media_type: str) -> schemathesis.Response:
        headers = {"content-type": [media_type]}
        return schemathesis.Response(status, headers, content, request, 0.01, verify=True)

    case.validate_response(response(200, b'{"token": "tmp_x.y"}', "application/json"), CHECKS)
    for bad in (
        response(200, b'{"token": 5}', "application/json"),  # not a string
        response(200, b"tmp_x.y", "text/plain"),  # not the documented media type
        response(500, b'{"error": "boom"}', "application/json"),
    ):
        with pytest.raises(FailureGroup):
            case.validate_response(bad, CHECKS)
