"""CI proof that the Kartra intake benchmark runs (figures come from the full run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("bench_kartra_intake.py")


@pytest.mark.bench
def test_kartra_intake_benchmark_smoke(kafka_bootstrap: str, mongodb_url: str) -> None:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "MONGODB_URL": mongodb_url}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--smoke"], env=env, capture_output=True, text=True, timeout=180
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "webhooks/s" in proc.stdout and "raw floor" in proc.stdout
