"""`deploy/local/infra.sh status` (what `make status` runs) reports the running servers as up and
exits 0; it once died on an unset variable after the secured servers were added."""

from __future__ import annotations

import os
import subprocess
from urllib.parse import urlsplit

import pytest
from infra_fixtures import INFRA_SH

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


def test_status_reports_the_running_servers_up(kafka_bootstrap: str, mongodb_url: str) -> None:
    kafka_port = kafka_bootstrap.rsplit(":", 1)[1]
    mongo_port = str(urlsplit(mongodb_url).port)
    env = {**os.environ, "KXFLOW_KAFKA_PORT": kafka_port, "KXFLOW_MONGO_PORT": mongo_port}
    proc = subprocess.run(
        ["bash", str(INFRA_SH), "status"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert f"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{kafka_port}" in proc.stdout
    assert f"MONGODB_URL=mongodb://127.0.0.1:{mongo_port}/" in proc.stdout
