"""The console in a real headless Chromium (Debian's ``chromium``, driven by Playwright through
``executable_path``: no browser is downloaded) against the whole system on real Kafka and FerretDB.

After ``make demo``'s flow: sign in, find the demo purchase's run by the buyer's e-mail, open it;
replay a failed run; cancel a run that waits for its retry; edit a zap as a draft and publish it;
another tenant signed in through the same console neither sees nor acts on it. The same module
proves that every metric of the chart's alerts and dashboard is exported. Screenshots go to
``test-artifacts/console/`` (gitignored).
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from deploy.alert_metrics import exported_names, used_metrics
from system_harness import ROOT, System, running_system
from waiting import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

ARTIFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAVE_CHROMIUM = Path(CHROMIUM).exists()
DEMO_APP_ID = "kxflow-demo"  # the Kartra sandbox App deploy/local/demo.py creates
INTRUDER = f"tok-intruder-{secrets.token_urlsafe(8)}"


@pytest.fixture(scope="module")
def system(kafka_bootstrap: str, mongodb_url: str) -> Iterator[System]:
    """The whole system; the router also knows a second tenant's token (the intruder)."""
    token, tenant = f"tok-{secrets.token_urlsafe(18)}", f"tenant-{secrets.token_hex(4)}"
    tokens = f"{token}:{tenant},{INTRUDER}:intruder"
    with running_system(
        kafka_bootstrap, mongodb_url, token=token, tenant=tenant, extra_env={"router": {"API_TOKENS": tokens}}
    ) as sys_:
        yield sys_


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    if not HAVE_CHROMIUM:
        pytest.fail("chromium is not installed: `make test` installs it (apt-get install chromium)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield chromium
        finally:
            await chromium.close()


async def signed_in(browser: Any, system: System, token: str, **context: Any) -> Any:
    ctx = await browser.new_context(**context)
    page = await ctx.new_page()
    page.set_default_timeout(15_000)
    await page.goto(f"{system.url('router')}/console")
    assert page.url.endswith("/console/login")
    await page.get_by_label("Admin token").fill(token)
    await page.keyboard.press("Enter")  # keyboard only
    await page.wait_for_url("**/console/runs")
    return page


async def failing_zap(system: System) -> dict[str, Any]:
    """A zap on the demo's trigger whose only step cannot be sent (its amount is not a number):
    every purchase gives a failed run, without depending on the sandboxes' behaviour."""
    async with httpx.AsyncClient(base_url=system.url("router"), headers=system.auth) as http:
        demo_zap = (await http.get("/v1/zaps")).json()["items"][0]
        spec = (await http.get(f"/v1/zaps/{demo_zap['id']}")).json()["spec"]
        body = {
            "name": "always fails",
            "trigger": spec["trigger"],
            "steps": [
                {
                    "id": "paid",
                    "action": "xero.payment.create",
                    "connection": "xero-acme-au",
                    "input": {
                        "Invoice": {"InvoiceID": "nope"},
                        "Account": {"Code": "090"},
                        "Amount": "{{ trigger.lead.email }}",
                        "Date": "2026-12-01",
                    },
                }
            ],
        }
        created = await http.post("/v1/zaps", json=body)
        assert created.status_code == 201, created.text
        return created.json()


async def waiting_run(system: System) -> str:
    """A demo purchase whose Xero payment is answered 503 every time: the gateway's retries give up,
    the router schedules the step again (the ladder's first rung is a minute away) and the run waits."""
    async with httpx.AsyncClient(timeout=30) as http:
        fault = {"status": 503, "count": 1000, "path_contains": "/Payments"}
        assert (await http.post(f"{system.url('xero-sandbox')}/_sandbox/fail", json=fault)).status_code == 200
        sale = {
            "app_id": DEMO_APP_ID,
            "email": f"wait+{secrets.token_hex(4)}@example.com",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "product_id": "223",
            "price_point": "2",
        }
        sold = await http.post(f"{system.url('kartra-sandbox')}/_sandbox/simulate/purchase", json=sale)
        assert sold.status_code == 200, sold.text
        runs = httpx.AsyncClient(base_url=system.url("router"), headers=system.auth, timeout=30)
        async with runs:

            async def waiting() -> str | None:
                for listed in (await runs.get("/v1/runs", params={"status": "waiting"})).json()["items"]:
                    run = (await runs.get(f"/v1/runs/{listed['id']}")).json()  # the list omits the trigger
                    if sale["email"] in str(run.get("trigger")):
                        return run["id"]
                return None

            return await wait_for(waiting, timeout=60, interval=0.5, message="a run waiting for its retry")


async def test_console_in_chromium(system: System, demo, browser) -> None:
    code, first, log = await demo(system)
    assert code == 0, log
    zap = await failing_zap(system)
    email = f"grace+{secrets.token_hex(4)}@example.com"
    code, summary, log = await demo(system, "--email", email)  # the demo's run and a failed one
    assert code == 0, log

    page = await signed_in(browser, system, system.token)
    await page.get_by_label("Business key").fill(email)
    await page.get_by_role("button", name="Filter").click()
    await page.wait_for_url("**q=*")
    links = page.get_by_test_id("run-link")
    await wait_for(lambda: links.count(), timeout=15, message="runs found by e-mail")
    texts = await links.all_inner_texts()
    assert summary["run_id"] in texts and first["run_id"] not in texts
    await page.screenshot(path=ARTIFACTS / "runs-search.png", full_page=True)

    await page.get_by_role("link", name=summary["run_id"]).click()
    await page.wait_for_url(f"**/console/runs/{summary['run_id']}")
    assert await page.get_by_test_id("run-status").inner_text() == "succeeded"
    assert await page.get_by_test_id("step").count() == 3
    assert len(await page.get_by_test_id("trace-id").inner_text()) == 32
    await page.screenshot(path=ARTIFACTS / "run.png", full_page=True)

    # The failed run of the second zap: replay it from the failed step.
    await page.goto(f"{system.url('router')}/console/runs?status=failed&zap_id={zap['id']}")
    failed_links = page.get_by_test_id("run-link")
    await wait_for(lambda: failed_links.count(), timeout=15, message="a failed run listed")
    failed_id = (await failed_links.all_inner_texts())[0]
    await failed_links.first.click()
    await page.wait_for_url(f"**/console/runs/{failed_id}")
    assert "input_invalid" in await page.locator("#run-body").inner_text()
    await page.get_by_test_id("replay").click()
    await page.wait_for_url(f"**/console/runs/{failed_id}?message=*")
    assert "Replayed from the failed step" in await page.get_by_role("status").inner_text()
    async with httpx.AsyncClient(base_url=system.url("router"), headers=system.auth) as http:
        run = (await http.get(f"/v1/runs/{failed_id}")).json()
    assert run["replays"] == 1 and run["steps"]["paid"]["attempt"] == 2
    await page.screenshot(path=ARTIFACTS / "replayed.png", full_page=True)

    # A run left waiting (Xero answers 503 to its payment until the test ends): cancel it.
    waiting_id = await waiting_run(system)
    await page.goto(f"{system.url('router')}/console/runs/{waiting_id}")
    await page.get_by_test_id("cancel").click()
    await page.wait_for_url(f"**/console/runs/{waiting_id}?message=*")
    assert await page.get_by_role("status").inner_text() == "Cancelled."
    assert await page.get_by_test_id("run-status").inner_text() == "cancelled"
    assert await page.get_by_test_id("cancel").count() == 0  # nothing left to cancel
    await page.screenshot(path=ARTIFACTS / "cancelled.png", full_page=True)
    async with httpx.AsyncClient(base_url=system.url("router"), headers=system.auth) as http:
        run = (await http.get(f"/v1/runs/{waiting_id}")).json()
    assert run["status"] == "cancelled" and run["error"]["code"] == "cancelled"

    # Edit the failing zap as a draft, see what it changes, publish it.
    await page.goto(f"{system.url('router')}/console/zaps/{zap['id']}")
    source = page.get_by_label("Zap (YAML", exact=False)
    await source.fill((await source.input_value()).replace("name: always fails", "name: always fails, v2"))
    await page.get_by_test_id("save-draft").click()
    await page.wait_for_url("**saved=draft")
    assert "+name: always fails, v2" in await page.get_by_test_id("draft-diff").inner_text()
    await page.screenshot(path=ARTIFACTS / "draft.png", full_page=True)
    async with httpx.AsyncClient(base_url=system.url("router"), headers=system.auth) as http:
        assert (await http.get(f"/v1/zaps/{zap['id']}")).json()["version"] == 1  # not live yet
        await page.get_by_test_id("publish").click()
        await page.wait_for_url("**saved=published")
        assert "Draft published as version 2" in await page.get_by_role("status").inner_text()
        live = (await http.get(f"/v1/zaps/{zap['id']}")).json()
    assert live["version"] == 2 and live["name"] == "always fails, v2"

    # Phone-sized: the runs list still reads and the navigation is reachable.
    phone = await signed_in(browser, system, system.token, viewport={"width": 390, "height": 844})
    await phone.screenshot(path=ARTIFACTS / "runs-phone.png", full_page=True)
    width = await phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"

    # Another tenant, through the same console: nothing of this tenant's is visible or actionable.
    intruder = await signed_in(browser, system, INTRUDER)
    assert await intruder.get_by_test_id("tenant").inner_text() == "intruder"
    assert await intruder.get_by_test_id("run-link").count() == 0
    answer = await intruder.goto(f"{system.url('router')}/console/runs/{summary['run_id']}")
    assert answer is not None and answer.status == 404
    csrf = await intruder.locator("input[name=csrf]").first.input_value()
    replay = await intruder.request.post(
        f"{system.url('router')}/console/runs/{failed_id}/replay", form={"csrf": csrf}, max_redirects=0
    )
    assert replay.status == 404
    await intruder.screenshot(path=ARTIFACTS / "other-tenant.png", full_page=True)
    async with httpx.AsyncClient(base_url=system.url("router"), headers=system.auth) as http:
        assert (await http.get(f"/v1/runs/{failed_id}")).json()["replays"] == 1


async def test_every_alert_and_dashboard_metric_is_exported(system: System) -> None:
    """Every metric the chart's PrometheusRule and Grafana dashboard use is on a service's /metrics
    (here, sharing this module's running system rather than starting another)."""
    exported: set[str] = set()
    async with httpx.AsyncClient() as http:
        for name in ("router", "kartra-gateway", "xero-gateway"):
            answer = await http.get(f"{system.url(name)}/metrics")
            assert answer.status_code == 200
            exported |= exported_names(answer.text)
    used = used_metrics()
    assert len(used) >= 10
    assert not used - exported, f"not exported by any service: {sorted(used - exported)}"
