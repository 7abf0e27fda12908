"""`make demo`: one Kartra sale becomes a Xero contact, invoice and payment, on the running system.

Against `make run` (or any kxflow whose gateways point at the sandboxes), it:

1. creates a Kartra App in the Kartra sandbox and the `kartra-main` connection on kartra-gateway,
   and registers the connection's webhook URL with the sandbox (as you would in Kartra's settings);
2. connects the Xero organisation "Acme AU" through the real OAuth redirect flow
   (`GET /v1/xero/connect` → the sandbox's consent page → `/v1/xero/callback`) → `xero-acme-au`;
3. applies `examples/zaps/purchase-to-invoice.yaml` (DESIGN §4) with `zapctl`;
4. makes the Kartra sandbox sell product 223 (which fires the purchase webhook);
5. waits for the run, showing its progress, and prints each step, the Xero contact, invoice and
   payment, and the time from the webhook to the last Xero call;
6. reads the invoice and payment back from the Xero sandbox's API with a token the sandbox issues
   to its custom-connection app (what real Xero offers too), to prove they exist.

Running it again reuses the connections and the zap. Exit status: 0 completed, 1 failed or not
running, 2 timed out. ``--json`` prints the summary as JSON (the system test reads it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import yaml
from rich.console import Console
from rich.table import Table

from kxflow_contracts.runtime.polite_http import PoliteTransport

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kxsystem import (
    DEFAULT_PORTS,
    DEV_TOKEN,
    ROOT,
    SANDBOX_XERO_CLIENT_ID,
    SANDBOX_XERO_CLIENT_SECRET,
)

ZAP_FILE = ROOT / "examples" / "zaps" / "purchase-to-invoice.yaml"
KARTRA_CONNECTION = "kartra-main"
XERO_CONNECTION = "xero-acme-au"
XERO_ORG = "Acme AU"
# The Kartra sandbox's demo App. These are sandbox values, not secrets: the sandbox accepts any.
DEMO_APP = {"app_id": "kxflow-demo", "api_key": "kxflow-demo-api-key", "api_password": "kxflow-demo-pass"}
# The Xero sandbox's custom-connection app (SandboxConfig defaults), used only to read back.
XERO_CUSTOM_CLIENT = ("kxflow-custom-client", "kxflow-custom-secret-0123456789")
TERMINAL = {"succeeded", "failed", "filtered", "halted"}


class DemoError(Exception):
    """A step of the demo could not be done; the message says what and what to do."""


def _default(kind: str) -> str:
    env = f"KXFLOW_DEMO_{kind.upper().replace('-', '_')}_URL"
    return os.environ.get(env, f"http://127.0.0.1:{DEFAULT_PORTS[kind]}")


@dataclass
class Endpoints:
    router: str
    kartra_gateway: str
    xero_gateway: str
    kartra_sandbox: str
    xero_sandbox: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Demo:
    ep: Endpoints
    console: Console
    timeout: float = 60.0
    email: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.http = httpx.Client(timeout=15.0, transport=PoliteTransport())
        self.email = self.email or f"ada+{secrets.token_hex(4)}@example.com"

    def say(self, text: str) -> None:
        self.console.print(text)

    def _check(self, resp: httpx.Response, what: str) -> Any:
        if resp.status_code >= 400:
            raise DemoError(f"{what}: HTTP {resp.status_code} {resp.text[:500]}")
        return resp.json() if resp.content else None

    # -- 0. is the system up? ------------------------------------------------------------------
    def check_running(self) -> None:
        down = []
        for name, url, path in (
            ("router", self.ep.router, "/readyz"),
            ("kartra-gateway", self.ep.kartra_gateway, "/readyz"),
            ("xero-gateway", self.ep.xero_gateway, "/readyz"),
            ("kartra-sandbox", self.ep.kartra_sandbox, "/_sandbox/calls"),
            ("xero-sandbox", self.ep.xero_sandbox, "/_sandbox/stats"),
        ):
            try:
                ok = self.http.get(url + path, timeout=3.0).status_code == 200
            except httpx.HTTPError:
                ok = False
            if not ok:
                down.append(f"{name} ({url})")
        if down:
            raise DemoError(f"kxflow is not running: {', '.join(down)} not ready. Start it with `make run`.")

    # -- 1. Kartra ----------------------------------------------------------------------------
    def connect_kartra(self) -> str:
        sb, gw = self.ep.kartra_sandbox, self.ep.kartra_gateway
        # A fresh sandbox account with the demo App's credentials (a re-run starts clean).
        self._check(self.http.post(f"{sb}/_sandbox/apps", json=DEMO_APP), "create the Kartra sandbox App")
        existing = self._check(self.http.get(f"{gw}/v1/connections", headers=self.ep.auth), "list Kartra")
        conn = next((c for c in existing if c["name"] == KARTRA_CONNECTION), None)
        if conn is None:
            created = self._check(
                self.http.post(
                    f"{gw}/v1/connections", headers=self.ep.auth, json={"name": KARTRA_CONNECTION, **DEMO_APP}
                ),
                "create the Kartra connection",
            )
            verb = "created"
        else:  # the secret is shown only once: rotate to learn a webhook URL again
            created = self._check(
                self.http.post(f"{gw}/v1/connections/{conn['id']}/rotate-secret", headers=self.ep.auth),
                "rotate the Kartra webhook secret",
            )
            verb = "reused"
        # Both channels, as you would in Kartra's settings: the outbound-API webhook (lead and
        # product events) and the IPN (payments: kartra.payment.* triggers fire only from it).
        self._check(
            self.http.post(
                f"{sb}/_sandbox/webhooks",
                json={
                    "app_id": DEMO_APP["app_id"],
                    "url": created["webhook_url"],
                    "ipn_url": created["ipn_url"],
                    "ipn_secret": created["ipn_secret_key"],
                },
            ),
            "register the webhook and IPN URLs in the Kartra sandbox",
        )
        self.say(
            f"  [green]✓[/] Kartra connection [bold]{KARTRA_CONNECTION}[/] {verb} "
            f"(id {created['id']}); webhook and IPN registered in the Kartra sandbox"
        )
        return str(created["id"])

    # -- 2. Xero (real OAuth redirect flow) ---------------------------------------------------
    def _xero_connection(self) -> dict[str, Any] | None:
        conns = self._check(
            self.http.get(f"{self.ep.xero_gateway}/v1/connections", headers=self.ep.auth), "list Xero"
        )
        return next((c for c in conns if c["id"] == XERO_CONNECTION), None)

    def _repair_sandbox_orgs(self) -> tuple[list[str], list[str]]:
        """Detects and repairs a Xero sandbox that lost its state (restarted without its state
        file, or killed before it saved it): the organisations kxflow is connected to that the
        sandbox no longer has are added back with the same tenant ids.

        Returns the connections repaired and the tenant ids kxflow is connected to (the consent
        page then picks exactly those, so the callback updates the same connections; without this
        it would connect the sandbox's new organisations under new, suffixed names such as
        ``xero-acme-au-<hex>`` that the applied zap does not use)."""
        conns = self._check(
            self.http.get(f"{self.ep.xero_gateway}/v1/connections", headers=self.ep.auth), "list Xero"
        )
        conns = [c for c in conns if c.get("kind", "auth_code") == "auth_code"]
        orgs = self._check(self.http.get(f"{self.ep.xero_sandbox}/_sandbox/orgs"), "list Xero sandbox orgs")
        known = {o["tenantId"] for o in orgs}
        country = {o["name"]: o.get("country", "AU") for o in orgs}
        lost = [c for c in conns if c["xero_tenant_id"] not in known]
        for c in lost:
            body = {
                "name": c["name"],
                "tenantId": c["xero_tenant_id"],
                "country": country.get(c["name"], "AU"),
            }
            self._check(
                self.http.post(f"{self.ep.xero_sandbox}/_sandbox/orgs", json=body),
                "restore an organisation in the Xero sandbox",
            )
        if lost:
            self.say(
                "  [yellow]![/] the Xero sandbox had lost "
                + ", ".join(c["id"] for c in lost)
                + " (restarted without its state): organisations restored, connecting again"
            )
        return [c["id"] for c in lost], [c["xero_tenant_id"] for c in conns]

    def connect_xero(self) -> dict[str, Any]:
        lost, tenants = self._repair_sandbox_orgs()
        conn = self._xero_connection()
        if conn is not None and conn.get("status") == "active" and not lost:
            self.say(f"  [green]✓[/] Xero connection [bold]{XERO_CONNECTION}[/] reused ({conn.get('name')})")
            self.facts["xero_tenant_id"] = conn["xero_tenant_id"]
            return conn
        resp = self.http.get(f"{self.ep.xero_gateway}/v1/xero/connect", headers=self.ep.auth)
        hops = 0
        while resp.is_redirect and hops < 5:  # gateway → Xero consent → gateway callback
            location = resp.headers["location"]
            if tenants and "/identity/connect/authorize" in location:
                # On the consent page, pick the organisations already connected (Xero lets you).
                location += ("&" if "?" in location else "?") + "tenants=" + ",".join(tenants)
            hop = location.split("?")[0]
            self.say(f"    → {hop}")
            resp = self.http.get(location)  # no bearer token: the browser would not send one
            hops += 1
        body = self._check(resp, "the Xero OAuth callback")
        names = [c["id"] for c in body.get("connections", [])]
        conn = self._xero_connection()
        if conn is None:
            raise DemoError(f"OAuth flow finished but {XERO_CONNECTION} is not listed (got {names})")
        self.say(f"  [green]✓[/] Xero connected through OAuth: {', '.join(names)}")
        self.facts["xero_tenant_id"] = conn["xero_tenant_id"]
        return conn

    # -- 3. the zap ---------------------------------------------------------------------------
    def apply_zap(self) -> str:
        """``zapctl apply`` of the example as written: the router resolves the connection names
        (``kartra-main``, ``xero-acme-au``) to the gateways' connection ids."""
        path = ZAP_FILE
        name = yaml.safe_load(path.read_text())["name"]
        cmd = [sys.executable, "-m", "zap_router.entrypoints.cli", "apply", "-f", str(path)]
        env = {
            **os.environ,
            "ZAPCTL_URL": self.ep.router,
            "ZAPCTL_TOKEN": self.ep.token,
            "ROUTER_URL": self.ep.router,
            "ROUTER_TOKEN": self.ep.token,
        }
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=60)
        if proc.returncode != 0:
            raise DemoError(f"zapctl apply failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        zaps = self._check(self.http.get(f"{self.ep.router}/v1/zaps", headers=self.ep.auth), "list zaps")
        zap = next((z for z in zaps["items"] if z.get("name") == name), None)
        if zap is None:
            raise DemoError(f"zapctl applied {path} but no zap named {name!r} is listed")
        zap_id = zap["id"]
        self.say(f"  [green]✓[/] zap applied with zapctl: [bold]{name}[/] ({zap_id}, v{zap.get('version')})")
        return str(zap_id)

    # -- 4. the sale --------------------------------------------------------------------------
    def sell(self) -> dict[str, Any]:
        started = time.time()
        sale = self._check(
            self.http.post(
                f"{self.ep.kartra_sandbox}/_sandbox/simulate/purchase",
                json={
                    "app_id": DEMO_APP["app_id"],
                    "email": self.email,
                    "first_name": "Ada",
                    "last_name": "Lovelace",
                    "product_id": "223",
                    "price_point": "2",
                },
            ),
            "simulate a Kartra purchase",
        )
        sale["fired_at"] = started
        answered = {d.get("kind"): d.get("status") for d in sale.get("deliveries", []) if isinstance(d, dict)}
        sale["answered"] = answered
        self.say(
            f"  [green]✓[/] Kartra sold 'Pro Course' to {self.email} for {sale['amount']} "
            f"(transaction {sale['transaction_id']}); gateway answered "
            + ", ".join(f"{kind} {code}" for kind, code in answered.items())
        )
        missing = {"outbound", "ipn"} - {k for k, code in answered.items() if code == 200}
        if missing:
            raise DemoError(
                f"the Kartra sandbox's {' and '.join(sorted(missing))} delivery was not accepted "
                f"by kartra-gateway: {sale.get('deliveries')}"
            )
        return sale

    # -- 5. the run ---------------------------------------------------------------------------
    def _find_run(self, zap_id: str, sale: dict[str, Any]) -> dict[str, Any] | None:
        """The zap's run for this sale (runs listed since the sale, each read in full)."""
        since = datetime.fromtimestamp(sale["fired_at"] - 1, UTC).isoformat()
        page = self._check(
            self.http.get(
                f"{self.ep.router}/v1/runs",
                params={"zap_id": zap_id, "since": since, "limit": 50},
                headers=self.ep.auth,
            ),
            "list runs",
        )
        for item in page["items"]:
            run = self._check(
                self.http.get(f"{self.ep.router}/v1/runs/{item['id']}", headers=self.ep.auth), "run"
            )
            trigger = run.get("trigger") or {}
            if (
                str(trigger.get("transaction", {}).get("id")) == str(sale["transaction_id"])
                and trigger.get("lead", {}).get("email") == self.email
            ):
                return run
        return None

    def wait_for_run(self, zap_id: str, sale: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        run: dict[str, Any] | None = None
        with self.console.status("waiting for the router to start the run…") as status:
            while time.monotonic() < deadline:
                run = self._find_run(zap_id, sale)
                if run is not None:
                    steps = run.get("steps", {})
                    progress = "  ".join(
                        f"{sid}: {steps.get(sid, {}).get('status', 'pending')}"
                        for sid in run.get("step_order", [])
                    )
                    status.update(f"run {run['id']} {run['status']}  [{progress}]")
                    if run["status"] in TERMINAL:
                        return run
                time.sleep(0.2)  # polling interval of a wait with a deadline
        raise TimeoutError(
            f"no finished run for transaction {sale['transaction_id']} after {self.timeout:.0f}s"
            + (f" (last seen: {run['id']} {run['status']})" if run else "")
        )

    # -- 6. read back from Xero ---------------------------------------------------------------
    def _read_token(self, tenant: str | None) -> tuple[str, list[dict[str, Any]]]:
        """A token of the sandbox's custom-connection app (what real Xero offers too) and the
        organisations it reaches. A custom connection reaches one organisation; when it is not
        ``tenant`` (a repaired sandbox has two named Acme AU), the sandbox's demo app consents to
        ``tenant`` alone through the authorization-code flow instead."""
        sb = self.ep.xero_sandbox
        token = self._check(
            self.http.post(
                f"{sb}/connect/token",
                auth=XERO_CUSTOM_CLIENT,
                data={"grant_type": "client_credentials", "scope": "accounting.invoices.read"},
            ),
            "a token from the Xero sandbox",
        )["access_token"]
        orgs = self._check(
            self.http.get(f"{sb}/Connections", headers={"Authorization": f"Bearer {token}"}),
            "Xero /Connections",
        )
        if tenant is None or any(o["tenantId"] == tenant for o in orgs):
            return token, orgs
        redirect = "http://127.0.0.1/kxflow-demo-read-back"
        consent = self.http.get(
            f"{sb}/identity/connect/authorize",
            params={
                "client_id": SANDBOX_XERO_CLIENT_ID,
                "redirect_uri": redirect,
                "scope": "offline_access accounting.invoices.read accounting.payments.read",
                "state": "read-back",
                "response_type": "code",
                "tenants": tenant,
            },
        )
        code = parse_qs(urlsplit(consent.headers.get("location", "")).query).get("code", [""])[0]
        token = self._check(
            self.http.post(
                f"{sb}/connect/token",
                auth=(SANDBOX_XERO_CLIENT_ID, SANDBOX_XERO_CLIENT_SECRET),
                data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect},
            ),
            "a token for the connected organisation from the Xero sandbox",
        )["access_token"]
        orgs = self._check(
            self.http.get(f"{sb}/Connections", headers={"Authorization": f"Bearer {token}"}),
            "Xero /Connections",
        )
        return token, orgs

    def verify_in_xero(self, invoice_id: str, payment_id: str | None) -> dict[str, Any]:
        sb = self.ep.xero_sandbox
        # The organisation the zap's connection points at.
        wanted = self.facts.get("xero_tenant_id")
        token, orgs = self._read_token(wanted)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        tenant = next(
            (
                o["tenantId"]
                for o in orgs
                if o["tenantId"] == wanted or (not wanted and o.get("tenantName") == XERO_ORG)
            ),
            None,
        )
        if tenant is None:
            raise DemoError(f"the Xero sandbox token does not reach {XERO_ORG}: {orgs}")
        headers["xero-tenant-id"] = tenant
        inv = self._check(
            self.http.get(f"{sb}/api.xro/2.0/Invoices/{invoice_id}", headers=headers), "read the invoice"
        )["Invoices"][0]
        out = {"invoice": inv}
        if payment_id:
            out["payment"] = self._check(
                self.http.get(f"{sb}/api.xro/2.0/Payments/{payment_id}", headers=headers), "read the payment"
            )["Payments"][0]
        return out

    # -- the summary --------------------------------------------------------------------------
    def summarize(self, run: dict[str, Any], sale: dict[str, Any], xero: dict[str, Any] | None) -> dict:
        steps = run.get("steps", {})
        out = lambda sid: (steps.get(sid) or {}).get("output") or {}  # noqa: E731
        finished = [_ts(s.get("finished_at")) for s in steps.values() if s.get("finished_at")]
        last_call = max(finished) if finished else None
        summary = {
            "run_id": run["id"],
            "status": run["status"],
            "zap_id": run.get("zap_id"),
            "steps": [
                {
                    "id": sid,
                    "action": steps.get(sid, {}).get("action"),
                    "status": steps.get(sid, {}).get("status"),
                    "duration_ms": steps.get(sid, {}).get("duration_ms"),
                    "error": steps.get(sid, {}).get("error"),
                }
                for sid in run.get("step_order", [])
            ],
            "contact": {"ContactID": out("contact").get("ContactID"), "Name": out("contact").get("Name")},
            "invoice": {
                k: out("invoice").get(k)
                for k in ("InvoiceID", "InvoiceNumber", "Total", "Status", "AmountDue")
            },
            "payment": {k: out("paid").get(k) for k in ("PaymentID", "Amount", "Status")},
            "transaction_id": sale["transaction_id"],
            "deliveries": sale.get("answered", {}),
            "webhook_to_last_xero_call_ms": (
                round((last_call - sale["fired_at"]) * 1000) if last_call is not None else None
            ),
            "xero_sandbox": (
                {
                    "invoice_exists": True,
                    "InvoiceNumber": xero["invoice"].get("InvoiceNumber"),
                    "Status": xero["invoice"].get("Status"),
                    "AmountDue": xero["invoice"].get("AmountDue"),
                    "payment_exists": "payment" in xero,
                }
                if xero
                else None
            ),
        }
        return summary

    def show(self, s: dict[str, Any]) -> None:
        table = Table(title=f"run {s['run_id']} — {s['status']}")
        for col in ("step", "action", "status", "ms", "error"):
            table.add_column(col)
        for st in s["steps"]:
            err = st["error"] or {}
            table.add_row(
                st["id"],
                st["action"] or "",
                st["status"] or "",
                f"{st['duration_ms']:.0f}" if st["duration_ms"] is not None else "",
                f"{err.get('code', '')} {err.get('message', '')}".strip(),
            )
        self.console.print(table)
        c, i, p = s["contact"], s["invoice"], s["payment"]
        self.console.print(f"  Xero contact   {c['Name']}  ({c['ContactID']})")
        self.console.print(
            f"  Xero invoice   {i['InvoiceNumber']}  total {i['Total']}  status {i['Status']}"
            f"  ({i['InvoiceID']})"
        )
        self.console.print(f"  Xero payment   {p['Amount']}  ({p['PaymentID']})")
        if s["webhook_to_last_xero_call_ms"] is not None:
            self.console.print(
                f"  webhook → last Xero call: [bold]{s['webhook_to_last_xero_call_ms']} ms[/] "
                "(sale fired → finished_at of the last step, from the run's step timings)"
            )
        if s["xero_sandbox"]:
            x = s["xero_sandbox"]
            self.console.print(
                f"  [green]✓[/] read back from the Xero sandbox API: invoice {x['InvoiceNumber']} "
                f"{x['Status']} (amount due {x['AmountDue']}), payment "
                + ("present" if x["payment_exists"] else "missing")
            )

    def run(self) -> dict[str, Any]:
        self.check_running()
        self.say("[bold]1. Kartra[/]")
        self.connect_kartra()
        self.say("[bold]2. Xero (OAuth 2.0 authorization code flow)[/]")
        self.connect_xero()
        self.say("[bold]3. zap[/]")
        zap_id = self.apply_zap()
        self.say("[bold]4. sale[/]")
        sale = self.sell()
        self.say("[bold]5. run[/]")
        run = self.wait_for_run(zap_id, sale)
        xero = None
        invoice_id = ((run.get("steps", {}).get("invoice") or {}).get("output") or {}).get("InvoiceID")
        payment_id = ((run.get("steps", {}).get("paid") or {}).get("output") or {}).get("PaymentID")
        if run["status"] == "succeeded" and invoice_id:
            self.say("[bold]6. Xero sandbox[/]")
            xero = self.verify_in_xero(invoice_id, payment_id)
        return self.summarize(run, sale, xero)


def _ts(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    text = str(value)
    if re.search(r"[+-]\d\d:\d\d$|Z$", text) is None:
        text += "+00:00"
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC).timestamp()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--router-url", default=_default("router"))
    parser.add_argument("--kartra-gateway-url", default=_default("kartra-gateway"))
    parser.add_argument("--xero-gateway-url", default=_default("xero-gateway"))
    parser.add_argument("--kartra-sandbox-url", default=_default("kartra-sandbox"))
    parser.add_argument("--xero-sandbox-url", default=_default("xero-sandbox"))
    parser.add_argument("--token", default=os.environ.get("KXFLOW_DEMO_TOKEN", DEV_TOKEN))
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the run")
    parser.add_argument("--email", default="", help="buyer e-mail (default: a fresh one)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line at the end")
    args = parser.parse_args(argv)
    console = Console(stderr=args.json)
    demo = Demo(
        Endpoints(
            args.router_url,
            args.kartra_gateway_url,
            args.xero_gateway_url,
            args.kartra_sandbox_url,
            args.xero_sandbox_url,
            args.token,
        ),
        console,
        timeout=args.timeout,
        email=args.email,
    )
    try:
        summary = demo.run()
    except DemoError as exc:
        console.print(f"[red]✗ {exc}[/]")
        return 1
    except TimeoutError as exc:
        console.print(f"[red]✗ {exc}[/]")
        return 2
    demo.show(summary)
    if args.json:
        print(json.dumps(summary, default=str))
    return 0 if summary["status"] == "succeeded" and summary["xero_sandbox"] else 1


if __name__ == "__main__":
    sys.exit(main())
