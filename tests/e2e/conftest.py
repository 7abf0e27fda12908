"""System tests: the whole of kxflow as real processes (tests/system_harness.py).

Fixtures: ``system`` (one running system per module), ``demo`` (runs ``deploy/local/demo.py``
against a system and returns its exit code, JSON summary and console output) and ``otlp`` (a trace
receiver). Helper modules of this folder are importable by the tests (the folder is put on the path).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from otlp_receiver import Received, otlp_receiver
from system_harness import ROOT, System, running_system

DEMO = ROOT / "deploy" / "local" / "demo.py"
Demo = Callable[[System], Awaitable[tuple[int, dict[str, Any], str]]]


@pytest.fixture(scope="module")
def system(kafka_bootstrap: str, mongodb_url: str) -> Iterator[System]:
    """One running system shared by a module's tests (starting it costs a few seconds)."""
    with running_system(kafka_bootstrap, mongodb_url) as sys_:
        yield sys_


def demo_command(system: System, *extra: str) -> list[str]:
    urls = {
        "--router-url": "router",
        "--kartra-gateway-url": "kartra-gateway",
        "--xero-gateway-url": "xero-gateway",
        "--kartra-sandbox-url": "kartra-sandbox",
        "--xero-sandbox-url": "xero-sandbox",
    }
    args = [a for flag, name in urls.items() for a in (flag, system.url(name))]
    return [sys.executable, str(DEMO), "--json", "--timeout", "60", "--token", system.token, *args, *extra]


async def _run_demo(system: System, *extra: str) -> tuple[int, dict[str, Any], str]:
    proc = await asyncio.create_subprocess_exec(
        *demo_command(system, *extra), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=120)
    lines = out.decode().strip().splitlines()
    return proc.returncode or 0, json.loads(lines[-1]) if lines else {}, err.decode()


@pytest.fixture
def demo() -> Demo:
    return _run_demo


@pytest.fixture
def otlp() -> Iterator[tuple[str, Received]]:
    with otlp_receiver() as receiver:
        yield receiver
