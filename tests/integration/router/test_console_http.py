"""The console over real HTTP on the real router (Kafka, FerretDB, a fake gateway): sign-in and the
session cookie, CSRF on actions, search by business key, replay, and tenancy exactly as the API's.
(The same flows in a real browser: tests/e2e/test_console_browser.py.)"""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest
from asgi_server import serve
from design_zap import DESIGN_EXAMPLE
from fastapi import FastAPI, Request
from router_harness import ACME, GLOBEX, ok, publish_events, trigger_event
from waiting import wait_for

from kxflow_contracts.results import ActionError, ActionResult
from zap_router.domain.runs import run_id_for
from zap_router.testing import purchase_event

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

ACME_TOKEN = ACME["Authorization"].removeprefix("Bearer ")
GLOBEX_TOKEN = GLOBEX["Authorization"].removeprefix("Bearer ")


async def sign_in_answer(http: httpx.AsyncClient, token: str) -> httpx.Response:
    """Post the sign-in form like a browser: the form's pre-token cookie, then the token."""
    form = await http.get("/console/login")
    pre_cookie = form.cookies.get("kxflow_console_pre") or re.search(
        r"kxflow_console_pre=([^;]+)", form.headers["set-cookie"]
    ).group(1)
    assert form.status_code == 200, form.text
    pre = re.search(r'name="pre" value="([^"]+)"', form.text).group(1)
    return await http.post(
        "/console/login",
        data={"token": token, "pre": pre},
        headers={"Cookie": f"kxflow_console_pre={pre_cookie}"},
    )


async def sign_in(router, token: str) -> dict[str, str]:
    """Sign in; the session cookie's header (empty if the token was refused)."""
    answer = await sign_in_answer(router.http, token)
    assert answer.status_code == 303, answer.text
    if answer.headers["location"] != "/console/runs":
        return {}
    set_cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in set_cookie and "SameSite=strict" in set_cookie and "Secure" in set_cookie
    cookie = re.search(r"kxflow_console=([^;]+)", set_cookie).group(1)
    return {"Cookie": f"kxflow_console={cookie}"}


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def failed_and_good_runs(router) -> tuple[dict[str, Any], str, str]:
    def contact(cmd):
        if cmd.input["EmailAddress"] == "bob@example.com" and cmd.attempt == 1:
            error = ActionError(code="xero_validation", message="Email address is invalid", retryable=False)
            return ActionResult(
                command_id=cmd.command_id,
                run_id=cmd.run_id,
                step_id=cmd.step_id,
                status="failed",
                error=error,
            )
        return ok({"ContactID": "C-1"})(cmd)

    router.gateway.responders.update(
        {
            "xero.contact.find_or_create": contact,
            "xero.sales_invoice.create": ok({"InvoiceID": "INV-1", "InvoiceNumber": "INV-0042"}),
            "xero.payment.create": ok({"PaymentID": "P-1"}),
        }
    )
    created = await router.http.post("/v1/zaps", json=DESIGN_EXAMPLE, headers=ACME)
    zap = created.json()
    topics = router.services.settings.topics
    events = [
        ("acme:L1", trigger_event("evt-ada", "acme", purchase_event(connection_id="kartra-main"))),
        (
            "acme:L2",
            trigger_event(
                "evt-bob", "acme", purchase_event(connection_id="kartra-main", email="bob@example.com")
            ),
        ),
    ]
    await publish_events(router.services.settings.kafka_bootstrap_servers, topics.kartra_events, events)
    good, bad = run_id_for(zap["id"], "evt-ada"), run_id_for(zap["id"], "evt-bob")

    async def both_done() -> bool:
        a, b = await router.services.runs.get(good), await router.services.runs.get(bad)
        return bool(a and b and a["status"] == "succeeded" and b["status"] == "failed")

    await wait_for(both_done, timeout=45, message="one run succeeded, one failed")
    return zap, good, bad


