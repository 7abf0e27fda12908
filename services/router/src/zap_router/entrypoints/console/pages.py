"""Console routes: sign-in, runs (list, search, live rows, one run, replay, bulk replay), zaps
(list, on/off, versions, diff, edit as a draft or live with the API's validation errors, the
draft's diff, publish, discard, test a step), catalog, connections and
dead letters. Every page is scoped to the signed-in tenant exactly as the API is: the same services
are called with the session's tenant, so another tenant's run or zap is a 404 here too."""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import math
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import httpx
import yaml
from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from kxflow_contracts.runs import FINISHED_STATES, RUN_STATES, RunStatus
from kxflow_contracts.runtime.limits import RateBuckets
from zap_router.adapters.run_store import CursorError
from zap_router.domain.run_search import run_matches
from zap_router.domain.run_tree import step_tree
from zap_router.domain.zaps import ZapSpec
from zap_router.engine.drafts import DraftNotFound
from zap_router.engine.runner import CancelRefused, ReplayRefused, RunNotFound
from zap_router.engine.step_test import StepTestNotFound, StepTestRefused
from zap_router.engine.zaps import ZapConflict, ZapInvalid, ZapNotFound
from zap_router.entrypoints.console.dead_letters import DeadLetters
from zap_router.entrypoints.console.jobs import Jobs
from zap_router.entrypoints.console.session import COOKIE, PRE_COOKIE, Session, Sessions
from zap_router.entrypoints.deps import Services

log = logging.getLogger("kxflow.router.console")
HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/console", include_in_schema=False)

BULK = {
    "replay": {RunStatus.failed.value, RunStatus.halted.value},
    "cancel": {RunStatus.running.value, RunStatus.waiting.value},
}
SEARCH_SCAN = 2000  # newest runs (after the other filters) a business-key search looks through
PAGE = 50
MAX_EDIT_BYTES = 64 * 1024
# Failed sign-ins from one client address: this many at once, then one more every REFILL seconds.
SIGN_IN_FAILURES = 5
SIGN_IN_REFILL_S = 60.0
SIGN_IN_ADDRESSES = 10_000  # addresses remembered at most (bounded memory; the oldest go first)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class SignInRequired(Exception):
    pass


class ConsoleState:
    def __init__(self, svc: Services, http: httpx.AsyncClient, secure_cookie: bool) -> None:
        settings = svc.settings
        keys = [k.strip() for k in settings.secret_keys.split(",") if k.strip()]
        if keys:
            key = hashlib.sha256(b"kxflow-console-session\0" + keys[0].encode()).digest()
        else:
            key = secrets.token_bytes(32)  # sessions last as long as this process (docs/console.md)
        self.sessions = Sessions(key, settings.api_tokens)
        self.http = http
        self.secure_cookie = secure_cookie
        self.jobs = Jobs()
        self.failed_sign_ins = RateBuckets(1 / SIGN_IN_REFILL_S, SIGN_IN_FAILURES, max_keys=SIGN_IN_ADDRESSES)
        self.dead_letters = DeadLetters(settings.kafka, settings.topics)
        self.gateways = {"kartra": settings.kartra_gateway_url, "xero": settings.xero_gateway_url}


def _state(request: Request) -> ConsoleState:
    return request.app.state.console


def _svc(request: Request) -> Services:
    return request.app.state.services


def current_session(request: Request) -> Session:
    session = _state(request).sessions.read(request.cookies.get(COOKIE))
    if session is None:
        raise SignInRequired
    return session


