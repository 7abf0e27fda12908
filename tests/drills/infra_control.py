"""A Kafka broker and a FerretDB of a drill's own, so it can restart or stop them without
disturbing the servers every other test of the session shares.

They are started by ``deploy/local/infra.sh`` (the same script, the same cache) on free ports with
their own state directory (``KXFLOW_KAFKA_PORT``, ``KXFLOW_KAFKA_CONTROLLER_PORT``,
``KXFLOW_MONGO_PORT``, ``KXFLOW_STATE``); ``KXFLOW_FRESH=1`` only for the first start, so a restart
keeps the broker's log and offsets and FerretDB's data, as a real restart would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from asgi_server import free_port

INFRA_SH = Path(__file__).resolve().parents[2] / "deploy" / "local" / "infra.sh"


class InfraError(RuntimeError):
    pass


class PrivateInfra:
    """``up()`` both, ``down("kafka")`` / ``up("kafka")`` around a fault, ``close()`` at the end."""

    def __init__(self) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="kxflow-drill-infra-"))
        self.kafka_port = free_port()
        self.controller_port = free_port()
        self.mongo_port = free_port()
        self._started_once = False
        self.timings: dict[str, float] = {}  # "up kafka" → seconds the last such call took

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def mongodb_url(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo_port}/?directConnection=true"

    def _env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "KXFLOW_STATE": str(self.state),
            "KXFLOW_KAFKA_PORT": str(self.kafka_port),
            "KXFLOW_KAFKA_CONTROLLER_PORT": str(self.controller_port),
            "KXFLOW_MONGO_PORT": str(self.mongo_port),
            "KXFLOW_KAFKA_HEAP": "512m",
        }
        env.pop("KXFLOW_FRESH", None)
        if not self._started_once:
            env["KXFLOW_FRESH"] = "1"
        return env

    def _run(self, command: str, component: str) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        proc = subprocess.run(
            ["bash", str(INFRA_SH), command, component],
            capture_output=True,
            text=True,
            check=False,
            env=self._env(),
        )
        self.timings[f"{command} {component}"] = time.monotonic() - started
        return proc

    def up(self, component: str = "all") -> None:
        proc = self._run("up", component)
        if proc.returncode != 0:
            raise InfraError(f"infra.sh up {component} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        self._started_once = True

    def down(self, component: str = "all") -> None:
        # `infra.sh down kafka` exits 1 although it stopped the broker (its last command is
        # `want mongo && ...`), so success is judged by `status`, which fails once it is down.
        proc = self._run("down", component)
        if self._run("status", component).returncode == 0:
            raise InfraError(f"infra.sh down {component} left it running:\n{proc.stderr[-3000:]}")

    def close(self) -> None:
        try:
            self.down("all")
        finally:
            shutil.rmtree(self.state, ignore_errors=True)
