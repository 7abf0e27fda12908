"""Every admin endpoint of every service: no token or a wrong token → 401; another tenant's token on
acme's resources → 403/404 and none of acme's data; another tenant's lists are empty.

Endpoints are read from each service's own OpenAPI document, so a new route is covered (or must be
named in PUBLIC with the reason) the day it is added.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from security.inprocess_system import ACME, GLOBEX, NOTIFICATION_RULE, System, design_zap

SERVICES = ("kartra-gateway", "xero-gateway", "router")

# Reachable without a bearer token, by design. Each has its own authentication or holds no tenant data.
PUBLIC = {
    ("kartra-gateway", "POST", "/v1/webhooks/kartra/{connection_id}/{secret}"): "secret in the URL",
    ("kartra-gateway", "POST", "/v1/ipn/kartra/{connection_id}"): "IPN secret_key in the body",
    ("xero-gateway", "POST", "/v1/webhooks/xero"): "x-xero-signature HMAC",
    ("xero-gateway", "GET", "/v1/xero/callback"): "single-use OAuth state",
    ("router", "GET", "/v1/catalog"): "the static catalog, no tenant data",
    ("router", "GET", "/v1/catalog/{key}"): "the static catalog, no tenant data",
}
# Tenant-scoped creation: with globex's token these create globex's own resources, which is right.
CREATES = {
    ("kartra-gateway", "POST", "/v1/connections"),
    ("xero-gateway", "GET", "/v1/xero/connect"),
    ("xero-gateway", "POST", "/v1/xero/connect"),
    ("xero-gateway", "POST", "/v1/xero/custom-connection"),
    ("router", "POST", "/v1/zaps"),
    ("router", "POST", "/v1/zaps/dry-run"),
    ("router", "POST", "/v1/notifications/rules"),
}
# Tenant-scoped bulk operations by query: with globex's token they act on globex's runs only, so the
# answer is 200 and must report that nothing was touched (acme's runs are checked afterwards too).
BULK_BY_QUERY = {
    ("router", "POST", "/v1/runs/cancel"): "cancelled",
}


def endpoints(system: System) -> list[tuple[str, str, str, dict[str, Any]]]:
    out = []
    for service in SERVICES:
        for path, ops in system.apps[service].openapi()["paths"].items():
            for method, op in ops.items():
                out.append((service, method.upper(), path, op))
    return out


def acme_path(system: System, service: str, path: str) -> str:
    """The path with acme's real resource ids filled in."""
    xero_id = next(c["id"] for c in system.xero_connections if "acme" in c["id"])
    values = {
        "connection_id": system.kartra_connection["id"] if service == "kartra-gateway" else xero_id,
        "secret": system.kartra_connection["webhook_secret"],
        "zap_id": system.zap["id"],
        "run_id": system.run_id,
        "job_id": system.backfill_id,
        "kind": "tags",
        "key": "kartra.product.purchased",
        "rule_id": system.rule_id,
        "catchup_id": "cu_0123456789abcdef0123",
        "test_id": "t_0123456789abcdef01234567",
    }
    return path.format(**values)


def body_for(system: System, service: str, method: str, path: str) -> Any:
    """A valid body for each endpoint that takes one (so a refusal is about the tenant, not a 422)."""
    xero_id = next(c["id"] for c in system.xero_connections if "acme" in c["id"])
    zap = design_zap(system.kartra_connection["id"], xero_id, name="globex attempt")
    bodies: dict[tuple[str, str, str], Any] = {
        ("kartra-gateway", "POST", "/v1/connections"): {
            "name": "globex-kartra",
            "app_id": "x",
            "api_key": "y",
            "api_password": "z",
        },
        ("xero-gateway", "PUT", "/v1/connections/{connection_id}/daily-limit"): {"per_day": 10},
        ("xero-gateway", "POST", "/v1/backfills"): {
            "connection_id": xero_id,
            "resource": "invoices",
            "since": "2020-01-01T00:00:00Z",
        },
        ("router", "POST", "/v1/zaps"): zap,
        ("router", "PUT", "/v1/zaps/{zap_id}"): zap,
        ("router", "PUT", "/v1/zaps/{zap_id}/draft"): zap,
        ("router", "POST", "/v1/zaps/{zap_id}/draft/publish"): {"force": True},
        ("router", "POST", "/v1/zaps/{zap_id}/test-step"): {"step": "invoice", "source": "published"},
        ("router", "POST", "/v1/zaps/{zap_id}/catchups"): {"since": "2020-01-01T00:00:00Z", "dry_run": True},
        ("router", "POST", "/v1/zaps/dry-run"): {"spec": zap},
        ("router", "POST", "/v1/zaps/{zap_id}/replay"): {"status": "failed"},
        ("router", "POST", "/v1/notifications/rules"): {**NOTIFICATION_RULE, "name": "globex rule"},
        ("router", "POST", "/v1/runs/cancel"): {"zap_id": system.zap["id"]},
    }
    return bodies.get((service, method, path))


