"""`make run`: the whole of kxflow on this machine, as separate processes.

Brings up Kafka and FerretDB (deploy/local/infra.sh), then the Kartra and Xero sandboxes, the two
gateways and the router, each health-checked, logs in ``logs/``, URLs printed. Ctrl-C (or SIGTERM)
stops every process it started, in reverse order.

Settings come from the environment and a ``.env`` file at the repo root (see
``deploy/local/example.env``): point the gateways at real Kartra and Xero there and set
``KXFLOW_SANDBOXES=false`` to run without the sandboxes.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("KXFLOW_CACHE", Path.home() / ".cache" / "kxflow"))
DEV_TOKEN = "kxflow-dev-token"
DEV_TENANT = "demo"


@dataclass
class Service:
    name: str
    module: str
    port: int
    env_prefix: str = ""
    env: dict[str, str] = field(default_factory=dict)
    ready_path: str = "/readyz"
    sandbox: bool = False
    args: list[str] = field(default_factory=list)


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


def infra(command: str) -> dict[str, str]:
    proc = subprocess.run(
        [str(ROOT / "deploy/local/infra.sh"), command], capture_output=True, text=True, check=False
    )
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"infra.sh {command} failed (exit {proc.returncode})")
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def services(cfg: dict[str, str]) -> list[Service]:
    kafka, mongo = cfg["KAFKA_BOOTSTRAP_SERVERS"], cfg["MONGODB_URL"]
    key = cfg.get("KXFLOW_SECRET_KEYS") or dev_secret_key()
    tokens = cfg.get("KXFLOW_API_TOKENS", f"{DEV_TOKEN}:{DEV_TENANT}")
    kartra_sb, xero_sb = "http://127.0.0.1:8120", "http://127.0.0.1:8130"
    common = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "MONGODB_URL": mongo,
        "API_TOKENS": tokens,
        "SECRET_KEYS": key,
        "LOG_JSON": "true",
    }
    if cfg.get("KXFLOW_OTLP_ENDPOINT"):
        common["OTLP_ENDPOINT"] = cfg["KXFLOW_OTLP_ENDPOINT"]
    sandboxes = cfg.get("KXFLOW_SANDBOXES", "true").lower() != "false"
    out: list[Service] = []
    if sandboxes:
        out += [
            Service(
                "kartra-sandbox", "kxflow_sandboxes.kartra", 8120, ready_path="/_sandbox/calls", sandbox=True
            ),
            Service(
                "xero-sandbox",
                "kxflow_sandboxes.xero",
                8130,
                ready_path="/_sandbox/stats",
                sandbox=True,
                args=["--webhook-url", "http://127.0.0.1:8030/v1/webhooks/xero"],
            ),
        ]
    kartra_env = {**common, "HTTP_PORT": "8020", "PUBLIC_BASE_URL": "http://127.0.0.1:8020"}
    xero_env = {**common, "HTTP_PORT": "8030", "PUBLIC_URL": "http://127.0.0.1:8030"}
    if sandboxes:
        # The sandboxes' well-known demo credentials (tests/sandboxes: SandboxConfig defaults).
        kartra_env["KARTRA_API_URL"] = f"{kartra_sb}/api"
        xero_env.update(
            {
                "API_BASE_URL": xero_sb,
                "IDENTITY_BASE_URL": xero_sb,
                "LOGIN_BASE_URL": xero_sb,
                "CLIENT_ID": "kxflow-demo-client",
                "CLIENT_SECRET": "kxflow-demo-secret-0123456789",
                "WEBHOOK_KEY": "kxflow-webhook-key-0123456789abcdef",
            }
        )
    out += [
        Service("kartra-gateway", "kartra_gateway", 8020, "KARTRA_GW_", kartra_env),
        Service("xero-gateway", "xero_gateway", 8030, "XERO_GW_", xero_env),
        Service(
            "router",
            "zap_router",
            8010,
            "ROUTER_",
            {
                **common,
                "HTTP_PORT": "8010",
                "KARTRA_GATEWAY_URL": "http://127.0.0.1:8020",
                "XERO_GATEWAY_URL": "http://127.0.0.1:8030",
            },
        ),
    ]
    return out


def process_env(svc: Service, cfg: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    env.update({f"{svc.env_prefix}{k}": v for k, v in svc.env.items()})
    # Anything in .env with this service's prefix wins (e.g. real Kartra/Xero URLs and credentials).
    env.update({k: v for k, v in cfg.items() if svc.env_prefix and k.startswith(svc.env_prefix)})
    env.setdefault("XERO_OPENAPI_DIR", str((ROOT.parent / "shared" / "specs" / "xero").resolve()))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def wait_ready(svc: Service, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    url = f"http://127.0.0.1:{svc.port}{svc.ready_path}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise SystemExit(f"{svc.name} exited with {proc.returncode} during start:\n{tail}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise SystemExit(f"{svc.name} not ready at {url} after {timeout:.0f}s (log: {log})")


def stop(procs: list[tuple[Service, subprocess.Popen]], timeout: float = 20.0) -> None:
    for _, proc in reversed(procs):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for svc, proc in reversed(procs):
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"  {svc.name} did not stop in time; killing", file=sys.stderr)
            proc.kill()
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--logs", default=str(ROOT / "logs"))
    parser.add_argument("--keep-infra", action="store_true", help="leave Kafka and FerretDB running on exit")
    args = parser.parse_args()

    cfg = {**read_dotenv(ROOT / ".env"), **{k: v for k, v in os.environ.items() if k.startswith("KXFLOW_")}}
    was_up = (
        subprocess.run([str(ROOT / "deploy/local/infra.sh"), "status"], capture_output=True).returncode == 0
    )
    cfg.update(infra("up"))
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    procs: list[tuple[Service, subprocess.Popen]] = []

    def on_signal(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        for svc in services(cfg):
            log = logs / f"{svc.name}.log"
            fh = log.open("ab")
            cmd = [sys.executable, "-m", svc.module]
            if svc.sandbox:
                cmd += ["--port", str(svc.port), *svc.args]
            proc = subprocess.Popen(
                cmd, cwd=ROOT, env=process_env(svc, cfg), stdout=fh, stderr=subprocess.STDOUT
            )
            procs.append((svc, proc))
            print(f"  starting {svc.name:<15} pid {proc.pid:<7} log {log}", flush=True)
            wait_ready(svc, proc, log)
        print("\nkxflow is up:")
        print(f"  Kafka            {cfg['KAFKA_BOOTSTRAP_SERVERS']}")
        print(f"  MongoDB (wire)   {cfg['MONGODB_URL']}")
        for svc, _ in procs:
            print(
                f"  {svc.name:<16} http://127.0.0.1:{svc.port}"
                + ("" if svc.sandbox else "   (API docs: /docs)")
            )
        print(f"\n  admin token: {DEV_TOKEN} (tenant {DEV_TENANT})   logs: {logs}")
        print("  next: make demo      stop: Ctrl-C\n", flush=True)
        while True:
            for svc, proc in procs:
                if proc.poll() is not None:
                    raise SystemExit(
                        f"{svc.name} exited with {proc.returncode}; see {logs / (svc.name + '.log')}"
                    )
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nstopping kxflow…", flush=True)
    finally:
        stop(procs)
        if not was_up and not args.keep_infra:
            infra("down")
        print("stopped.", flush=True)


if __name__ == "__main__":
    main()
