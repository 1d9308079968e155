"""Property-based API tests: schemathesis generates requests, valid and invalid, from our own
`/openapi.json` and sends them to the real server; none may get a 5xx. (Driven through
hypothesis directly: schemathesis' pytest plugin does not run under this pytest.)"""

from __future__ import annotations

from collections import Counter

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.integration.conftest import API_KEY

EXAMPLES_PER_OPERATION = 25


def test_no_generated_request_gets_a_server_error(server: str) -> None:
    schema = schemathesis.openapi.from_url(f"{server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9  # every route of /v2, /v3/token and /healthz
    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case: schemathesis.Case) -> None:
            response = case.call(headers={"authorization": API_KEY}, timeout=30)
            statuses[response.status_code] += 1
            assert response.status_code < 500, (
                f"{case.method} {case.formatted_path} -> {response.status_code}: "
                f"{response.text[:300]}"
            )

        no_server_error()
    # shown with `pytest -s`: how much was tried, and what came back
    print(f"{len(operations)} operations, {sum(statuses.values())} requests: {dict(statuses)}")
    assert statuses and all(code < 500 for code in statuses)
