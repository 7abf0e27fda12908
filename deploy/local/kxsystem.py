"""The whole of kxflow as OS processes: the one definition of how each service is started and wired.

Used by ``make run`` (``deploy/local/run.py``, fixed ports, ``logs/``) and by the system tests
(``tests/system_harness.py``: free ports, a unique topic prefix and database names, logs in a temp
folder), so the wiring exists once. A :class:`Supervisor` starts processes, waits for their health
routes with a deadline, and stops (SIGTERM), kills (SIGKILL) or restarts any one of them; a
:class:`Keeper` restarts the ones that die, with a back-off (``make run``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("KXFLOW_CACHE", Path.home() / ".cache" / "kxflow"))
DEV_TOKEN = "kxflow-dev-token"
DEV_TENANT = "demo"

# docs/conventions.md: the local default ports.
DEFAULT_PORTS: dict[str, int] = {
    "kartra-sandbox": 8120,
    "xero-sandbox": 8130,
    "kartra-gateway": 8020,
    "xero-gateway": 8030,
    "router": 8010,
}
# The sandboxes' well-known demo credentials (tests/sandboxes: SandboxConfig defaults).
SANDBOX_XERO_CLIENT_ID = "kxflow-demo-client"
SANDBOX_XERO_CLIENT_SECRET = "kxflow-demo-secret-0123456789"
SANDBOX_XERO_WEBHOOK_KEY = "kxflow-webhook-key-0123456789abcdef"


@dataclass
class Service:
    """One process. ``kind`` is the service (``router``); ``name`` is unique (``router-2``)."""

    name: str
    kind: str
    module: str
    port: int
    env_prefix: str = ""
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/readyz"
    sandbox: bool = False
    args: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def command(self, python: str = sys.executable) -> list[str]:
        cmd = [python, "-m", self.module]
        if self.sandbox:
            cmd += ["--port", str(self.port), *self.args]
        return cmd


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (comments and blanks ignored; optional quotes stripped)."""
    out: dict[str, str] = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def dev_secret_key() -> str:
    """A Fernet key for local runs, generated once and kept in the cache (never in the repo)."""
    path = CACHE / "dev-secret-key"
    if not path.exists():
        from cryptography.fernet import Fernet

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(Fernet.generate_key().decode())
        tmp.chmod(0o600)
        tmp.replace(path)
    return path.read_text().strip()


def _replica_names(kind: str, count: int) -> list[str]:
    return [kind if i == 0 else f"{kind}-{i + 1}" for i in range(count)]