def acme_secrets(system: System) -> list[str]:
    """Strings that identify acme's data; none may appear in an answer to globex."""
    return [
        system.kartra_connection["webhook_secret"],
        system.kartra_app["api_key"],
        system.kartra_app["api_password"],
        "ada@example.com",
        system.zap["name"],
        NOTIFICATION_RULE["target"],
        *(c["xero_tenant_id"] for c in system.xero_connections),
    ]


def test_every_endpoint_is_public_by_design_or_admin(system: System) -> None:
    found = {(s, m, p) for s, m, p, _ in endpoints(system)}
    assert set(PUBLIC) <= found, f"PUBLIC names endpoints that no longer exist: {set(PUBLIC) - found}"
    assert len(found - set(PUBLIC)) >= 20, "expected the admin APIs of all three services"


def test_admin_endpoints_refuse_missing_or_wrong_token(system: System) -> None:
    problems = []
    with httpx.Client(timeout=30) as http:
        for service, method, path, _ in endpoints(system):
            if (service, method, path) in PUBLIC:
                continue
            url = system.urls[service] + acme_path(system, service, path)
            body = body_for(system, service, method, path)
            for headers in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}):
                res = http.request(method, url, json=body, headers=headers)
                if res.status_code != 401:
                    who = headers or "no token"
                    problems.append(f"{service} {method} {path} with {who}: {res.status_code}")
                for secret in acme_secrets(system):
                    assert secret not in res.text, f"{service} {method} {path} leaked acme data to no token"
    assert not problems, "\n".join(problems)


def test_another_tenant_gets_404_or_403_and_never_data(system: System) -> None:
    problems = []
    with httpx.Client(timeout=30) as http:
        for service, method, path, _ in endpoints(system):
            key = (service, method, path)
            if key in PUBLIC or key in CREATES:
                continue
            url = system.urls[service] + acme_path(system, service, path)
            res = http.request(method, url, json=body_for(system, service, method, path), headers=GLOBEX)
            for secret in acme_secrets(system):
                if secret in res.text:
                    problems.append(f"{service} {method} {path}: globex saw acme's {secret[:12]}…")
            if key in BULK_BY_QUERY:
                counted = BULK_BY_QUERY[key]
                if res.status_code != 200 or res.json().get(counted) != 0:
                    problems.append(
                        f"{service} {method} {path}: globex got {res.status_code}: {res.text[:200]}"
                    )
                continue
            has_acme_id = "{" in path
            if has_acme_id and res.status_code not in (403, 404):
                problems.append(f"{service} {method} {path}: globex got {res.status_code}: {res.text[:200]}")
            if not has_acme_id and method == "GET":
                assert res.status_code == 200, f"{service} {path}: {res.status_code}"
                items = res.json()
                items = items.get("items", items) if isinstance(items, dict) else items
                if items:
                    problems.append(f"{service} GET {path}: globex's list is not empty: {items}")
            if not has_acme_id and method != "GET" and res.status_code not in (403, 404):
                problems.append(f"{service} {method} {path}: globex got {res.status_code}: {res.text[:200]}")
    assert not problems, "\n".join(problems)


def test_refused_mutations_changed_nothing(system: System) -> None:
    """After globex's DELETE/disable/rotate attempts, acme's resources are intact and still work."""
    with httpx.Client(timeout=30) as http:
        conn = http.get(
            f"{system.urls['kartra-gateway']}/v1/connections/{system.kartra_connection['id']}", headers=ACME
        )
        assert conn.status_code == 200
        rules = http.get(f"{system.urls['router']}/v1/notifications/rules", headers=ACME).json()["items"]
        assert [r["id"] for r in rules] == [system.rule_id]
        run = http.get(f"{system.urls['router']}/v1/runs/{system.run_id}", headers=ACME).json()
        assert run["status"] == "succeeded"
        zap = http.get(f"{system.urls['router']}/v1/zaps/{system.zap['id']}", headers=ACME).json()
        assert zap["enabled"] is True
        assert zap["name"] == system.zap["name"]
        xero = http.get(f"{system.urls['xero-gateway']}/v1/connections", headers=ACME).json()
        assert all(c["daily_limit"] is None for c in xero)
        # The webhook secret was not rotated: acme's Kartra can still deliver (a duplicate is fine).
        res = http.post(system.kartra_webhook_url, json={"lead": {"email": "x@example.com"}, "action": "x"})
        assert res.status_code == 200, res.text


@pytest.mark.parametrize("service", SERVICES)
def test_answers_never_carry_credentials(system: System, service: str) -> None:
    """acme's own listings show connection metadata only: no API key, password or token."""
    with httpx.Client(timeout=30) as http:
        listing = "zaps" if service == "router" else "connections"
        res = http.get(f"{system.urls[service]}/v1/{listing}", headers=ACME)
    assert res.status_code == 200
    creds = (system.kartra_app["api_key"], system.kartra_app["api_password"])
    for secret in (*creds, "access_token", "refresh_token"):
        assert secret not in res.text
