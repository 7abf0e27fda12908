"""Keyed Xero writes that never rely on an Idempotency-Key Xero may have forgotten (issue 4).

``WriteGuard.send`` wraps one write (``Executor._send``; API Request too): every physical send,
in-process retries included, is recorded in ``write_attempts`` just before it leaves (inside its
scheduler slot, so a long wait for budget is not counted as "sent"), and its answer settles or
keeps the outcome (``domain.write_attempts.classify_answer``). Before each send
``domain.write_attempts.decide`` runs; past the safe window with the outcome unknown it looks the
record up (``domain.lookups``) and returns what it found (claimed for this key, so no other
command can adopt it), sends again as a new epoch when nothing was found, or refuses with
``outcome_unknown``.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from kxflow_contracts.results import ActionError
from xero_gateway.adapters.write_attempts import WriteAttempts
from xero_gateway.adapters.xero_api import XeroUnavailable
from xero_gateway.domain import lookups as lk
from xero_gateway.domain import msdate
from xero_gateway.domain import write_attempts as wa
from xero_gateway.domain.actions import Request

log = logging.getLogger("xero_gateway.writes")

MAX_ROUNDS = 4


class OutcomeUnknown(Exception):
    def __init__(self, error: ActionError) -> None:
        super().__init__(error.message)
        self.error = error


class WindowPassed(Exception):
    """Raised inside a scheduler slot when the next send would rely on an expired key."""


@dataclass(frozen=True)
class Adopted:
    """The record a lookup found, as the write's answer body would have carried it."""

    body: dict[str, Any]


Get = Callable[[str, dict[str, str], dict[str, str]], Awaitable[Any]]
Call = Callable[["SendTracker"], Awaitable[httpx.Response]]


class SendTracker:
    """The hooks ``XeroApi.call`` runs around each physical send of one keyed write."""

    def __init__(
        self,
        guard: WriteGuard,
        key: str,
        org: str,
        policy: wa.Policy,
        lookup: lk.Lookup | None,
        command_attempt: int,
        attempt: wa.Attempt | None,
        meta: dict[str, Any],
    ) -> None:
        self.guard = guard
        self.key = key
        self.org = org
        self.policy = policy
        self.lookup = lookup
        self.command_attempt = command_attempt
        self.attempt = attempt
        self.meta = meta

    async def before_send(self) -> None:
        g = self.guard
        now = g.now()
        step = g.decide(self.attempt, now, self.policy, self.command_attempt)
        if step is wa.Next.fresh:
            await g.store.forget(self.key)
            g.count("fresh_epoch")
            self.attempt, step = None, wa.Next.send
        if step is not wa.Next.send:
            raise WindowPassed(step.value)
        self.attempt = await g.store.sending(self.key, now, self.meta)

    async def answered(self, res: httpx.Response) -> None:
        g = self.guard
        now = g.now()
        answer = wa.classify_answer(res.status_code, res.text)
        try:
            if answer is wa.Answer.created:
                rid = lk.created_id(self.lookup, _json(res))
                await g.store.created(self.key, rid, now)
                if rid and self.lookup is not None:
                    resource = g.resource(self.org, self.lookup, rid)
                    if not await g.store.claim(resource, self.key, now):
                        log.warning(
                            "%s was answered to key %s but another key adopted it", resource, self.key
                        )
                self._settle(0, rid)
            elif answer is wa.Answer.rejected:
                await g.store.forget(self.key)
                self.attempt = None
            elif answer is wa.Answer.not_processed:
                await g.store.not_processed(self.key, now)
                if self.attempt is not None:
                    self._settle(max(0, self.attempt.open - 1), self.attempt.resource_id)
        except Exception:  # the answer stands; the record stays "unknown", which is only cautious
            log.warning("could not record the answer to write %s", self.key, exc_info=True)

    def _settle(self, open_sends: int, rid: str | None) -> None:
        if self.attempt is not None:
            self.attempt = wa.Attempt(
                self.key, self.attempt.sent_at, open_sends, rid, self.attempt.refused_attempt
            )


def _json(res: httpx.Response) -> Any:
    try:
        return res.json()
    except ValueError:
        return None