async def test_sign_in_search_open_and_replay(router) -> None:
    _, good, bad = await failed_and_good_runs(router)
    assert (await router.http.get("/console/runs")).status_code == 303  # not signed in
    assert await sign_in(router, "not-a-token") == {}
    acme = await sign_in(router, ACME_TOKEN)

    listing = await router.http.get("/console/runs", headers=acme)
    assert good in listing.text and bad in listing.text
    by_email = await router.http.get("/console/runs", params={"q": "bob@example.com"}, headers=acme)
    assert bad in by_email.text and good not in by_email.text
    by_invoice = await router.http.get("/console/runs", params={"q": "INV-0042"}, headers=acme)
    assert good in by_invoice.text and bad not in by_invoice.text
    failed_only = await router.http.get("/console/runs/rows", params={"status": "failed"}, headers=acme)
    assert bad in failed_only.text and good not in failed_only.text

    page = await router.http.get(f"/console/runs/{bad}", headers=acme)
    assert page.status_code == 200
    assert "Email address is invalid" in page.text and "Replay from the failed step" in page.text
    assert page.headers["content-security-policy"].startswith("default-src 'self'")

    # An action without the CSRF token is refused and changes nothing.
    refused = await router.http.post(f"/console/runs/{bad}/replay", headers=acme)
    assert refused.status_code == 403
    assert (await router.services.runs.get(bad))["status"] == "failed"

    replayed = await router.http.post(
        f"/console/runs/{bad}/replay", data={"csrf": csrf_of(page.text)}, headers=acme
    )
    assert replayed.status_code == 303

    async def succeeded() -> bool:
        return (await router.services.runs.get(bad))["status"] == "succeeded"

    await wait_for(succeeded, timeout=30, message="replayed run succeeded")


async def test_another_tenant_cannot_see_or_act_on_a_run(router) -> None:
    zap, good, bad = await failed_and_good_runs(router)
    globex = await sign_in(router, GLOBEX_TOKEN)
    assert good not in (await router.http.get("/console/runs", headers=globex)).text
    assert (
        bad
        not in (await router.http.get("/console/runs", params={"q": "bob@example.com"}, headers=globex)).text
    )
    assert (await router.http.get(f"/console/runs/{bad}", headers=globex)).status_code == 404
    assert (await router.http.get(f"/console/zaps/{zap['id']}", headers=globex)).status_code == 404
    own_page = await router.http.get("/console/runs", headers=globex)
    csrf = csrf_of(own_page.text)
    assert (
        await router.http.post(f"/console/runs/{bad}/replay", data={"csrf": csrf}, headers=globex)
    ).status_code == 404
    toggled = await router.http.post(
        f"/console/zaps/{zap['id']}/enabled", data={"csrf": csrf, "enabled": "false"}, headers=globex
    )
    assert toggled.status_code == 404
    assert (await router.services.runs.get(bad))["status"] == "failed"
    assert (await router.http.get(f"/v1/zaps/{zap['id']}", headers=ACME)).json()["enabled"] is True


async def test_a_forged_or_stale_session_is_refused(router) -> None:
    acme = await sign_in(router, ACME_TOKEN)
    forged = acme["Cookie"][:-4] + "AAAA"
    assert (await router.http.get("/console/runs", headers={"Cookie": forged})).status_code == 303
    # Removing the token from the configuration ends its sessions.
    router.services.settings.api_tokens.pop(ACME_TOKEN)
    try:
        assert (await router.http.get("/console/runs", headers=acme)).status_code == 303
    finally:
        router.services.settings.api_tokens[ACME_TOKEN] = "acme"


async def test_zap_pages_versions_diff_and_inline_validation(router) -> None:
    created = await router.http.post("/v1/zaps", json=DESIGN_EXAMPLE, headers=ACME)
    zap = created.json()
    acme = await sign_in(router, ACME_TOKEN)
    page = await router.http.get(f"/console/zaps/{zap['id']}", headers=acme)
    csrf = csrf_of(page.text)
    source = re.search(r"<textarea[^>]*>(.*?)</textarea>", page.text, re.S).group(1)
    text = html.unescape(source)
    bad = text.replace("xero-acme-au", "xero-nowhere")
    answer = await router.http.post(
        f"/console/zaps/{zap['id']}/edit", data={"csrf": csrf, "source": bad}, headers=acme
    )
    assert answer.status_code == 422 and "xero-nowhere" in answer.text and "was not saved" in answer.text
    good = text.replace("Kartra purchase", "Kartra sale")
    saved = await router.http.post(
        f"/console/zaps/{zap['id']}/edit", data={"csrf": csrf, "source": good, "to": "live"}, headers=acme
    )
    assert saved.status_code == 303 and saved.headers["location"].endswith("saved=live")
    diff = await router.http.get(f"/console/zaps/{zap['id']}", params={"a": 1, "b": 2}, headers=acme)
    assert "-name: Kartra purchase" in html.unescape(diff.text) and "+name: Kartra sale" in html.unescape(
        diff.text
    )
    catalog = await router.http.get(
        "/console/catalog", params={"key": "kartra.product.purchased"}, headers=acme
    )
    assert catalog.status_code == 200 and "Sample data" in catalog.text


