"""The per-organisation Xero call scheduler.

Each organisation has its own budget and its own priority queue of waiting calls, so one
organisation's backlog never delays another's; a freed slot goes to the most urgent waiter
(actions, then hydration, then polling, then backfill). The math is ``domain.budget``; this module
only parks callers and wakes them when the budget allows.

The budgets count this replica's calls. With ``shared`` (``runtime.shared_limits``), a granted
call also takes its number under the organisation's minute and day rules and the app's minute
rule, which every replica shares through MongoDB, and waits if other replicas have used them:
two replicas polling and acting for one organisation stay under its 60/min together. The
concurrency cap (5 in flight) stays per replica, and the remaining-calls headers are not applied
(see ``observe``).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from kxflow_contracts.runtime.commands import holding_watch
from kxflow_contracts.runtime.shared_limits import Rule, SharedRateLimits
from xero_gateway.domain.budget import DAY, MINUTE, AppBudget, OrgBudget, Priority
from xero_gateway.domain.clock import Clock

APP_BLOCK = 20  # app-wide calls one replica reserves at a time (every organisation passes that rule)


@dataclass
class _OrgState:
    budget: OrgBudget
    waiters: list[tuple[int, int, asyncio.Future[float]]] = field(default_factory=list)
    timer: asyncio.TimerHandle | None = None
    granted: int = 0


class Scheduler:
    def __init__(
        self,
        clock: Clock,
        budget_factory: Callable[[], OrgBudget],
        app: AppBudget,
        shared: SharedRateLimits | None = None,
    ) -> None:
        self.clock = clock
        self.shared = shared
        self._factory = budget_factory
        self.app = app
        self._orgs: dict[str, _OrgState] = {}
        self._seq = itertools.count()

    def budget(self, org: str) -> OrgBudget:
        return self._state(org).budget

    def orgs(self) -> dict[str, OrgBudget]:
        return {k: v.budget for k, v in self._orgs.items()}

    def _state(self, org: str) -> _OrgState:
        if org not in self._orgs:
            self._orgs[org] = _OrgState(self._factory())
        return self._orgs[org]

    async def usage(self, org: str) -> dict[str, int | float | bool]:
        """What an organisation has used of its budget (the console's "Xero budget" column):
        calls in the last minute and day against the limits, waiting calls and 429s. With
        ``shared``, the minute and day counts are every replica's (read from the shared rules);
        without, this replica's own."""
        budget, now = self.budget(org), self.clock.now()
        used_minute, used_day = budget.minute.used(now), budget.day.used(now)
        if self.shared is not None:
            day_rule, minute_rule, _ = self.shared_rules(org)
            used_day = max(used_day, await self.shared.used(day_rule))
            used_minute = max(used_minute, await self.shared.used(minute_rule))
        return {
            "per_minute": budget.per_minute,
            "per_day": budget.per_day,
            "used_minute": used_minute,
            "used_day": used_day,
            "remaining_day": max(0, budget.per_day - used_day),
            "in_flight": budget.in_flight,
            "queued": self.queued(org),
            "throttled": budget.throttled,
            "blocked_s": round(max(0.0, budget.blocked_until - now), 1),
            "shared": self.shared is not None,
        }

    def queued(self, org: str) -> int:
        return sum(1 for *_, f in self._state(org).waiters if not f.done())

    @asynccontextmanager
    async def slot(self, org: str, priority: Priority = Priority.action) -> AsyncIterator[None]:
        state = self._state(org)
        fut: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        heapq.heappush(state.waiters, (int(priority), next(self._seq), fut))
        self._pump(org)
        try:
            # A command kept waiting here for its organisation's budget is reported holding.
            async with holding_watch(f"waiting for the Xero organisation {org}'s API budget"):
                await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                state.budget.release()
                self._pump(org)
            raise
        taken = fut.result()
        shared, admission = self.shared, None
        try:
            if shared is not None:
                async with holding_watch(f"waiting for the Xero organisation {org}'s API budget"):
                    admission = await shared.admit(*self.shared_rules(org))
            yield
        finally:
            if shared is not None and admission is not None:
                shared.finished(admission)
            done = self.clock.now()
            state.budget.release(taken, done)
            self.app.finished(taken, done)
            self._pump(org)

    def shared_rules(self, org: str) -> tuple[Rule, ...]:
        """In ``admit``'s order: the day, the organisation's minute, then the app's minute, whose
        blocks must be taken when the departure is known (a block is used within its spread)."""
        budget = self.budget(org)
        return (
            Rule(f"xero:org-day:{org}", budget.per_day, DAY),
            Rule(f"xero:org-minute:{org}", budget.per_minute, MINUTE + budget.margin),
            Rule(
                "xero:app-minute",
                self.app.per_minute,
                MINUTE + self.app.margin,
                block=APP_BLOCK,
                spread=self.app.margin,
            ),
        )

    def _pump(self, org: str) -> None:
        state = self._orgs[org]
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        while state.waiters:
            if state.waiters[0][2].done():
                heapq.heappop(state.waiters)
                continue
            now = self.clock.now()
            wait = state.budget.wait(now)
            if wait is None:
                return  # every concurrent slot is busy: a release pumps again
            wait = max(wait, self.app.wait(now))
            if wait > 0:
                loop = asyncio.get_running_loop()
                state.timer = loop.call_later(self.clock.real(wait), self._pump, org)
                return
            _, _, fut = heapq.heappop(state.waiters)
            state.budget.take(now)
            self.app.take(now)
            state.granted += 1
            fut.set_result(now)  # the grant time, which the budget stamped

    def observe(
        self, org: str, minute_remaining: int | None, day_remaining: int | None, app_remaining: int | None
    ) -> None:
        """Tighten the local count from Xero's remaining-calls headers (another client may share
        the organisation). Not with ``shared``: the shared rules already count every replica's
        calls, and the headers would count the other replicas' calls again here, stamped when
        seen, holding this replica back a window longer than Xero does (a 429 from a foreign
        client is still honoured through ``throttled``)."""
        if self.shared is not None:
            return
        now = self.clock.now()
        self.budget(org).observe(now, minute_remaining, day_remaining)
        self.app.observe(now, app_remaining)

    def throttled(self, org: str, retry_after: float, problem: str) -> None:
        now = self.clock.now()
        if problem == "app":
            self.app.blocked_until = max(self.app.blocked_until, now + retry_after + self.app.margin)
        else:
            self.budget(org).throttle(now, retry_after, problem)