class WriteGuard:
    def __init__(
        self,
        store: WriteAttempts,
        safe_window_s: float = 300.0,
        lookup_margin_s: float = 120.0,
        clock_speed: float = 1.0,
        on_event: Callable[[str], None] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.safe_window_s = safe_window_s
        self.lookup_margin = timedelta(seconds=lookup_margin_s)
        self.clock_speed = clock_speed
        self._on_event = on_event
        self.now = now

    def count(self, event: str) -> None:
        if self._on_event is not None:
            self._on_event(event)

    def decide(
        self, attempt: wa.Attempt | None, now: datetime, policy: wa.Policy, command_attempt: int
    ) -> wa.Next:
        return wa.decide(
            attempt,
            now,
            policy=policy,
            command_attempt=command_attempt,
            safe_window_s=self.safe_window_s,
            clock_speed=self.clock_speed,
        )

    @staticmethod
    def resource(org: str, lookup: lk.Lookup, rid: str) -> str:
        return f"{org}/{lookup.collection}/{rid}"

    async def send(
        self,
        org: str,
        req: Request,
        key: str,
        command_attempt: int,
        call: Call,
        get: Get,
        policy: wa.Policy | None = None,
        meta: dict[str, Any] | None = None,
    ) -> httpx.Response | Adopted:
        lookup = lk.lookup_for(req) if policy in (None, wa.Policy.lookup) else None
        policy = policy or lk.policy_for(req)
        if policy is wa.Policy.lookup and lookup is None:
            policy = wa.Policy.none
        info = {"method": req.method, "path": req.path, "org": org, **(meta or {})}
        attempt = await self.store.get(key)
        for _ in range(MAX_ROUNDS):
            step = self.decide(attempt, self.now(), policy, command_attempt)
            if step is wa.Next.refuse:
                await self._refuse(key, req, attempt, command_attempt, "no lookup exists for this write")
            if step is wa.Next.look_up:
                assert lookup is not None and attempt is not None
                found = await self._look_up(org, key, req, lookup, attempt, get, command_attempt)
                if found is not None:
                    return found
                await self.store.forget(key)  # not in Xero: the key is new to Xero again
                attempt = None
            if step is wa.Next.fresh:
                await self.store.forget(key)
                self.count("fresh_epoch")
                attempt = None
            tracker = SendTracker(self, key, org, policy, lookup, command_attempt, attempt, info)
            try:
                return await call(tracker)
            except WindowPassed:
                attempt = tracker.attempt  # the window passed between in-process retries
        raise XeroUnavailable(f"{req.method} {req.path}: Xero's Idempotency-Key window kept passing")

    async def _refuse(
        self, key: str, req: Request, attempt: wa.Attempt | None, command_attempt: int, reason: str
    ) -> None:
        await self.store.refused(key, command_attempt, self.now())
        self.count("outcome_unknown")
        first = attempt.sent_at if attempt else None
        raise OutcomeUnknown(
            ActionError(
                code=wa.OUTCOME_UNKNOWN,
                message=wa.refusal_message(req.method, req.path, first, reason),
                retryable=False,
                details={
                    "idempotency_key": key,
                    "method": req.method,
                    "path": req.path,
                    "first_sent_at": first.isoformat() if first else None,
                    "resource_id": attempt.resource_id if attempt else None,
                },
            )
        )

    async def _look_up(
        self,
        org: str,
        key: str,
        req: Request,
        lookup: lk.Lookup,
        attempt: wa.Attempt,
        get: Get,
        command_attempt: int,
    ) -> Adopted | None:
        assert attempt.sent_at is not None
        since = attempt.sent_at - self.lookup_margin
        headers = {"If-Modified-Since": msdate.http_date(since)} if lookup.modified_since else {}
        found: list[dict[str, Any]] = []
        pages = range(1, lk.MAX_PAGES + 1) if lookup.paged else range(1)
        for page in pages:
            params = dict(lookup.params)
            if lookup.paged:
                params["page"] = str(page)
            body = await get(lookup.path, params, headers)
            items = body.get(lookup.collection) if isinstance(body, dict) else None
            items = items if isinstance(items, list) else []
            found += items
            if not lookup.paged or len(items) < lk.PAGE_SIZE:
                break
        else:
            await self._refuse(
                key,
                req,
                attempt,
                command_attempt,
                f"more than {lk.MAX_PAGES} pages of recent {lookup.collection} to look through",
            )
        now = self.now()
        for doc in lookup.candidates(found, since):
            rid = lookup.id_of(doc)
            if rid and await self.store.claim(self.resource(org, lookup, rid), key, now):
                await self.store.created(key, rid, now, adopted=True)
                self.count("lookup_found")
                log.info("write %s: %s %s found in Xero after a lost answer", key, lookup.what, rid)
                return Adopted({lookup.collection: [doc]})
        self.count("lookup_not_found")
        return None
