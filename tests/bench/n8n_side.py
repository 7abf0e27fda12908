"""n8n beside kxflow in ``make bench`` (issue 13; never in CI): the same four Xero calls as a
workflow (find the contact, create it when missing, invoice, payment), against the same Xero
sandbox, driven by the same load ladder.

* :func:`install` puts n8n (``N8N_VERSION``) from npm into ``~/.cache/kxflow/n8n``, outside the
  checkout, with npm ``overrides``: ``xlsx`` → 0.18.5 (its pinned tarball comes from a CDN) and
  ``isolated-vm`` → 5.0.4 (builds against Node 20). It takes many minutes on 2 cores (isolated-vm
  compiles), so ``deploy/local/bench.py`` starts it first, in the background, under ``nice``.
* :class:`N8n` runs it with a throwaway user folder and ``N8N_EXPRESSION_ENGINE=legacy`` (its faster
  engine), imports ``tests/bench/n8n/purchase_to_xero.json`` and activates it. The workflow's webhook
  answers at once; its Xero token and organisation come from the environment (a client-credentials
  token of the sandbox's custom connection).
* :func:`ladder` drives it: purchases POSTed at each rate, the webhook's answer time measured here,
  the last Xero call (the payment, ``Idempotency-Key: <id>-payment``) read from the sandbox's log.

What n8n does not do, and kxflow does (the "guarantees" column): acknowledge the webhook only once
the event is in a replicated log, keep a ledger of every Xero write, send idempotency keys of its
own (the workflow here sends them only to be measured), retry and dead-letter.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

N8N_VERSION = "1.123.81"
CACHE = Path(os.environ.get("KXFLOW_CACHE", Path.home() / ".cache" / "kxflow")) / "n8n"
WORKFLOW = Path(__file__).resolve().parent / "n8n" / "purchase_to_xero.json"
WEBHOOK_PATH = "kxflow-bench-purchase"
PACKAGE = {
    "name": "kxflow-bench-n8n",
    "private": True,
    "description": "n8n for make bench (issue 13); written by tests/bench/n8n_side.py",
    "dependencies": {"n8n": N8N_VERSION},
    "overrides": {"xlsx": "0.18.5", "isolated-vm": "5.0.4"},
}
GUARANTEES = {
    "kxflow": "webhook acknowledged once the event is in Kafka (acks=all); run ledger; idempotency key "
    "and ledger per Xero write; retries, DLQ, replay",
    "n8n": "webhook answered before anything is stored; executions saved to SQLite; no idempotency key "
    "of its own, no broker, no ledger",
}


def binary(cache: Path = CACHE) -> Path:
    return cache / "node_modules" / ".bin" / "n8n"


def installed(cache: Path = CACHE) -> bool:
    pkg = cache / "node_modules" / "n8n" / "package.json"
    return (
        binary(cache).exists() and pkg.exists() and json.loads(pkg.read_text()).get("version") == N8N_VERSION
    )


def start_install(cache: Path = CACHE) -> subprocess.Popen[bytes] | str:
    """The npm install as a background process (``nice``), or why it cannot run."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        return "npm/node not on PATH"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / "package.json").write_text(json.dumps(PACKAGE, indent=2) + "\n")
    log = (cache / "install.log").open("wb")
    cmd = [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"]
    if shutil.which("nice"):
        cmd = ["nice", "-n", "10", *cmd]
    return subprocess.Popen(cmd, cwd=cache, stdout=log, stderr=subprocess.STDOUT)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class N8n:
    """One n8n process with a throwaway user folder and the bench workflow active."""

    xero_api: str
    token: str
    tenant: str
    cache: Path = CACHE
    port: int = field(default_factory=free_port)
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kxflow-n8n-")))
    proc: subprocess.Popen[bytes] | None = None

    @property
    def webhook(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhook/{WEBHOOK_PATH}"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "N8N_USER_FOLDER": str(self.folder),
            "N8N_PORT": str(self.port),
            "N8N_LISTEN_ADDRESS": "127.0.0.1",
            "N8N_EXPRESSION_ENGINE": "legacy",
            "N8N_DIAGNOSTICS_ENABLED": "false",
            "N8N_VERSION_NOTIFICATIONS_ENABLED": "false",
            "N8N_PERSONALIZATION_ENABLED": "false",
            "N8N_TEMPLATES_ENABLED": "false",
            "N8N_BLOCK_ENV_ACCESS_IN_NODE": "false",
            "N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS": "false",
            "N8N_RUNNERS_ENABLED": "false",
            "DB_SQLITE_POOL_SIZE": "2",
            "N8N_LOG_LEVEL": "warn",
            "EXECUTIONS_DATA_SAVE_ON_SUCCESS": "all",
            "KXBENCH_XERO_API": self.xero_api,
            "KXBENCH_XERO_TOKEN": self.token,
            "KXBENCH_XERO_TENANT": self.tenant,
        }

    def _cli(self, *args: str, timeout: float = 300) -> None:
        out = subprocess.run(
            [str(binary(self.cache)), *args],
            env=self.env(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if out.returncode != 0:
            raise RuntimeError(f"n8n {' '.join(args)}: exit {out.returncode}: {out.stderr.decode()[-800:]}")

    def _spawn(self) -> subprocess.Popen[bytes]:
        log = (self.folder / "n8n.log").open("wb")
        return subprocess.Popen(
            [str(binary(self.cache)), "start"], env=self.env(), stdout=log, stderr=subprocess.STDOUT
        )

    async def start(self, timeout: float = 300) -> None:
        workflow = json.loads(WORKFLOW.read_text())
        path = self.folder / "workflow.json"
        path.write_text(json.dumps(workflow))
        await asyncio.to_thread(self._cli, "import:workflow", f"--input={path}")
        await asyncio.to_thread(self._cli, "update:workflow", f"--id={workflow['id']}", "--active=true")
        self.proc = await asyncio.to_thread(self._spawn)
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=5) as http:
            while time.monotonic() < deadline:  # until the workflow's webhook is registered
                if self.proc.poll() is not None:
                    raise RuntimeError(f"n8n exited {self.proc.returncode}: {self.log_tail()}")
                try:
                    res = await http.post(self.webhook, json={"probe": True})
                    if res.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(1.0)  # polling n8n's start-up with a deadline
        raise RuntimeError(f"n8n's webhook not up within {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.folder / "n8n.log"
        return path.read_text(errors="replace")[-1500:] if path.exists() else ""

    def pids(self) -> list[int]:
        if self.proc is None:
            return []
        try:
            parent = psutil.Process(self.proc.pid)
            return [parent.pid, *(c.pid for c in parent.children(recursive=True))]
        except psutil.Error:
            return []

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids():
            try:
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
        return total

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


async def sandbox_token(http: httpx.AsyncClient, sandbox: str) -> tuple[str, str]:
    """A client-credentials token of the sandbox's custom connection and its organisation."""
    from kxflow_sandboxes.xero import SandboxConfig

    cfg = SandboxConfig()
    res = await http.post(
        f"{sandbox}/connect/token",
        data={"grant_type": "client_credentials", "scope": "accounting.transactions accounting.contacts"},
        auth=(cfg.custom_client_id, cfg.custom_client_secret),
    )
    res.raise_for_status()
    token = res.json()["access_token"]
    conns = (await http.get(f"{sandbox}/Connections", headers={"Authorization": f"Bearer {token}"})).json()
    return token, conns[0]["tenantId"]


@dataclass
class Step:
    rate: float
    sent: int = 0
    answered: int = 0
    done: int = 0
    send_rate: float = 0.0
    completion_rate: float = 0.0
    answer_ms: dict[str, float] = field(default_factory=dict)
    last_xero_ms: dict[str, float] = field(default_factory=dict)
    cpu_ms_per_purchase: float = float("nan")
    xero_calls_per_purchase: float = float("nan")
    stable: bool = False
    why: str = ""


async def step(
    n8n: N8n, http: httpx.AsyncClient, sandbox: str, rate: float, seconds: float, grace: float, spread: Any
) -> Step:
    """``rate``/s for ``seconds``: each purchase's webhook answer time, and the time from its send to
    the end of its payment call in the sandbox."""
    st = Step(rate)
    count = max(1, round(rate * seconds))
    sent_at: dict[str, float] = {}
    answers: list[float] = []
    tag = uuid.uuid4().hex[:8]

    async def one(i: int) -> None:
        pid = f"{tag}-{i}"
        body = {
            "id": pid,
            "email": f"n8n-{pid}@example.com",
            "name": f"N8n Buyer {pid}",
            "amount": 49.0,
            "date": time.strftime("%Y-%m-%d"),
        }
        sent_at[pid] = time.time()
        t = time.perf_counter()
        try:
            res = await http.post(n8n.webhook, json=body)
            if res.status_code == 200:
                answers.append((time.perf_counter() - t) * 1000)
        except httpx.HTTPError:
            pass

    calls0 = (await http.get(f"{sandbox}/_sandbox/stats")).json()["api_calls"]
    cpu0 = n8n.cpu_seconds()
    tasks, start = [], time.monotonic()
    for i in range(count):
        tasks.append(asyncio.create_task(one(i)))
        await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))  # the send rate
    await asyncio.gather(*tasks)
    took = time.monotonic() - start
    last_send = time.time()
    ends: dict[str, float] = {}
    deadline = time.monotonic() + max(grace, 60.0)
    while time.monotonic() < deadline:  # until every payment is in (or the deadline)
        log = (await http.get(f"{sandbox}/_sandbox/requests", params={"limit": 5000})).json()
        for e in log:
            key = e.get("idempotency_key") or ""
            if key.startswith(tag) and key.endswith("-payment"):
                ends[key.removesuffix("-payment")] = e["at"] + e.get("ms", 0) / 1000
        if len(ends) >= len(answers):
            break
        await asyncio.sleep(0.5)  # polling the sandbox's log with a deadline
    drain = max(ends.values(), default=last_send) - last_send
    cpu1 = n8n.cpu_seconds()
    calls1 = (await http.get(f"{sandbox}/_sandbox/stats")).json()["api_calls"]
    st.sent, st.answered, st.done = count, len(answers), len(ends)
    st.send_rate = count / took
    in_order = sorted((k for k in ends if k in sent_at), key=lambda k: sent_at[k])
    latencies = [(ends[k] - sent_at[k]) * 1000 for k in in_order]
    st.answer_ms, st.last_xero_ms = spread(answers), spread(latencies)
    if ends:
        span = max(ends.values()) - min(sent_at.values())
        st.completion_rate = len(ends) / max(span, 1e-3)
    st.cpu_ms_per_purchase = 1000 * (cpu1 - cpu0) / max(st.done, 1)
    st.xero_calls_per_purchase = (calls1 - calls0) / max(st.done, 1)
    third = max(1, len(latencies) // 3)
    if st.answered < st.sent:
        st.why = f"{st.sent - st.answered} webhooks not answered 200"
    elif st.done < st.answered:
        st.why = f"{st.answered - st.done} purchases without their payment call"
    elif drain > grace:
        st.why = f"backlog: {drain:.1f}s to drain after the last send (grace {grace:.0f}s)"
    elif st.done >= 10 and st.completion_rate < 0.75 * min(rate, st.send_rate):
        st.why = f"purchases done at {st.completion_rate:.1f}/s, below the send rate"
    elif (
        len(latencies) >= 6
        and statistics.median(latencies[-third:]) > 2 * statistics.median(latencies[:third]) + 500
    ):  # bench_e2e's rule, so both ladders stop on the same grounds
        st.why = "latency grew during the step"
    elif st.send_rate < 0.9 * rate:
        st.why = f"load generator reached only {st.send_rate:.0f}/s"
    st.stable = not st.why
    print(
        f"  n8n {rate:6.1f}/s sent {st.sent} answered {st.answered} done {st.done}  answer p99 "
        f"{st.answer_ms['p99']:.0f} ms  last Xero p50 {st.last_xero_ms['p50']:.0f} p99 "
        f"{st.last_xero_ms['p99']:.0f} ms  CPU {st.cpu_ms_per_purchase:.1f} ms/purchase  "
        f"{'stable' if st.stable else 'NOT stable: ' + st.why}",
        flush=True,
    )
    return st