async def test_a_draft_is_checked_diffed_published_or_discarded(router) -> None:
    """Editing saves a draft by default: checked like a publish (the API's 422 list inline), shown
    as a diff against the published version, live only once published; another tenant can neither
    publish nor discard it."""
    zap = (await router.http.post("/v1/zaps", json=DESIGN_EXAMPLE, headers=ACME)).json()
    acme = await sign_in(router, ACME_TOKEN)
    page = await router.http.get(f"/console/zaps/{zap['id']}", headers=acme)
    csrf = csrf_of(page.text)
    text = html.unescape(re.search(r"<textarea[^>]*>(.*?)</textarea>", page.text, re.S).group(1))
    edit = f"/console/zaps/{zap['id']}/edit"
    bad = await router.http.post(
        edit, data={"csrf": csrf, "source": text.replace("xero-acme-au", "xero-nowhere")}, headers=acme
    )
    assert bad.status_code == 422 and "xero-nowhere" in bad.text and "was not saved" in bad.text
    assert (await router.http.get(f"/v1/zaps/{zap['id']}/draft", headers=ACME)).status_code == 404
    draft_text = text.replace("Kartra purchase", "Kartra sale")
    saved = await router.http.post(edit, data={"csrf": csrf, "source": draft_text}, headers=acme)
    assert saved.status_code == 303 and saved.headers["location"].endswith("saved=draft")
    page = await router.http.get(f"/console/zaps/{zap['id']}", headers=acme)
    shown = html.unescape(page.text)
    assert "-name: Kartra purchase" in shown and "+name: Kartra sale" in shown  # the draft's diff
    assert (await router.http.get(f"/v1/zaps/{zap['id']}", headers=ACME)).json()["version"] == 1  # not live

    globex = await sign_in(router, GLOBEX_TOKEN)
    globex_csrf = csrf_of((await router.http.get("/console/runs", headers=globex)).text)
    for action in ("publish", "discard"):
        refused = await router.http.post(
            f"/console/zaps/{zap['id']}/draft/{action}", data={"csrf": globex_csrf}, headers=globex
        )
        assert refused.status_code == 404, action
    no_csrf = await router.http.post(f"/console/zaps/{zap['id']}/draft/publish", headers=acme)
    assert no_csrf.status_code == 403

    published = await router.http.post(
        f"/console/zaps/{zap['id']}/draft/publish", data={"csrf": csrf}, headers=acme
    )
    assert published.status_code == 303 and published.headers["location"].endswith("saved=published")
    live = (await router.http.get(f"/v1/zaps/{zap['id']}", headers=ACME)).json()
    assert live["version"] == 2 and live["name"].startswith("Kartra sale")
    assert (await router.http.get(f"/v1/zaps/{zap['id']}/draft", headers=ACME)).status_code == 404

    again = await router.http.post(edit, data={"csrf": csrf, "source": draft_text}, headers=acme)
    assert again.status_code == 303
    discarded = await router.http.post(
        f"/console/zaps/{zap['id']}/draft/discard", data={"csrf": csrf}, headers=acme
    )
    assert discarded.status_code == 303
    assert (await router.http.get(f"/v1/zaps/{zap['id']}/draft", headers=ACME)).status_code == 404


