"""The router benchmark runs end to end in ``--smoke`` mode (CI proves the script works)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.bench, pytest.mark.kafka, pytest.mark.mongo]

SCRIPT = Path(__file__).with_name("bench_router.py")


def test_bench_router_smoke(kafka_bootstrap: str, mongodb_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke", "--kafka", kafka_bootstrap, "--mongo", mongodb_url],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "router matched" in proc.stdout
    assert "raw aiokafka floor" in proc.stdout
    assert "runs stored 1000, commands 1000 of 1000" in proc.stdout
