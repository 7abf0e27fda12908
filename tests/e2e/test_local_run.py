"""`make run` as a newcomer uses it: a dead process is restarted with a back-off, and the system
survives Ctrl-C and a second `make run` (the demo still works, on the same connections and zap)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from system_harness import ROOT, System, kxsystem
from waiting import wait_for

Demo = Callable[[System], Awaitable[tuple[int, dict[str, Any], str]]]
RUN = ROOT / "deploy" / "local" / "run.py"
DEMO = ROOT / "deploy" / "local" / "demo.py"


async def test_a_dead_process_is_restarted_with_a_back_off_and_said(tmp_path: Path) -> None:
    from asgi_server import free_port

    cfg = {
        "KAFKA_BOOTSTRAP_SERVERS": "unused:9092",
        "MONGODB_URL": "mongodb://unused",
        "KXFLOW_SECRET_KEYS": "x",
    }
    svc = next(
        s for s in kxsystem.services(cfg, ports={"kartra-sandbox": free_port()}) if s.name == "kartra-sandbox"
    )
    sup = kxsystem.Supervisor([svc], cfg, tmp_path)
    said: list[str] = []
    keeper = kxsystem.Keeper(
        sup, kxsystem.BackOff(first=0.2, factor=3, cap=1.0, healthy_after=60), said.append
    )
    try:
        sup.start()

        async def crash_and_recover() -> int:
            old = sup.procs["kartra-sandbox"].pid
            sup.kill("kartra-sandbox")

            def back() -> int | None:
                keeper.tick()
                pid = sup.procs["kartra-sandbox"].pid
                return pid if pid != old and sup.procs["kartra-sandbox"].poll() is None else None

            new = await wait_for(back, timeout=20, interval=0.05)
            await asyncio.to_thread(sup.wait_ready, "kartra-sandbox", 30)
            return new

        first = await crash_and_recover()
        second = await crash_and_recover()  # died again soon: the delay grew
        third = await crash_and_recover()  # capped
        assert len({first, second, third}) == 3
        assert keeper.restarts == {"kartra-sandbox": 3}
        assert [keeper_delay(m) for m in said if "exited" in m] == [0.2, 0.6, 1.0]
        assert sum("restarted (pid" in m for m in said) == 3
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{svc.url}/_sandbox/calls")).status_code == 200
    finally:
        sup.stop_all()


def keeper_delay(message: str) -> float:
    return float(message.split("restarting in ")[1].split("s ")[0])


def _free_offset(count: int = 40) -> int:
    """A port offset at which every default port of ``make run`` is free now."""
    for offset in range(1000, 1000 + 50 * count, 50):
        ok = True
        for port in kxsystem.DEFAULT_PORTS.values():
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port + offset))
                except OSError:
                    ok = False
                    break
        if ok:
            return offset
    raise RuntimeError("no free port range for make run")


@contextmanager
def make_run(env: dict[str, str], args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python deploy/local/run.py`` as ``make run`` starts it; Ctrl-C (SIGINT) at the end."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, str(RUN), *args], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def _demo(urls: dict[str, str]) -> tuple[int, dict[str, Any], str]:
    args = [a for name, url in urls.items() for a in (f"--{name}-url", url)]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(DEMO), "--json", "--timeout", "60", *args,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=180)
    lines = out.decode().strip().splitlines()
    return proc.returncode or 0, json.loads(lines[-1]) if lines else {}, err.decode()


async def test_make_run_ctrl_c_make_run_then_demo_works_on_the_same_connections(
    kafka_bootstrap: str, mongodb_url: str, tmp_path: Path
) -> None:
    offset = _free_offset()
    namespace = f"run{os.getpid()}"
    env = {
        **os.environ,
        "KXFLOW_KAFKA_PORT": str(urlsplit(f"//{kafka_bootstrap.split(',')[0]}").port),
        "KXFLOW_MONGO_PORT": str(urlsplit(mongodb_url).port),
        "PYTHONUNBUFFERED": "1",
    }
    args = ["--port-offset", str(offset), "--namespace", namespace, "--logs", str(tmp_path / "logs")]
    args += ["--state-dir", str(tmp_path / "state")]
    ports = {name: port + offset for name, port in kxsystem.DEFAULT_PORTS.items()}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    log = tmp_path / "make-run.log"
    summaries = []
    try:
        for round_ in range(1, 3):
            with make_run(env, args, log) as proc:
                await wait_for(
                    lambda: log.read_text().count("kxflow is up") == round_,  # noqa: B023
                    timeout=120,
                    interval=0.2,
                )
                assert proc.poll() is None, log.read_text()
                code, summary, out = await _demo(urls)
                assert code == 0, out + log.read_text()[-4000:]
                assert "restored" not in out  # the sandbox kept its state: nothing to repair
                summaries.append(summary)
            assert proc.returncode == 0, log.read_text()[-4000:]
            assert (tmp_path / "state" / "xero-sandbox.json").exists()
        first, second = summaries
        assert second["zap_id"] == first["zap_id"] and second["run_id"] != first["run_id"]
        assert second["status"] == "succeeded"
    finally:
        drop(mongodb_url, namespace)


def drop(mongodb_url: str, namespace: str) -> None:
    from pymongo import MongoClient

    with MongoClient(mongodb_url, serverSelectionTimeoutMS=5000) as client:
        for svc in ("router", "kartra", "xero"):
            client.drop_database(f"kxflow_{svc}_{namespace}")


async def test_demo_repairs_a_xero_sandbox_that_lost_its_state(system: System, demo: Demo) -> None:
    """The sandbox restarted without its state file (as before this fix): the demo restores the
    organisations the gateway is connected to and connects them again under the same names."""
    code, first, log = await demo(system)
    assert code == 0, log
    system.restart("xero-sandbox")  # starts empty: new organisations, unknown tokens
    code, second, log = await demo(system)
    assert code == 0, log + system.describe()
    assert "organisations restored" in log
    assert second["zap_id"] == first["zap_id"] and second["status"] == "succeeded"
    async with httpx.AsyncClient(headers=system.auth) as client:
        xero = (await client.get(f"{system.url('xero-gateway')}/v1/connections")).json()
    assert sorted(c["id"] for c in xero) == ["xero-acme-au", "xero-beta-nz"]
    assert all(c["status"] == "active" for c in xero)
