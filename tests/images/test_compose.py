"""deploy/compose.yaml run by podman-compose against the images `make images` built.

The file's Kafka and MongoDB images cannot be pulled here, so a test override (written below)
puts the session's Kafka and FerretDB in their place and runs every service on the host network
(podman's health checks, which ``depends_on: service_healthy`` waits for, need systemd); the
kxflow services keep the file's own definitions: images, uid, read-only root, /tmp tmpfs,
capabilities, secrets from the environment, grace period. Then the demo runs against them."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from container_harness import images
from system_harness import ROOT
from waiting import wait_for

pytestmark = pytest.mark.timeout(900)

COMPOSE = ROOT / "deploy" / "compose.yaml"
PODMAN_COMPOSE = ["uv", "tool", "run", "--from", "podman-compose==1.6.0", "podman-compose"]
PORTS = {
    "router": 8010,
    "kartra-gateway": 8020,
    "xero-gateway": 8030,
    "kartra-sandbox": 8120,
    "xero-sandbox": 8130,
}
READY = {"kartra-sandbox": "/_sandbox/calls", "xero-sandbox": "/_sandbox/stats"}


def override(kafka: str, mongo: str, ns: str) -> str:
    local = "http://127.0.0.1"
    idle = {
        "image": "localhost/kxflow/sandboxes:dev",
        "entrypoint": ["python", "-c", "import time; time.sleep(3600)"],
        "network_mode": "host",
        "stop_signal": "SIGKILL",  # a sleeping PID 1 ignores SIGTERM: do not wait out its grace
    }
    infra = {"KAFKA_BOOTSTRAP_SERVERS": kafka, "MONGODB_URL": mongo, "TOPIC_PREFIX": f"{ns}."}
    gateways = {
        "kartra-gateway": ("KARTRA_GW_", "kartra", {"KARTRA_API_URL": f"{local}:8120/api"}),
        "xero-gateway": (
            "XERO_GW_",
            "xero",
            {"API_BASE_URL": f"{local}:8130", "IDENTITY_BASE_URL": f"{local}:8130"},
        ),
        "router": (
            "ROUTER_",
            "router",
            {"KARTRA_GATEWAY_URL": f"{local}:8020", "XERO_GATEWAY_URL": f"{local}:8030"},
        ),
    }
    services: dict[str, dict] = {"kafka": dict(idle), "mongo": dict(idle)}
    for name, (prefix, db, env) in gateways.items():
        settings = {**infra, "MONGODB_DATABASE": f"kxflow_{db}_{ns}", **env}
        services[name] = {
            "network_mode": "host",
            "environment": {prefix + k: v for k, v in settings.items()},
        }
    services["kartra-sandbox"] = {"network_mode": "host"}
    services["xero-sandbox"] = {"network_mode": "host"}
    text = yaml.safe_dump({"services": services}, sort_keys=False)
    # Tags yaml.safe_dump cannot write: drop what the host network and the stand-ins make moot.
    resets = {
        "kafka": ["healthcheck", "ports"],
        "mongo": ["healthcheck", "ports", "volumes"],
        "kartra-sandbox": ["ports"],
        "xero-sandbox": ["ports"],
        "kartra-gateway": ["ports", "depends_on"],
        "xero-gateway": ["ports", "depends_on"],
        "router": ["ports", "depends_on"],
    }
    commands = {
        "kartra-sandbox": ["kxflow_sandboxes.kartra", "--host", "127.0.0.1", "--port", "8120"],
        "xero-sandbox": [
            "kxflow_sandboxes.xero", "--host", "127.0.0.1", "--port", "8130",
            "--webhook-url", f"{local}:8030/v1/webhooks/xero",
        ],
    }  # fmt: skip
    lines = []
    for line in text.splitlines():
        lines.append(line)
        name = line.strip().rstrip(":")
        if line.startswith("  ") and not line.startswith("    ") and name in resets:
            lines += [f"    {key}: !reset {{}}" for key in resets[name]]
            if name in commands:
                lines.append(f"    command: !override {json.dumps(commands[name])}")
    return "\n".join(lines) + "\n"


def compose(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PODMAN_COMPOSE, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


async def test_the_compose_file_runs_with_podman_compose_and_the_demo_works(
    built: list, kafka_bootstrap: str, mongodb_url: str, tmp_path: Path
) -> None:
    from cryptography.fernet import Fernet

    ns = f"kxc{secrets.token_hex(3)}"
    token = f"tok-{secrets.token_urlsafe(18)}"
    path = tmp_path / "override.yaml"
    path.write_text(override(kafka_bootstrap, mongodb_url, ns))
    env = {
        **images.podman_env(),
        "KXFLOW_API_TOKENS": f"{token}:tenant-{ns}",
        "KXFLOW_SECRET_KEYS": Fernet.generate_key().decode(),
        "XERO_OPENAPI_DIR": str((ROOT.parent / "shared" / "specs" / "xero").resolve()),
    }
    files = ["-p", ns, "-f", str(COMPOSE), "-f", str(path)]
    try:
        up = await asyncio.to_thread(compose, [*files, "up", "-d"], env)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]

        async def all_ready() -> bool:
            urls = [f"http://127.0.0.1:{port}{READY.get(name, '/readyz')}" for name, port in PORTS.items()]
            return all([await asyncio.to_thread(images.http_ok, url) for url in urls])

        await wait_for(all_ready, timeout=120, interval=0.5, message="every compose service ready")
        router = json.loads(images.podman("inspect", f"{ns}_router_1").stdout)[0]
        host = router["HostConfig"]
        assert host["ReadonlyRootfs"] is True and router["Config"]["User"] == "10001:10001"
        assert "/tmp" in host["Tmpfs"] and host["CapDrop"], host
        args = [a for name, port in PORTS.items() for a in (f"--{name}-url", f"http://127.0.0.1:{port}")]
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "deploy/local/demo.py"), "--json", "--timeout", "90",
            "--token", token, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), timeout=240)
        logs = compose([*files, "logs", "--tail", "20"], env, timeout=60)
        assert proc.returncode == 0, err.decode()[-3000:] + logs.stdout[-4000:]
        assert json.loads(out.decode().strip().splitlines()[-1])["status"] == "succeeded"
    finally:
        down = await asyncio.to_thread(compose, [*files, "down", "-t", str(images.GRACE_S)], env)
        images._drop_databases(mongodb_url, ns)
        assert down.returncode == 0, down.stderr[-2000:]
