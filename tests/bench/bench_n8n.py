"""n8n beside kxflow (issue 13; ``make bench`` only, never CI): the same four Xero calls as an n8n
workflow against the Xero sandbox with the throughput-mode limits of ``bench_e2e.py``, driven by the
same load ladder (start rate, factor, step length and stability grace as ``bench_e2e.py``).

    uv run python tests/bench/bench_n8n.py [--smoke] [--json PATH]

Needs n8n installed in the cache (``n8n_side.start_install``; ``deploy/local/bench.py`` does it in
the background). Without it, writes ``{"skipped": "<why>"}`` and exits 0: the table says why.

Phases: a cost step at the cost table's fixed rate (CPU-ms per purchase of n8n's processes at
2/s, as kxflow's), then the ladder up to the first unstable step.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
import n8n_side
from cost import spread as percentiles

HERE = Path(__file__).resolve()
RAISED = {"per_minute": 100_000, "per_day": 10_000_000, "concurrent": 20, "app_per_minute": 10_000_000}


def spread(values: list[float]) -> dict[str, float]:
    return percentiles(values, (50, 95, 99))


def spawn_sandbox(port: int) -> subprocess.Popen[bytes]:
    """The Xero sandbox with the throughput-mode limits (``bench_e2e.py serve-xero-sandbox``)."""
    flags = [x for k, v in RAISED.items() for x in (f"--{k.replace('_', '-')}", str(v))]
    script = str(HERE.with_name("bench_e2e.py"))
    return subprocess.Popen(
        [sys.executable, script, "serve-xero-sandbox", "--port", str(port), *flags, "--no-openapi-validation"]
    )


async def start_sandbox(port: int) -> subprocess.Popen[bytes]:
    proc = spawn_sandbox(port)
    deadline = time.monotonic() + 60
    async with httpx.AsyncClient(timeout=2) as http:
        while time.monotonic() < deadline:
            try:
                if (await http.get(f"http://127.0.0.1:{port}/_sandbox/stats")).status_code == 200:
                    return proc
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)  # polling the sandbox's start-up with a deadline
    proc.kill()
    raise RuntimeError("the Xero sandbox did not start")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"guarantees": n8n_side.GUARANTEES, "version": n8n_side.N8N_VERSION}
    if not n8n_side.installed():
        out["skipped"] = f"n8n {n8n_side.N8N_VERSION} is not installed in {n8n_side.CACHE}"
        return out
    port = n8n_side.free_port()
    sandbox_proc = await start_sandbox(port)
    sandbox = f"http://127.0.0.1:{port}"
    n8n: n8n_side.N8n | None = None
    try:
        limits = httpx.Limits(max_connections=500, max_keepalive_connections=100)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            token, tenant = await n8n_side.sandbox_token(http, sandbox)
            n8n = n8n_side.N8n(f"{sandbox}/api.xro/2.0", token, tenant)
            t0 = time.monotonic()
            await n8n.start()
            print(f"n8n up in {time.monotonic() - t0:.1f}s", flush=True)
            await n8n_side.step(n8n, http, sandbox, 2.0, 2.0, args.grace, spread)  # warm-up
            cpu0, t0 = n8n.cpu_seconds(), time.monotonic()
            await asyncio.sleep(args.idle_seconds)  # the idle window being measured, not a wait
            idle_per_s = (n8n.cpu_seconds() - cpu0) / (time.monotonic() - t0)
            seconds = args.cost_purchases / args.cost_rate
            t1 = time.monotonic()
            cost = await n8n_side.step(n8n, http, sandbox, args.cost_rate, seconds, args.grace, spread)
            idle_ms = 1000 * idle_per_s * (time.monotonic() - t1) / max(cost.done, 1)
            out["cost"] = {
                **asdict(cost),
                "cpu_ms_per_purchase_gross": cost.cpu_ms_per_purchase,
                "cpu_ms_per_purchase": max(
                    0.0, cost.cpu_ms_per_purchase - idle_ms
                ),  # net of idle, as kxflow's
            }
            ladder: list[n8n_side.Step] = []
            rate = args.start_rate
            while rate <= args.max_rate:
                st = await n8n_side.step(n8n, http, sandbox, rate, args.step_seconds, args.grace, spread)
                ladder.append(st)
                if not st.stable:
                    break
                rate = round(rate * args.step_factor, 1)
        stable = [s for s in ladder if s.stable]
        best = max(stable, key=lambda s: s.rate) if stable else None
        out["ladder"] = [asdict(s) for s in ladder]
        out["max_sustainable_rate"] = best.rate if best else 0.0
        out["max_sustainable"] = asdict(best) if best else None
    finally:
        if n8n is not None:
            n8n.stop()
        sandbox_proc.terminate()
        sandbox_proc.wait(timeout=30)
    return out


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--json", type=Path)
    p.add_argument("--start-rate", type=float, default=3.0)
    p.add_argument("--step-factor", type=float, default=1.5)
    p.add_argument("--max-rate", type=float, default=400.0)
    p.add_argument("--step-seconds", type=float, default=15.0)
    p.add_argument("--grace", type=float, default=5.0)
    p.add_argument("--cost-rate", type=float, default=2.0)
    p.add_argument("--cost-purchases", type=int, default=200)
    p.add_argument("--idle-seconds", type=float, default=10.0, help="idle CPU window subtracted")
    args = p.parse_args(argv)
    if args.smoke:
        args.start_rate, args.max_rate, args.step_seconds, args.cost_purchases = 5.0, 5.0, 2.0, 8
        args.idle_seconds = 2.0
    return args


if __name__ == "__main__":
    ns = parse()
    started = time.monotonic()
    figures = asyncio.run(main(ns))
    figures["seconds"] = round(time.monotonic() - started, 1)
    print(figures.get("skipped") or f"n8n highest sustainable rate {figures['max_sustainable_rate']:g}/s")
    if ns.json:
        ns.json.parent.mkdir(parents=True, exist_ok=True)
        ns.json.write_text(json.dumps(figures, indent=2, default=str))
