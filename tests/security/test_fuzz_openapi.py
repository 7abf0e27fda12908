"""schemathesis against each service's own OpenAPI document, on the running in-process system:
no 5xx, and every documented response matches its schema.

Requests carry acme's bearer token so generated input reaches the handlers (the unauthenticated
path is covered by test_admin_auth). FastAPI documents only 200/201/204 and 422, while 400/401/404/
409/413/503 are deliberate answers, so the status-code-conformance check is not run; the checks
that are run: not_a_server_error, response_schema_conformance (for documented statuses),
content_type_conformance, response_headers_conformance. No operation is excluded.

Known gap (listed in docs/security.md): handler-raised 422s (the router's zap problems, with
``loc`` a dotted string; xero-gateway's unknown backfill resource, a string ``detail``) do not
match FastAPI's advertised ``HTTPValidationError``; they are checked for a non-empty ``detail``
instead of against the schema until the services document their own 422 bodies.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)
from security.inprocess_system import ACME, System

SERVICES = ("kartra-gateway", "xero-gateway", "router")
EXAMPLES = int(os.environ.get("KXFLOW_FUZZ_EXAMPLES", "8"))


def _schema_except_handler_422(ctx: Any, response: Any, case: Any) -> Any:
    """FastAPI documents every 422 as its request-validation body; a 422 raised by a handler for a
    semantic problem (router: zap problems; xero-gateway: unknown backfill resource) has its own
    body. Those are checked to say what is wrong (a non-empty ``detail``), not against the schema."""
    if response.status_code == 422:
        detail = (response.json() or {}).get("detail")
        items = detail if isinstance(detail, list) else []
        if not all(isinstance(i, dict) and isinstance(i.get("loc"), list) for i in items) or not items:
            assert detail, "a 422 must say what is wrong"
            return None
    return response_schema_conformance(ctx, response, case)


CHECKS = [
    schemathesis.checks.not_a_server_error,
    _schema_except_handler_422,
    content_type_conformance,
    response_headers_conformance,
]


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_fuzz_no_5xx_and_schema_conformant(system: System, service: str) -> None:
    schema = schemathesis.openapi.from_dict(system.apps[service].openapi())
    base_url = system.urls[service]
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def fuzz(case: schemathesis.Case) -> None:
            headers = (
                {**ACME, **(case.headers or {})}
                if "authorization" not in {k.lower() for k in (case.headers or {})}
                else case.headers
            )
            try:
                case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)
            except AssertionError as exc:
                failures.append(f"{case.operation.label}: {str(exc)[:600]}")
                raise

        try:
            fuzz()
        except Exception:  # recorded above; go on with the next operation
            if not failures or operation.label not in failures[-1]:
                failures.append(f"{operation.label}: unexpected error")
    assert operations >= 5, f"{service}: the OpenAPI document lists only {operations} operations"
    assert not failures, "\n\n".join(failures)