def services(
    cfg: Mapping[str, str],
    *,
    ports: Mapping[str, int] | None = None,
    prefix: str | None = None,
    db_suffix: str = "",
    replicas: Mapping[str, int] | None = None,
    extra_env: Mapping[str, Mapping[str, str]] | None = None,
    extra_args: Mapping[str, Iterable[str]] | None = None,
    state_dir: Path | None = None,
) -> list[Service]:
    """Every process of the system, in start order.

    ``cfg``: ``KAFKA_BOOTSTRAP_SERVERS``, ``MONGODB_URL`` and the optional ``KXFLOW_*`` keys
    (``KXFLOW_SECRET_KEYS``, ``KXFLOW_API_TOKENS``, ``KXFLOW_OTLP_ENDPOINT``, ``KXFLOW_SANDBOXES``).
    ``ports``: by process name (a replica ``router-2`` without one gets its kind's port + index).
    ``prefix``: topic prefix for every service; ``db_suffix`` is appended to every database name.
    ``replicas``: by kind, e.g. ``{"router": 2}`` (same group and database, distinct ports).
    ``extra_env``: by kind, or ``"*"`` for every service; keys without the service's env prefix
    (``{"xero-gateway": {"CLOCK_SPEED": "60"}}``). ``extra_args``: command-line args by kind
    (sandboxes: ``{"xero-sandbox": ["--clock-speed", "60"]}``). ``state_dir``: where the Xero
    sandbox keeps its organisations, grants and tokens across restarts (``make run``: beside
    FerretDB's data, which holds the gateway's connections to them); without it, it starts empty.
    """
    ports = {**DEFAULT_PORTS, **(ports or {})}
    replicas = replicas or {}
    extra_env = extra_env or {}

    def port(name: str, kind: str, index: int) -> int:
        return ports.get(name, ports[kind] + index)

    kafka, mongo = cfg["KAFKA_BOOTSTRAP_SERVERS"], cfg["MONGODB_URL"]
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "MONGODB_URL": mongo,
        "API_TOKENS": cfg.get("KXFLOW_API_TOKENS") or f"{DEV_TOKEN}:{DEV_TENANT}",
        "SECRET_KEYS": cfg.get("KXFLOW_SECRET_KEYS") or dev_secret_key(),
        "LOG_JSON": "true",
    }
    if prefix:
        common["TOPIC_PREFIX"] = prefix
    if cfg.get("KXFLOW_OTLP_ENDPOINT"):
        common["OTLP_ENDPOINT"] = cfg["KXFLOW_OTLP_ENDPOINT"]
    with_sandboxes = cfg.get("KXFLOW_SANDBOXES", "true").lower() != "false"
    kartra_url = f"http://127.0.0.1:{ports['kartra-gateway']}"
    xero_url = f"http://127.0.0.1:{ports['xero-gateway']}"
    kartra_sb = f"http://127.0.0.1:{ports['kartra-sandbox']}"
    xero_sb = f"http://127.0.0.1:{ports['xero-sandbox']}"

    kartra_env = {**common, "MONGODB_DATABASE": f"kxflow_kartra{db_suffix}", "PUBLIC_BASE_URL": kartra_url}
    xero_env = {**common, "MONGODB_DATABASE": f"kxflow_xero{db_suffix}", "PUBLIC_URL": xero_url}
    router_env = {
        **common,
        "MONGODB_DATABASE": f"kxflow_router{db_suffix}",
        "KARTRA_GATEWAY_URL": kartra_url,
        "XERO_GATEWAY_URL": xero_url,
    }
    out: list[Service] = []
    if with_sandboxes:
        kartra_env["KARTRA_API_URL"] = f"{kartra_sb}/api"
        xero_env.update(
            {
                "API_BASE_URL": xero_sb,
                "IDENTITY_BASE_URL": xero_sb,
                "LOGIN_BASE_URL": xero_sb,
                "CLIENT_ID": SANDBOX_XERO_CLIENT_ID,
                "CLIENT_SECRET": SANDBOX_XERO_CLIENT_SECRET,
                "WEBHOOK_KEY": SANDBOX_XERO_WEBHOOK_KEY,
            }
        )
        out += [
            Service(
                "kartra-sandbox",
                "kartra-sandbox",
                "kxflow_sandboxes.kartra",
                ports["kartra-sandbox"],
                ready_path="/_sandbox/calls",
                sandbox=True,
            ),
            Service(
                "xero-sandbox",
                "xero-sandbox",
                "kxflow_sandboxes.xero",
                ports["xero-sandbox"],
                ready_path="/_sandbox/stats",
                sandbox=True,
                args=[
                    "--webhook-url",
                    f"{xero_url}/v1/webhooks/xero",
                    *(["--state-file", str(state_dir / "xero-sandbox.json")] if state_dir else []),
                ],
            ),
        ]
    for kind, module, prefix_, env in (
        ("kartra-gateway", "kartra_gateway", "KARTRA_GW_", kartra_env),
        ("xero-gateway", "xero_gateway", "XERO_GW_", xero_env),
        ("router", "zap_router", "ROUTER_", router_env),
    ):
        count = replicas.get(kind, 1)
        # As the Helm chart does: replicated gateways count their upstream limits together.
        shared = {"SHARED_RATE_LIMITS": "true"} if count > 1 and kind != "router" else {}
        for i, name in enumerate(_replica_names(kind, count)):
            p = port(name, kind, i)
            out.append(Service(name, kind, module, p, prefix_, {**env, **shared, "HTTP_PORT": str(p)}))
    for svc in out:
        svc.env.update(extra_env.get("*", {}) if not svc.sandbox else {})
        svc.env.update(extra_env.get(svc.kind, {}))
        svc.args += list((extra_args or {}).get(svc.kind, ()))
    return out


