"""The whole system as real OS processes, for system tests and fault drills.

The process definitions are ``deploy/local/kxsystem.py`` (the same ones ``make run`` uses); this
module gives each harness instance free ports, a unique topic prefix and database names, its own
API token and Fernet key, logs in a temp folder, and a working directory without a ``.env``.

    with running_system(kafka_bootstrap, mongodb_url) as system:
        system.url("router"); system.kill("xero-gateway"); system.start("xero-gateway")

``replicas={"router": 2}`` adds ``router-2`` (own port, same group and database);
``extra_env={"xero-gateway": {"CLOCK_SPEED": "60"}}`` sets settings (prefix added);
``extra_args={"xero-sandbox": ["--clock-speed", "60"]}``; ``otlp_endpoint=...`` turns tracing on;
``raw_env={"OTEL_BSP_SCHEDULE_DELAY": "200"}`` is added to every process's environment as is.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from asgi_server import free_port

ROOT = Path(__file__).resolve().parents[1]


def _load_kxsystem() -> Any:
    name = "kxsystem"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "local" / "kxsystem.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


kxsystem = _load_kxsystem()


class System:
    """One running kxflow: processes by name, their URLs, env and logs."""

    def __init__(
        self,
        kafka_bootstrap: str,
        mongodb_url: str,
        *,
        prefix: str | None = None,
        replicas: Mapping[str, int] | None = None,
        extra_env: Mapping[str, Mapping[str, str]] | None = None,
        extra_args: Mapping[str, list[str]] | None = None,
        otlp_endpoint: str | None = None,
        logs: Path | None = None,
        sandboxes: bool = True,
        raw_env: Mapping[str, str] | None = None,
        token: str | None = None,
        tenant: str | None = None,
    ) -> None:
        from cryptography.fernet import Fernet

        run_id = secrets.token_hex(4)
        self.prefix = prefix or f"kx{run_id}."
        self.db_suffix = f"_{run_id}"
        self.tenant = tenant or f"tenant-{run_id}"
        self.token = token or f"tok-{secrets.token_urlsafe(18)}"
        self.secret_key = Fernet.generate_key().decode()
        self.mongodb_url = mongodb_url
        self.kafka_bootstrap = kafka_bootstrap
        self.logs = logs or Path(tempfile.mkdtemp(prefix="kxflow-system-"))
        self.cfg = {
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "MONGODB_URL": mongodb_url,
            "KXFLOW_API_TOKENS": f"{self.token}:{self.tenant}",
            "KXFLOW_SECRET_KEYS": self.secret_key,
            "KXFLOW_SANDBOXES": "true" if sandboxes else "false",
        }
        if otlp_endpoint:
            self.cfg["KXFLOW_OTLP_ENDPOINT"] = otlp_endpoint
        names = [
            *kxsystem.DEFAULT_PORTS,
            *(f"{kind}-{i + 1}" for kind, count in (replicas or {}).items() for i in range(1, count)),
        ]
        ports = {name: free_port() for name in names}
        svcs = kxsystem.services(
            self.cfg,
            ports=ports,
            prefix=self.prefix,
            db_suffix=self.db_suffix,
            replicas=replicas,
            extra_env=extra_env,
            extra_args=extra_args,
        )
        self.supervisor = kxsystem.Supervisor(
            svcs, self.cfg, self.logs, cwd=self.logs, base_env={**os.environ, **(raw_env or {})}
        )

    # -- processes ------------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self.supervisor.services)

    def start(self, name: str | None = None) -> None:
        self.supervisor.start(name)

    def stop(self, name: str) -> int | None:
        return self.supervisor.stop(name)

    def kill(self, name: str) -> None:
        self.supervisor.kill(name)

    def restart(self, name: str, *, hard: bool = False) -> None:
        self.supervisor.restart(name, hard=hard)

    def stop_all(self) -> dict[str, int | None]:
        return self.supervisor.stop_all()

    def pid(self, name: str) -> int:
        return self.supervisor.procs[name].pid

    # -- addresses, settings, logs ---------------------------------------------------------------
    def url(self, name: str) -> str:
        return self.supervisor.services[name].url

    def env(self, name: str) -> dict[str, str]:
        """The full process environment of ``name`` (settings with their prefix)."""
        return self.supervisor.env(name)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def databases(self) -> list[str]:
        return [f"kxflow_{svc}{self.db_suffix}" for svc in ("router", "kartra", "xero")]

    def log_path(self, name: str) -> Path:
        return self.supervisor.log_path(name)

    def log_lines(self, name: str | None = None) -> list[str]:
        names = [name] if name else self.names
        out: list[str] = []
        for n in names:
            path = self.log_path(n)
            if path.exists():
                out += path.read_text(errors="replace").splitlines()
        return out

    def describe(self, lines: int = 40) -> str:
        """Log tails of every process (shown when a system test fails)."""
        parts = [f"system logs in {self.logs}"]
        for n in self.names:
            parts.append(f"--- {n} ---\n{kxsystem.log_tail(self.log_path(n), lines)}")
        return "\n".join(parts)

    def drop_databases(self) -> None:
        from pymongo import MongoClient

        with MongoClient(self.mongodb_url, serverSelectionTimeoutMS=5000) as client:
            for db in self.databases:
                client.drop_database(db)


@contextmanager
def running_system(kafka_bootstrap: str, mongodb_url: str, **options: Any) -> Iterator[System]:
    """Start every process (health-checked), yield, then SIGTERM all and drop the databases.

    On an exception the log tails are printed (pytest shows them with the failure) and the log
    folder is kept; on success it is removed.
    """
    system = System(kafka_bootstrap, mongodb_url, **options)
    ok = False
    try:
        system.start()
        yield system
        ok = True
    finally:
        system.stop_all()
        if not ok:
            print(system.describe(), file=sys.stderr)
        try:
            system.drop_databases()
        finally:
            if ok and "logs" not in options:
                shutil.rmtree(system.logs, ignore_errors=True)
