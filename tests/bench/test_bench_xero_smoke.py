"""CI proof that the Xero scheduler benchmark runs (figures come from the full run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("bench_xero_scheduler.py")


@pytest.mark.bench
def test_xero_scheduler_benchmark_smoke(mongodb_url: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env={**os.environ, "MONGODB_URL": mongodb_url},
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "budget utilisation" in proc.stdout and "raw floor" in proc.stdout
    assert "hydration:" in proc.stdout and "429s 0" in proc.stdout
    assert "2 replicas sharing budgets through MongoDB" in proc.stdout