async def test_bulk_replay_of_a_filtered_list_reports_progress(router) -> None:
    _, _, bad = await failed_and_good_runs(router)
    acme = await sign_in(router, ACME_TOKEN)
    csrf = csrf_of((await router.http.get("/console/runs", headers=acme)).text)
    started = await router.http.post(
        "/console/runs/bulk", data={"csrf": csrf, "status": "failed", "action": "replay"}, headers=acme
    )
    assert started.status_code == 303 and started.headers["location"].startswith("/console/jobs/")
    job_url = started.headers["location"]

    async def finished() -> str | None:
        text = (await router.http.get(job_url, params={"partial": 1}, headers=acme)).text
        return text if "finished" in text else None

    text = await wait_for(finished, timeout=20, message="bulk replay finished")
    assert "1 of 1 runs done" in text and "0 refused" in text
    globex = await sign_in(router, GLOBEX_TOKEN)
    assert (await router.http.get(job_url, headers=globex)).status_code == 404

    async def succeeded() -> bool:
        return (await router.services.runs.get(bad))["status"] == "succeeded"

    await wait_for(succeeded, timeout=30, message="bulk-replayed run succeeded")


async def test_connections_show_needs_reauth_first_from_both_gateways(router) -> None:
    seen: list[str] = []
    gateway = FastAPI()

    @gateway.get("/v1/connections")
    async def connections(request: Request) -> list[dict[str, Any]]:
        seen.append(request.headers.get("authorization", ""))
        return [
            {"id": "xero-ok", "app": "xero", "name": "Acme AU", "status": "active", "daily_limit": 4000},
            {"id": "xero-bad", "app": "xero", "name": "Acme NZ", "status": "needs_reauth"},
        ]

    @gateway.get("/v1/connections/budget")
    async def budget(request: Request) -> list[dict[str, Any]]:
        seen.append(request.headers.get("authorization", ""))
        use = {"per_minute": 60, "used_minute": 7, "queued": 2, "throttled": 1}
        return [{"id": "xero-ok", "per_day": 4000, "used_day": 1234, "remaining_day": 2766, **use}]

    async with serve(gateway) as url:
        router.app.state.console.gateways = {"xero": url, "kartra": "http://127.0.0.1:9"}
        acme = await sign_in(router, ACME_TOKEN)
        page = await router.http.get("/console/connections", headers=acme)
    assert page.status_code == 200, page.text
    assert "1 connection needs re-authorisation" in page.text and "Acme NZ" in page.text
    assert page.text.index("Acme NZ") < page.text.index("Acme AU")  # needs_reauth listed first
    assert "Could not ask the kartra gateway" in page.text
    # the Xero budget used per organisation, as the gateway counts it; unknown for the other one
    row = page.text[page.text.index("Acme AU") :]
    assert "1,234 of 4,000 calls" in row and "2,766 left" in row and "this minute 7/60" in row
    assert "2 waiting" in row and "1 × 429" in row
    assert "use unknown" in page.text[page.text.index("Acme NZ") : page.text.index("Acme AU")]
    assert seen == [f"Bearer {ACME_TOKEN}"] * 2  # asked server-side with the signed-in tenant's token


async def test_dead_letters_of_the_tenant_are_listed_and_replayed(router) -> None:
    topics = router.services.settings.topics
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"poison-1"),
        ("ce_source", b"/test"),
        ("ce_type", b"kartra.product.purchased.v1"),
        ("ce_tenant", b"acme"),
    ]
    await router.http.post("/v1/zaps", json=DESIGN_EXAMPLE, headers=ACME)  # acme listens to the trigger
    await publish_events(
        router.services.settings.kafka_bootstrap_servers,
        topics.kartra_events,
        [],
        raw=[(b"{not json", headers)],
    )
    acme = await sign_in(router, ACME_TOKEN)
    dlq = topics.dlq(topics.kartra_events)

    async def listed() -> str | None:
        text = (await router.http.get("/console/dead-letters", headers=acme)).text
        return text if "poison-1" in text else None

    page = await wait_for(listed, timeout=30, message="the dead letter is listed")
    assert "value is not JSON" in html.unescape(page)
    globex = await sign_in(router, GLOBEX_TOKEN)
    assert "poison-1" not in (await router.http.get("/console/dead-letters", headers=globex)).text
    offset = re.search(r'name="offset" value="(\d+)"', page).group(1)
    partition = re.search(r'name="partition" value="(\d+)"', page).group(1)
    form = {"csrf": csrf_of(page), "topic": dlq, "partition": partition, "offset": offset}
    refused = await router.http.post(
        "/console/dead-letters/replay",
        data={**form, "csrf": csrf_of((await router.http.get("/console/runs", headers=globex)).text)},
        headers=globex,
    )
    assert refused.status_code == 404  # another tenant's dead letter
    replayed = await router.http.post("/console/dead-letters/replay", data=form, headers=acme)
    assert replayed.status_code == 303 and "Republished" in html.unescape(
        replayed.headers["location"].replace("+", " ")
    )

    async def dead_again() -> bool:  # the router rejects it again: a second dead letter, same reason
        text = (await router.http.get("/console/dead-letters", headers=acme)).text
        return text.count("poison-1") >= 2

    await wait_for(dead_again, timeout=30, message="the replayed record reached the router again")


