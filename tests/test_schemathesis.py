"""Schemathesis against the OpenAPI schema: requests generated for every operation, each sent as every
role and without login, must never get a 5xx, and every response must match the schema (documented
status code, content type and body).

Sized for CI (~1,500 requests, about a minute). Run it larger with, e.g.::

    SHOUXIN_FUZZ_EXAMPLES=50 .venv/bin/pytest -m fuzz tests/test_schemathesis.py
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Staff

EXAMPLES = int(os.environ.get("SHOUXIN_FUZZ_EXAMPLES", "5"))
WHO = ("anon", "intake", "handler", "supervisor", "admin")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.fuzz
def test_generated_requests_as_every_role_get_no_5xx_and_match_the_schema(
    client: TestClient, staff: Staff
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    sent: list[str] = []
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            for who in WHO:
                headers = {} if who == "anon" else staff.auth(who)
                sent.append(who)
                case.call_and_validate(headers=headers, checks=CHECKS)

        try:
            run()
        except Exception as exc:  # noqa: BLE001 — collect every operation's failure, then report them all
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures[:20]) + f"\n\n({len(failures)} failures)"
    assert len(sent) >= 1000