async def checked_session(request: Request) -> Session:
    """A signed-in session whose CSRF token came with the request (form field or header)."""
    session = current_session(request)
    sent = request.headers.get("x-csrf-token")
    if sent is None:
        form = await request.form()
        value = form.get("csrf")
        sent = value if isinstance(value, str) else None
    if not sent or not secrets.compare_digest(sent, session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page")
    return session


Sess = Annotated[Session, Depends(current_session)]
Action = Annotated[Session, Depends(checked_session)]
State = Annotated[ConsoleState, Depends(_state)]
Svc = Annotated[Services, Depends(_svc)]


def page(
    request: Request, name: str, session: Session | None, status_code: int = 200, **ctx: Any
) -> Response:
    ctx.update(request=request, session=session, csrf=session.csrf if session else "", nav=name.split(".")[0])
    response = templates.TemplateResponse(request, name, ctx, status_code=status_code)
    response.headers.update(SECURITY_HEADERS)
    return response


def _when(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(value or "")


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, default=str, ensure_ascii=False)


templates.env.filters["when"] = _when
templates.env.filters["pretty"] = _pretty


# ------------------------------------------------------------------------------------ sign-in
@router.get("/login")
async def login_form(request: Request, state: State, error: str | None = None) -> Response:
    cookie, form_value = state.sessions.pre_token()
    response = page(request, "login.html", None, pre=form_value, error=error)
    response.set_cookie(PRE_COOKIE, cookie, httponly=True, samesite="strict", secure=state.secure_cookie)
    return response


@router.post("/login")
async def login(
    request: Request,
    state: State,
    token: Annotated[str, Form(max_length=500)],
    pre: Annotated[str, Form()] = "",
) -> Response:
    address = request.client.host if request.client else "unknown"
    wait = state.failed_sign_ins.wait(address)
    if wait > 0:  # refused before the token is looked at: a locked-out address learns nothing
        retry = math.ceil(wait)
        cookie, form_value = state.sessions.pre_token()
        response = page(
            request, "login.html", None, status_code=429, pre=form_value, error="locked", retry=retry
        )
        response.set_cookie(PRE_COOKIE, cookie, httponly=True, samesite="strict", secure=state.secure_cookie)
        response.headers["Retry-After"] = str(retry)
        return response
    if not state.sessions.pre_ok(request.cookies.get(PRE_COOKIE), pre):
        return RedirectResponse("/console/login?error=expired", status_code=303)
    cookie = state.sessions.open(token.strip())
    if cookie is None:
        state.failed_sign_ins.take(address)
        log.info("console sign-in refused: unknown token from %s", address)
        return RedirectResponse("/console/login?error=token", status_code=303)
    response = RedirectResponse("/console/runs", status_code=303)
    response.set_cookie(
        COOKIE, cookie, httponly=True, samesite="strict", secure=state.secure_cookie, path="/console"
    )
    response.delete_cookie(PRE_COOKIE)
    return response


@router.post("/logout")
async def logout(_: Action) -> Response:
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(COOKIE, path="/console")
    return response


@router.get("")
async def home() -> Response:
    return RedirectResponse("/console/runs", status_code=303)


# ------------------------------------------------------------------------------------ runs
def _filters(request: Request) -> dict[str, str]:
    keep = ("zap_id", "status", "since", "until", "q")
    return {k: request.query_params[k][:200] for k in keep if request.query_params.get(k)}


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise HTTPException(400, f"not a date/time: {value!r} (use e.g. 2026-12-01T09:00)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def _find_runs(
    svc: Services, tenant: str, f: dict[str, str], cursor: str | None = None, limit: int = PAGE
) -> tuple[list[dict[str, Any]], str | None]:
    status = f.get("status")
    if status and status not in RUN_STATES:
        raise HTTPException(400, f"unknown status {status!r}")
    query = {
        "zap_id": f.get("zap_id"),
        "status": status,
        "since": _time(f.get("since")),
        "until": _time(f.get("until")),
    }
    if not f.get("q"):
        try:
            return await svc.runs.list(tenant, **query, cursor=cursor, limit=limit)
        except CursorError:
            raise HTTPException(400, "invalid cursor") from None
    found: list[dict[str, Any]] = []
    scanned, page_cursor = 0, None
    while scanned < SEARCH_SCAN and len(found) < limit:
        batch, page_cursor = await svc.runs.list(tenant, **query, cursor=page_cursor, limit=200, full=True)
        scanned += len(batch)
        found += [r for r in batch if run_matches(r, f["q"])]
        if page_cursor is None:
            break
    return found[:limit], None


@router.get("/runs")
async def runs_page(request: Request, session: Sess, svc: Svc, cursor: str | None = None) -> Response:
    f = _filters(request)
    runs, next_cursor = await _find_runs(svc, session.tenant, f, cursor)
    zaps = await svc.zaps.list(session.tenant)
    return page(
        request,
        "runs.html",
        session,
        runs=runs,
        filters=f,
        query=urlencode(f),
        next_cursor=next_cursor,
        zaps=zaps,
        statuses=list(RUN_STATES),
        search_scan=SEARCH_SCAN,
    )


@router.get("/runs/rows")
async def runs_rows(request: Request, session: Sess, svc: Svc) -> Response:
    """The table body alone: the page polls it for live updates."""
    f = _filters(request)
    runs, _ = await _find_runs(svc, session.tenant, f)
    return page(request, "_run_rows.html", session, runs=runs, query=urlencode(f))


def _steps(run: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps in the zap's order, each nested step (in a path, a loop iteration or an error branch:
    its key is its path, ``route/gst/invoice``) right under its parent and indented by depth."""
    states: dict[str, Any] = run.get("steps") or {}
    out: list[dict[str, Any]] = []

    def visit(nodes: list[dict[str, Any]], depth: int) -> None:
        for node in nodes:
            out.append({"id": node["path"], "depth": depth, **states[node["path"]]})
            visit(node["children"], depth + 1)

    visit(step_tree(run), 0)
    return out


def trace_id(run: dict[str, Any]) -> str | None:
    parts = (run.get("traceparent") or "").split("-")
    return parts[1] if len(parts) == 4 else None


@router.get("/runs/{run_id}")
async def run_page(request: Request, run_id: str, session: Sess, svc: Svc, partial: bool = False) -> Response:
    run = await svc.runs.get(run_id, session.tenant)
    if run is None:
        return page(request, "not_found.html", session, status_code=404, what=f"run {run_id}")
    live = run["status"] not in FINISHED_STATES
    return page(
        request,
        "_run_body.html" if partial else "run.html",
        session,
        run=run,
        steps=_steps(run),
        trace_id=trace_id(run),
        live=live,
        can_replay=run["status"] in (RunStatus.failed.value, RunStatus.halted.value),
        can_cancel=run["status"] in (RunStatus.running.value, RunStatus.waiting.value),
        message=request.query_params.get("message", "")[:300],
    )


async def _replay(svc: Services, tenant: str, run_id: str) -> None:
    run = await svc.runs.get(run_id, tenant)
    if run is None:
        raise ReplayRefused(f"run {run_id} not found")
    try:
        zap = await svc.zaps.current(tenant, run["zap_id"])
    except ZapNotFound:
        raise ReplayRefused(f"the zap of run {run_id} no longer exists") from None
    await svc.engine.replay(run_id, tenant, zap)


@router.post("/runs/{run_id}/replay")
async def replay(run_id: str, session: Action, svc: Svc) -> Response:
    if await svc.runs.get(run_id, session.tenant) is None:
        raise HTTPException(404, f"run not found: {run_id}")
    try:
        await _replay(svc, session.tenant, run_id)
        message = "Replayed from the failed step."
    except ReplayRefused as exc:
        message = f"Not replayed: {exc}"
    return RedirectResponse(f"/console/runs/{run_id}?{urlencode({'message': message})}", status_code=303)


@router.post("/runs/{run_id}/cancel")
async def cancel(run_id: str, session: Action, svc: Svc) -> Response:
    try:
        await svc.engine.cancel(run_id, session.tenant, reason="cancelled in the console")
        message = "Cancelled."
    except RunNotFound:
        raise HTTPException(404, f"run not found: {run_id}") from None
    except CancelRefused as exc:
        message = f"Not cancelled: {exc}"
    return RedirectResponse(f"/console/runs/{run_id}?{urlencode({'message': message})}", status_code=303)


@router.post("/runs/bulk")
async def bulk(request: Request, session: Action, svc: Svc, state: State) -> Response:
    """Replay every failed or halted run, or cancel every running or waiting run, of the filtered
    list (at most 1,000), with progress."""
    form = await request.form()
    f = {k: str(form[k])[:200] for k in ("zap_id", "status", "since", "until", "q") if form.get(k)}
    action = str(form.get("action", "replay"))
    if action not in BULK:
        raise HTTPException(400, f"unknown bulk action {action!r}")
    wanted = BULK[action]
    ids: list[str] = []
    cursor = None
    while len(ids) < 1000:
        batch, cursor = await _find_runs(svc, session.tenant, f, cursor, limit=200)
        ids += [r["_id"] for r in batch if r["status"] in wanted]
        if cursor is None:
            break
    tenant = session.tenant

    async def act(run_id: str) -> None:
        if action == "replay":
            await _replay(svc, tenant, run_id)
        else:
            await svc.engine.cancel(run_id, tenant, reason="cancelled in the console (bulk)")

    job = state.jobs.start(tenant, action, ids[:1000], act)
    return RedirectResponse(f"/console/jobs/{job.id}", status_code=303)


@router.get("/jobs/{job_id}")
async def job_page(
    request: Request, job_id: str, session: Sess, state: State, partial: bool = False
) -> Response:
    job = state.jobs.get(job_id, session.tenant)
    if job is None:
        return page(request, "not_found.html", session, status_code=404, what="bulk action")
    return page(request, "_job.html" if partial else "job.html", session, job=job)


# ------------------------------------------------------------------------------------ zaps
@router.get("/zaps")
async def zaps_page(request: Request, session: Sess, svc: Svc) -> Response:
    return page(request, "zaps.html", session, zaps=await svc.zaps.list(session.tenant))


def _spec_text(spec: dict[str, Any]) -> str:
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True)


async def _zap_page(request: Request, session: Session, svc: Services, zap_id: str, **extra: Any) -> Response:
    try:
        zap = await svc.zaps.get(session.tenant, zap_id)
        versions = await svc.zaps.versions(session.tenant, zap_id)
    except ZapNotFound:
        return page(request, "not_found.html", session, status_code=404, what=f"zap {zap_id}")
    numbers = [v["version"] for v in versions]
    diff = None
    a, b = request.query_params.get("a"), request.query_params.get("b")
    if a and b and a.isdigit() and b.isdigit():
        by_number = {v["version"]: v for v in versions}
        if int(a) in by_number and int(b) in by_number:
            diff = list(
                difflib.unified_diff(
                    _spec_text(by_number[int(a)]["spec"]).splitlines(),
                    _spec_text(by_number[int(b)]["spec"]).splitlines(),
                    f"version {a}",
                    f"version {b}",
                    lineterm="",
                )
            )
    current = next(
        (v for v in versions if v["version"] == zap.get("version")), versions[-1] if versions else None
    )
    try:
        draft = await svc.drafts.diff(session.tenant, zap_id)
        draft_spec = (await svc.drafts.get(session.tenant, zap_id))["spec"]
    except DraftNotFound:
        draft, draft_spec = None, None
    source = _spec_text(draft_spec) if draft_spec else (_spec_text(current["spec"]) if current else "")
    shown_spec = draft_spec or (current["spec"] if current else {})
    ctx = {
        "zap": zap,
        "versions": versions,
        "numbers": numbers,
        "diff": diff,
        "a": a,
        "b": b,
        "draft": draft,
        "source": source,
        "step_ids": [
            s["id"] for s in shown_spec.get("steps") or [] if isinstance(s, dict) and s.get("action")
        ],
    }
    status_code = extra.pop("status_code", 200)
    ctx.update(extra)
    return page(request, "zap.html", session, status_code=status_code, **ctx)


@router.get("/zaps/{zap_id}")
async def zap_page(request: Request, zap_id: str, session: Sess, svc: Svc) -> Response:
    return await _zap_page(request, session, svc, zap_id)


@router.post("/zaps/{zap_id}/enabled")
async def zap_enabled(request: Request, zap_id: str, session: Action, svc: Svc) -> Response:
    form = await request.form()
    try:
        await svc.zaps.set_enabled(session.tenant, zap_id, form.get("enabled") == "true")
    except ZapNotFound:
        raise HTTPException(404, f"zap not found: {zap_id}") from None
    except ZapConflict as exc:
        raise HTTPException(409, str(exc)) from None
    return RedirectResponse(str(form.get("back") or "/console/zaps").split("?")[0], status_code=303)


def _parsed(source: str) -> tuple[ZapSpec | None, list[dict[str, Any]]]:
    """The edited YAML as a zap spec, or the problems that stop it being one."""
    if len(source.encode()) > MAX_EDIT_BYTES:
        return None, [{"path": "", "message": f"the zap is larger than {MAX_EDIT_BYTES} bytes"}]
    try:
        return ZapSpec.model_validate(yaml.safe_load(source) or {}), []
    except yaml.YAMLError as exc:
        return None, [{"path": "", "message": f"not YAML: {exc}"}]
    except ValidationError as exc:
        return None, [
            {"path": ".".join(map(str, e["loc"])), "message": e["msg"]} for e in exc.errors(include_url=False)
        ]


async def _saved(zap_id: str, save: Any) -> list[dict[str, Any]]:
    """Run a save or publish; the API's own 422 problem list (or the conflict) if it was refused."""
    try:
        await save
    except ZapInvalid as exc:
        return [p.as_dict() for p in exc.problems]
    except (ZapNotFound, DraftNotFound):
        raise HTTPException(404, f"zap or draft not found: {zap_id}") from None
    except ZapConflict as exc:
        return [{"path": "", "message": str(exc)}]
    return []


@router.post("/zaps/{zap_id}/edit")
async def zap_edit(request: Request, zap_id: str, session: Action, svc: Svc) -> Response:
    """Save the text as a draft (``to=draft``, the default button) or as a new live version at once
    (``to=live``); the API's own validation (its 422 problem list) is shown beside the text."""
    form = await request.form()
    source = str(form.get("source", ""))
    spec, problems = _parsed(source)
    live = form.get("to") == "live"
    if spec is not None:
        if live:
            problems = await _saved(zap_id, svc.zaps.update(session.tenant, session.token, zap_id, spec))
        else:
            problems = await _saved(zap_id, svc.drafts.save(session.tenant, session.token, zap_id, spec))
        if not problems:
            return RedirectResponse(
                f"/console/zaps/{zap_id}?saved={'live' if live else 'draft'}", status_code=303
            )
    return await _zap_page(request, session, svc, zap_id, source=source, problems=problems, status_code=422)


@router.post("/zaps/{zap_id}/draft/publish")
async def draft_publish(request: Request, zap_id: str, session: Action, svc: Svc) -> Response:
    """Publish the draft as the next version (refused when another version was published after
    the draft began, unless ``force`` is ticked: the page shows the difference first)."""
    form = await request.form()
    force = form.get("force") == "true"
    problems = await _saved(zap_id, svc.drafts.publish(session.tenant, session.token, zap_id, force=force))
    if problems:
        return await _zap_page(request, session, svc, zap_id, problems=problems, status_code=409)
    return RedirectResponse(f"/console/zaps/{zap_id}?saved=published", status_code=303)


@router.post("/zaps/{zap_id}/draft/discard")
async def draft_discard(zap_id: str, session: Action, svc: Svc) -> Response:
    await _saved(zap_id, svc.drafts.discard(session.tenant, zap_id))
    return RedirectResponse(f"/console/zaps/{zap_id}?saved=discarded", status_code=303)


# ------------------------------------------------------------------------------------ test a step
@router.post("/zaps/{zap_id}/test-step")
async def step_test(request: Request, zap_id: str, session: Action, svc: Svc) -> Response:
    """Test this step: the API's own use case (``StepTests.run``) with the session's tenant. The
    answer comes back at once (``wait_s=0``); an executed test's result is polled by the fragment."""
    form = await request.form()
    step = str(form.get("step", "")).strip()[:500]
    event_id = str(form.get("event_id", "")).strip()[:200] or None
    source = form.get("source")
    source = source if source in ("draft", "published") else None
    test: dict[str, Any] | None = None
    refused = ""
    if not step:
        refused = "choose a step to test"
    else:
        try:
            test = await svc.step_tests.run(
                session.tenant,
                zap_id,
                step=step,
                source=source,
                event_id=event_id,
                execute=form.get("execute") == "true",
                wait_s=0,
            )
        except ZapNotFound:
            raise HTTPException(404, f"zap not found: {zap_id}") from None
        except StepTestRefused as exc:
            refused = str(exc)
    fragment = bool(request.headers.get("hx-request"))
    name = "_step_test.html" if fragment else "step_test.html"
    status_code = 422 if refused and not fragment else 200  # htmx swaps only 2xx answers
    return page(
        request, name, session, status_code=status_code, zap_id=zap_id, test=test, refused=refused, step=step
    )


@router.get("/zaps/{zap_id}/test-step/{test_id}")
async def step_test_page(
    request: Request, zap_id: str, test_id: str, session: Sess, svc: Svc, partial: bool = False
) -> Response:
    """An executed test as it stands (the fragment polls this until the gateway's result is in)."""
    try:
        test = await svc.step_tests.get(session.tenant, zap_id, test_id)
    except StepTestNotFound:
        return page(request, "not_found.html", session, status_code=404, what=f"step test {test_id}")
    name = "_step_test.html" if partial else "step_test.html"
    return page(request, name, session, zap_id=zap_id, test=test, refused="", step=test["step"])


# ------------------------------------------------------------------------------------ catalog
@router.get("/catalog")
async def catalog_page(request: Request, session: Sess, svc: Svc, key: str | None = None) -> Response:
    entries = sorted(svc.catalog, key=lambda e: (e.app, e.kind.value, e.key))
    chosen = svc.catalog.find(key) if key else None
    return page(request, "catalog.html", session, entries=entries, chosen=chosen.public() if chosen else None)


# ------------------------------------------------------------------------------------ connections
@router.get("/connections")
async def connections_page(request: Request, session: Sess, state: State) -> Response:
    """Both gateways' connections, asked server-side with the session's token."""
    rows: list[dict[str, Any]] = []
    errors: list[str] = []
    for app, base in state.gateways.items():
        try:
            answer = await state.http.get(
                f"{base}/v1/connections", headers={"Authorization": f"Bearer {session.token}"}, timeout=5
            )
            answer.raise_for_status()
            rows += [{"app": app, **c} for c in answer.json()]
        except (httpx.HTTPError, ValueError) as exc:
            errors.append(f"{app} gateway: {type(exc).__name__}")
    if any(row["app"] == "xero" for row in rows):
        budgets = await _xero_budgets(state, session)
        for row in rows:
            row["budget"] = budgets.get(row["id"]) if row["app"] == "xero" else None
    rows.sort(key=lambda c: (c.get("status") != "needs_reauth", c["app"], c.get("name", "")))
    return page(request, "connections.html", session, connections=rows, errors=errors)


async def _xero_budgets(state: ConsoleState, session: Session) -> dict[str, dict[str, Any]]:
    """The Xero gateway's budget use per connection (``GET /v1/connections/budget``); none if it
    does not answer (the page still lists the connections, the budget says "use unknown")."""
    try:
        answer = await state.http.get(
            f"{state.gateways['xero']}/v1/connections/budget",
            headers={"Authorization": f"Bearer {session.token}"},
            timeout=5,
        )
        answer.raise_for_status()
        return {str(b["id"]): b for b in answer.json() if isinstance(b, dict) and "id" in b}
    except (httpx.HTTPError, ValueError, TypeError) as exc:
        log.info("console: xero budget unavailable (%s)", type(exc).__name__)
        return {}


# ------------------------------------------------------------------------------------ dead letters
@router.get("/dead-letters")
async def dead_letters_page(request: Request, session: Sess, state: State) -> Response:
    topics = await state.dead_letters.summary(session.tenant)
    return page(
        request,
        "dead_letters.html",
        session,
        topics=topics,
        message=request.query_params.get("message", "")[:300],
    )


@router.post("/dead-letters/replay")
async def dead_letters_replay(request: Request, session: Action, state: State) -> Response:
    form = await request.form()
    topic, partition, offset = (
        str(form.get("topic", "")),
        str(form.get("partition", "")),
        str(form.get("offset", "")),
    )
    if not (partition.isdigit() and offset.isdigit()):
        raise HTTPException(400, "partition and offset must be numbers")
    try:
        target = await state.dead_letters.replay_one(session.tenant, topic, int(partition), int(offset))
    except LookupError as exc:
        raise HTTPException(404, str(exc)) from None
    message = f"Republished to {target}."
    return RedirectResponse(f"/console/dead-letters?{urlencode({'message': message})}", status_code=303)


def mount_console(app: FastAPI, http: httpx.AsyncClient, secure_cookie: bool = True) -> None:
    """Serve the console under ``/console`` (its pages and its static assets)."""
    app.state.console = ConsoleState(app.state.services, http, secure_cookie)

    async def sign_in(request: Request, exc: Exception) -> Response:
        if request.method == "GET":
            return RedirectResponse("/console/login", status_code=303)
        return HTMLResponse("sign in first", status_code=401)

    app.add_exception_handler(SignInRequired, sign_in)
    app.include_router(router)
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