async def test_cancel_a_running_run_and_bulk_cancel_the_rest(router) -> None:
    """The invoice step never gets an answer: the runs stay running until cancelled in the console."""
    router.gateway.responders["xero.contact.find_or_create"] = ok({"ContactID": "C-1"})
    zap = (await router.http.post("/v1/zaps", json=DESIGN_EXAMPLE, headers=ACME)).json()
    topics = router.services.settings.topics
    events = [
        (f"acme:L{i}", trigger_event(f"evt-wait-{i}", "acme", purchase_event(connection_id="kartra-main")))
        for i in range(3)
    ]
    await publish_events(router.services.settings.kafka_bootstrap_servers, topics.kartra_events, events)
    ids = [run_id_for(zap["id"], f"evt-wait-{i}") for i in range(3)]

    async def all_at_invoice() -> bool:
        runs = [await router.services.runs.get(r) for r in ids]
        return all(r and r["status"] == "running" and r["current_step"] == "invoice" for r in runs)

    await wait_for(all_at_invoice, timeout=45, message="three runs waiting for the invoice step")
    acme, globex = await sign_in(router, ACME_TOKEN), await sign_in(router, GLOBEX_TOKEN)
    page = await router.http.get(f"/console/runs/{ids[0]}", headers=acme)
    assert "Cancel this run" in page.text and 'hx-trigger="every 2s"' in page.text  # live while running
    intruder_csrf = csrf_of((await router.http.get("/console/runs", headers=globex)).text)
    refused = await router.http.post(
        f"/console/runs/{ids[0]}/cancel", data={"csrf": intruder_csrf}, headers=globex
    )
    assert refused.status_code == 404
    done = await router.http.post(
        f"/console/runs/{ids[0]}/cancel", data={"csrf": csrf_of(page.text)}, headers=acme
    )
    assert done.status_code == 303 and "Cancelled" in done.headers["location"]
    assert (await router.services.runs.get(ids[0]))["status"] == "cancelled"

    bulk = await router.http.post(
        "/console/runs/bulk",
        data={"csrf": csrf_of(page.text), "zap_id": zap["id"], "action": "cancel"},
        headers=acme,
    )
    job_url = bulk.headers["location"]

    async def finished() -> str | None:
        text = (await router.http.get(job_url, params={"partial": 1}, headers=acme)).text
        return text if "finished" in text else None

    assert "2 of 2 runs done" in await wait_for(finished, timeout=20, message="bulk cancel finished")
    assert [(await router.services.runs.get(r))["status"] for r in ids] == ["cancelled"] * 3
    listed = await router.http.get("/console/runs/rows", params={"status": "cancelled"}, headers=acme)
    assert all(r in listed.text for r in ids)


