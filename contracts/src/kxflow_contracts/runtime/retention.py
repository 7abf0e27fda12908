"""Periodic cleanup of what a service keeps only for a while (issue 11, item 7): action ledgers
(which hold outputs such as PDFs and personal data), seen keys, OAuth states, orphan token sets.

FerretDB has no TTL indexes, so each store offers a ``purge`` and a :class:`Retention` task calls
them every ``interval`` seconds for the app's lifetime. Each rule gets the current time from the
task's clock, so tests run months of retention with a fast clock.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kxflow_contracts.runtime.periodic import Periodic, during_lifespan

log = logging.getLogger("kxflow.retention")


@dataclass(frozen=True)
class Rule:
    """``purge(now)`` deletes what has expired at ``now`` and returns how many documents."""

    name: str
    purge: Callable[[datetime], Awaitable[int]]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Retention:
    def __init__(
        self, rules: list[Rule], interval: float = 3600.0, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self.rules = rules
        self.interval = interval
        self.clock = clock
        self.purged: dict[str, int] = {r.name: 0 for r in rules}
        self._periodic = Periodic("retention", self.run_once, interval)

    async def run_once(self) -> dict[str, int]:
        """One pass over every rule; a failing rule is logged and the others still run."""
        now = self.clock()
        done: dict[str, int] = {}
        for rule in self.rules:
            try:
                done[rule.name] = await rule.purge(now)
            except Exception as exc:  # a database blip must not end the task
                log.warning("retention %s failed: %s", rule.name, type(exc).__name__)
                continue
            self.purged[rule.name] += done[rule.name]
        return done

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()


def keep_retention(app: Any, retention: Retention) -> Retention:
    """Run ``retention`` for the lifetime of a FastAPI/Starlette ``app``."""

    async def start() -> None:
        retention.start()

    during_lifespan(app, start, retention.stop)
    app.state.retention = retention
    return retention