def process_env(
    svc: Service, cfg: Mapping[str, str], base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment of ``svc``'s process: ``base`` (default: ours), its settings, then any key of
    ``cfg`` (the ``.env`` file) with its prefix — e.g. real Kartra/Xero URLs and credentials."""
    env = dict(os.environ if base is None else base)
    env.update({f"{svc.env_prefix}{k}": v for k, v in svc.env.items()})
    env.update({k: v for k, v in cfg.items() if svc.env_prefix and k.startswith(svc.env_prefix)})
    env.setdefault("XERO_OPENAPI_DIR", str((ROOT.parent / "shared" / "specs" / "xero").resolve()))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class StartError(RuntimeError):
    """A process exited during start or did not become ready in time (message has its log tail)."""


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return ""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class Supervisor:
    """Starts, health-checks, stops, kills and restarts the processes of :func:`services`."""

    def __init__(
        self,
        svcs: Iterable[Service],
        cfg: Mapping[str, str],
        logs: Path,
        *,
        cwd: Path = ROOT,
        base_env: Mapping[str, str] | None = None,
        ready_timeout: float = 90.0,
    ) -> None:
        self.services = {s.name: s for s in svcs}
        self.cfg = dict(cfg)
        self.logs = logs
        self.cwd = cwd
        self.base_env = base_env
        self.ready_timeout = ready_timeout
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._files: dict[str, IO[bytes]] = {}
        logs.mkdir(parents=True, exist_ok=True)

    def log_path(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def env(self, name: str) -> dict[str, str]:
        return process_env(self.services[name], self.cfg, self.base_env)

    def spawn(self, name: str) -> subprocess.Popen[bytes]:
        """Start the process without waiting for it to be ready."""
        svc = self.services[name]
        old = self.procs.get(name)
        if old is not None and old.poll() is None:
            raise RuntimeError(f"{name} is already running (pid {old.pid})")
        fh = self._files.get(name) or self.log_path(name).open("ab")
        self._files[name] = fh
        proc = subprocess.Popen(
            svc.command(), cwd=self.cwd, env=self.env(name), stdout=fh, stderr=subprocess.STDOUT
        )
        self.procs[name] = proc
        return proc

    def wait_ready(self, name: str, timeout: float | None = None) -> None:
        svc, proc = self.services[name], self.procs[name]
        url = f"{svc.url}{svc.ready_path}"
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise StartError(
                    f"{name} exited with {proc.returncode} during start:\n{log_tail(self.log_path(name))}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)  # polling interval of a health check with a deadline
        raise StartError(
            f"{name} not ready at {url} after {timeout or self.ready_timeout:.0f}s:\n"
            f"{log_tail(self.log_path(name))}"
        )

    def start(self, name: str | None = None, *, on_start: object = None) -> None:
        """Start one process, or all (launched together, then each waited for), health-checked."""
        names = [name] if name else list(self.services)
        for n in names:
            proc = self.spawn(n)
            if callable(on_start):
                on_start(self.services[n], proc, self.log_path(n))
        for n in names:
            self.wait_ready(n)

    def stop(self, name: str, timeout: float = 20.0) -> int | None:
        """SIGTERM and wait (SIGKILL after ``timeout``); the exit code."""
        proc = self.procs.get(name)
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        return proc.returncode

    def kill(self, name: str) -> None:
        """SIGKILL: the crash a fault drill wants (no shutdown hooks run)."""
        proc = self.procs[name]
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    def restart(self, name: str, *, hard: bool = False) -> None:
        self.kill(name) if hard else self.stop(name)
        self.start(name)

    def stop_all(self, timeout: float = 20.0) -> dict[str, int | None]:
        """SIGTERM every process (reverse start order), then wait for all within one deadline."""
        running = [n for n in reversed(list(self.procs)) if self.procs[n].poll() is None]
        for n in running:
            self.procs[n].send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for n in reversed(list(self.procs)):
            proc = self.procs[n]
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                print(f"  {n} did not stop in time; killing", file=sys.stderr)
                proc.kill()
                proc.wait()
            codes[n] = proc.returncode
        for fh in self._files.values():
            fh.close()
        self._files.clear()
        return codes

    def exited(self) -> dict[str, int]:
        """Processes that have exited on their own: name → exit code."""
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}


@dataclass
class BackOff:
    """Delays between restarts of one process: ``first``, then ×``factor`` up to ``cap``; a process
    that stayed up ``healthy_after`` seconds starts again from ``first`` when it next dies."""

    first: float = 1.0
    factor: float = 2.0
    cap: float = 30.0
    healthy_after: float = 60.0


class Keeper:
    """Keeps a :class:`Supervisor`'s processes running, as compose's ``restart: unless-stopped``
    does: a process that exits is started again after a back-off, and each step is said.

    Call :meth:`tick` periodically (``make run`` does every second). It never blocks on a
    health check: a restarted process that dies again is simply seen dead at a later tick.
    """

    def __init__(
        self,
        sup: Supervisor,
        backoff: BackOff | None = None,
        say: Callable[[str], None] = print,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sup = sup
        self.backoff = backoff or BackOff()
        self.say = say
        self.clock = clock
        self.restarts: dict[str, int] = {}
        self._started = {name: clock() for name in sup.procs}
        self._delay: dict[str, float] = {}
        self._due: dict[str, float] = {}

    def _next_delay(self, name: str, now: float) -> float:
        ran = now - self._started.get(name, now)
        prev = self._delay.get(name)
        delay = (
            self.backoff.first
            if prev is None or ran >= self.backoff.healthy_after
            else min(self.backoff.cap, prev * self.backoff.factor)
        )
        self._delay[name] = delay
        return delay

    def tick(self) -> None:
        now = self.clock()
        for name, code in self.sup.exited().items():
            due = self._due.get(name)
            if due is None:
                delay = self._next_delay(name, now)
                self._due[name] = now + delay
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self.say(
                    f"  {name} exited with {code}; restarting in {delay:g}s "
                    f"(restart {self.restarts[name]}; log {self.sup.log_path(name)})"
                )
            elif now >= due:
                del self._due[name]
                proc = self.sup.spawn(name)
                self._started[name] = self.clock()
                self.say(f"  {name} restarted (pid {proc.pid})")