async def test_failed_sign_ins_lock_out_that_address_only(router) -> None:
    """Guessing tokens from one address: after 5 failures that address is refused (429, before the
    token is even looked at, so a right guess is refused too), while the same correct token from
    another address signs in."""
    for _ in range(5):
        refused = await sign_in_answer(router.http, "not-a-token-of-anyone-at-all")
        assert refused.status_code == 303 and refused.headers["location"].endswith("error=token")
    locked = await sign_in_answer(router.http, ACME_TOKEN)
    assert locked.status_code == 429, locked.text
    assert "Too many failed sign-ins" in locked.text and int(locked.headers["retry-after"]) > 0
    assert "kxflow_console=" not in locked.headers.get("set-cookie", "")
    elsewhere = httpx.AsyncClient(
        base_url=router.url, transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"), timeout=30
    )
    async with elsewhere:
        answer = await sign_in_answer(elsewhere, ACME_TOKEN)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/runs"
        cookie = re.search(r"kxflow_console=([^;]+)", answer.headers["set-cookie"]).group(1)
        runs = await elsewhere.get("/console/runs", headers={"Cookie": f"kxflow_console={cookie}"})
    assert runs.status_code == 200
    assert len(router.app.state.console.failed_sign_ins) == 1  # only the failing address is remembered


async def test_test_this_step_renders_executes_and_is_tenant_scoped(router) -> None:
    """The zap page's "Test this step" calls the API's StepTests: the rendered input of a step
    against a past event, a refusal shown inline, an executed test's result polled until it is in;
    no CSRF token 403, another tenant's zap 404."""
    from test_router_api import send

    router.gateway.responders.update(
        {
            "xero.contact.find_or_create": ok({"ContactID": "C-1"}),
            "xero.sales_invoice.create": ok({"InvoiceID": "INV-T", "InvoiceNumber": "INV-0077"}),
            "xero.payment.create": ok({"PaymentID": "P-1"}),
        }
    )
    zap = (await router.http.post("/v1/zaps", json=DESIGN_EXAMPLE, headers=ACME)).json()
    await router.http.post(f"/v1/zaps/{zap['id']}/disable", headers=ACME)  # only the test writes
    await send(router, "st-1", amount=30)
    acme = await sign_in(router, ACME_TOKEN)
    page = await router.http.get(f"/console/zaps/{zap['id']}", headers=acme)
    assert "Test this step" in page.text and '<option value="invoice">' in page.text
    csrf = csrf_of(page.text)
    url = f"/console/zaps/{zap['id']}/test-step"
    form = {"csrf": csrf, "step": "contact", "event_id": "st-1"}

    async def rendered() -> httpx.Response | None:
        answer = await router.http.post(url, data=form, headers={**acme, "HX-Request": "true"})
        return answer if 'data-testid="step-test-input"' in answer.text else None

    shown = await wait_for(rendered, timeout=30, message="the event in the trigger topic")
    assert shown.status_code == 200 and 'id="step-test"' in shown.text and "<html" not in shown.text
    assert "Ada Lovelace" in html.unescape(shown.text) and "st-1" in shown.text
    assert "rendered" in shown.text and not [
        c for c in router.gateway.commands() if c.run_id.startswith("t_")
    ]

    refused = await router.http.post(url, data={**form, "step": "nope"}, headers=acme)
    assert refused.status_code == 422 and "nope" in html.unescape(refused.text)

    executed = await router.http.post(url, data={**form, "execute": "true"}, headers=acme)
    assert executed.status_code == 200, executed.text
    test_id = re.search(r'data-testid="step-test-id">(t_[0-9a-f]+)<', executed.text).group(1)
    done = executed.text
    if "C-1" not in done:  # the result was not in yet: the fragment polls the test
        assert "every 1s" in executed.text
        poll = f"{url}/{test_id}?partial=1"

        async def result_in() -> str | None:
            answer = await router.http.get(poll, headers=acme)
            return answer.text if "step-test-result" in answer.text else None

        done = await wait_for(result_in, timeout=30, message="the gateway's result on the test")
    assert "succeeded" in done and "C-1" in done and "every 1s" not in done
    assert [c.input["Name"] for c in router.gateway.commands() if c.run_id.startswith("t_")] == [
        "Ada Lovelace"
    ]

    no_csrf = await router.http.post(url, data={"step": "contact"}, headers=acme)
    assert no_csrf.status_code == 403
    globex = await sign_in(router, GLOBEX_TOKEN)
    globex_csrf = csrf_of((await router.http.get("/console/zaps", headers=globex)).text)
    other = await router.http.post(url, data={"csrf": globex_csrf, "step": "contact"}, headers=globex)
    assert other.status_code == 404
    assert (await router.http.get(f"{url}/{test_id}", headers=globex)).status_code == 404
