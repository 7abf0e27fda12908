"""deploy/compose.yaml cannot be run here (no Docker), so its wiring is checked statically: every
reference points at something that exists, every variable is a real setting, and the kxflow
containers run hardened as on Kubernetes."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from deploy.deploy_dockerfiles import REPO_ROOT, parse
from deploy.service_facts import SERVICES, settings_fields, unknown_settings

COMPOSE_FILE = REPO_ROOT / "deploy" / "compose.yaml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
DEFINED = COMPOSE["services"]
BUILT = {name: svc for name, svc in DEFINED.items() if "build" in svc}
SANDBOX_PORTS = {"kartra-sandbox": 8120, "xero-sandbox": 8130}
REQUIRED_VARIABLE = re.compile(r"\$\{(\w+):\?[^}]*\}")
DEFAULTED_VARIABLE = re.compile(r"\$\{(\w+):-([^}]*)\}")


def _dockerfile(svc: dict) -> Path:
    build = svc["build"]
    return (COMPOSE_FILE.parent / build["context"] / build["dockerfile"]).resolve()


def _container_port(name: str) -> int:
    if name in SERVICES:
        return SERVICES[name][0]
    if name in SANDBOX_PORTS:
        return SANDBOX_PORTS[name]
    if name == "mongo":
        return 27017
    if name == "kafka":
        listeners = DEFINED["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
        internal = next(url for url in listeners.split(",") if url.startswith("INTERNAL://"))
        return int(internal.rsplit(":", 1)[1])
    raise AssertionError(f"no known port for {name}")


def _resolve_defaults(value: str) -> str:
    return DEFAULTED_VARIABLE.sub(lambda m: m.group(2), value)


def test_the_stack_has_every_part() -> None:
    assert set(DEFINED) == {
        "kafka",
        "mongo",
        "router",
        "kartra-gateway",
        "xero-gateway",
        "kartra-sandbox",
        "xero-sandbox",
    }
    assert DEFINED["kafka"]["image"].startswith("apache/kafka:4.")
    assert DEFINED["mongo"]["image"] == "mongo:7"
    assert "controller" in DEFINED["kafka"]["environment"]["KAFKA_PROCESS_ROLES"], "KRaft, no ZooKeeper"


def test_every_build_uses_an_existing_dockerfile() -> None:
    for name, svc in BUILT.items():
        path = _dockerfile(svc)
        assert path.is_file(), f"{name}: {path} does not exist"
        assert (COMPOSE_FILE.parent / svc["build"]["context"]).resolve() == REPO_ROOT, "context = repo root"


def test_dependencies_exist_and_health_conditions_have_a_healthcheck() -> None:
    for name, svc in DEFINED.items():
        for dep, spec in svc.get("depends_on", {}).items():
            assert dep in DEFINED, f"{name} depends on undefined {dep}"
            if spec.get("condition") == "service_healthy":
                has_check = "healthcheck" in DEFINED[dep] or (
                    dep in BUILT and parse(_dockerfile(DEFINED[dep]).read_text())[1][-1].all("HEALTHCHECK")
                )
                assert has_check, f"{name} waits for {dep} to be healthy, but {dep} has no healthcheck"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_env_names_are_real_settings(service: str) -> None:
    env = DEFINED[service]["environment"]
    assert unknown_settings(service, list(env), settings_fields()) == []
    prefix = SERVICES[service][1]
    for suffix in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URL", "API_TOKENS", "SECRET_KEYS"):
        assert prefix + suffix in env, f"{service} lacks {prefix}{suffix}"


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_service_env_points_at_services_that_exist(service: str) -> None:
    svc = DEFINED[service]
    for key, raw in svc["environment"].items():
        value = _resolve_defaults(str(raw))
        if key.endswith("KAFKA_BOOTSTRAP_SERVERS"):
            for hostport in value.split(","):
                host, port = hostport.rsplit(":", 1)
                assert host in DEFINED and int(port) == _container_port(host), f"{key}={value}"
                assert host in svc["depends_on"]
        elif "://" in value and not key.endswith(("PUBLIC_URL", "PUBLIC_BASE_URL", "LOGIN_BASE_URL")):
            url = urlsplit(value)
            assert url.hostname in DEFINED, f"{service}: {key}={value} names no compose service"
            assert url.port == _container_port(url.hostname), f"{service}: {key}={value} has the wrong port"
            assert url.hostname in svc["depends_on"], (
                f"{service} calls {url.hostname} without depending on it"
            )


def test_browser_facing_urls_use_published_ports() -> None:
    for service in SERVICES:
        for key, raw in DEFINED[service]["environment"].items():
            if key.endswith(("PUBLIC_URL", "PUBLIC_BASE_URL", "LOGIN_BASE_URL")):
                url = urlsplit(_resolve_defaults(str(raw)))
                owners = [
                    n for n, s in DEFINED.items() if f"{url.port}:{url.port}" in " ".join(s.get("ports", []))
                ]
                assert url.hostname == "127.0.0.1" and owners, (
                    f"{service}: {key} is not reachable from the host"
                )


def test_secrets_are_required_from_the_environment_not_written_down() -> None:
    for service in SERVICES:
        env = DEFINED[service]["environment"]
        prefix = SERVICES[service][1]
        for suffix in ("API_TOKENS", "SECRET_KEYS"):
            assert REQUIRED_VARIABLE.fullmatch(env[prefix + suffix]), (
                f"{prefix}{suffix} must be ${{VAR:?...}}"
            )


def test_kxflow_containers_are_hardened_like_on_kubernetes() -> None:
    for name, svc in BUILT.items():
        assert svc["read_only"] is True, name
        assert svc["user"] == "10001:10001", name
        assert svc["tmpfs"] == ["/tmp"], name
        assert svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name


@pytest.mark.parametrize("sandbox", sorted(SANDBOX_PORTS))
def test_sandbox_commands_run_existing_modules_on_their_ports(sandbox: str) -> None:
    command = DEFINED[sandbox]["command"]
    module = command[0]
    assert importlib.util.find_spec(module) is not None, f"{module} is not importable"
    assert importlib.util.find_spec(f"{module}.__main__") is not None, f"{module} has no __main__"
    assert command[command.index("--host") + 1] == "0.0.0.0"
    port = int(command[command.index("--port") + 1])
    assert port == SANDBOX_PORTS[sandbox] == int(DEFINED[sandbox]["environment"]["SANDBOX_PORT"])
    assert f"127.0.0.1:{port}:{port}" in DEFINED[sandbox]["ports"]


def test_xero_sandbox_mounts_the_shared_openapi_documents_read_only() -> None:
    sandbox = DEFINED["xero-sandbox"]
    (volume,) = sandbox["volumes"]
    source, target, mode = _resolve_defaults(volume).split(":")
    assert mode == "ro" and target == sandbox["environment"]["XERO_OPENAPI_DIR"]
    assert (COMPOSE_FILE.parent / source).resolve() == (
        REPO_ROOT.parent / "shared" / "specs" / "xero"
    ).resolve()


def test_xero_webhooks_reach_the_gateway() -> None:
    command = DEFINED["xero-sandbox"]["command"]
    url = urlsplit(command[command.index("--webhook-url") + 1])
    assert url.hostname == "xero-gateway" and url.port == SERVICES["xero-gateway"][0]
    assert url.path == "/v1/webhooks/xero"
