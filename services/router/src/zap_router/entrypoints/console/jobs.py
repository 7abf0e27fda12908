"""Bulk actions on a filtered run list, done in the background with progress the page polls."""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

MAX_JOBS = 100


@dataclass
class Job:
    id: str
    tenant: str
    action: str
    total: int
    done: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    finished: bool = False


class Jobs:
    """At most ``MAX_JOBS`` jobs are remembered (the oldest finished ones are forgotten)."""

    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, job_id: str, tenant: str) -> Job | None:
        job = self._jobs.get(job_id)
        return job if job is not None and job.tenant == tenant else None

    def start(
        self, tenant: str, action: str, run_ids: list[str], act: Callable[[str], Awaitable[None]]
    ) -> Job:
        job = Job(secrets.token_urlsafe(12), tenant, action, len(run_ids))
        self._jobs[job.id] = job
        while len(self._jobs) > MAX_JOBS:
            self._jobs.popitem(last=False)

        async def work() -> None:
            for run_id in run_ids:
                try:
                    await act(run_id)
                except ValueError as exc:  # ReplayRefused and the like: say why, go on
                    job.refused.append((run_id, str(exc)))
                job.done += 1
            job.finished = True

        task = asyncio.create_task(work())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job
