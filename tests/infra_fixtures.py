"""The one pytest fixture module for real infrastructure (Kafka and a MongoDB-wire server).

Loaded from tests/conftest.py (``pytest_plugins = ["infra_fixtures"]``). Precedence (DESIGN §7):

1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``MONGODB_URL`` environment variables, if set, are used as given;
2. otherwise the local servers of ``deploy/local/infra.sh`` (Kafka 4.x from jars, FerretDB), started
   at most once per test session, only when a test asks for them. Servers this session started are
   stopped at session end; servers that were already running are left running;
3. ``--infra=testcontainers`` (users with Docker): ``apache/kafka`` and ``mongo:7`` containers.

``--infra=local`` ignores the environment variables and always uses deploy/local/infra.sh.
If the infrastructure cannot be brought up, the tests that need it ERROR with the reason: a missing
server must fail CI, never skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from waiting import wait_for

REPO_ROOT = Path(__file__).resolve().parent.parent
INFRA_SH = REPO_ROOT / "deploy" / "local" / "infra.sh"
PROBE_PY = REPO_ROOT / "deploy" / "local" / "probe.py"
KAFKA_IMAGE = os.environ.get("KXFLOW_KAFKA_IMAGE", "apache/kafka:4.2.0")
MONGO_IMAGE = os.environ.get("KXFLOW_MONGO_IMAGE", "mongo:7")

CreateTopics = Callable[..., Awaitable[list[str]]]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--infra",
        choices=("auto", "local", "testcontainers"),
        default=os.environ.get("KXFLOW_INFRA", "auto"),
        help=(
            "where Kafka/MongoDB come from: auto = KAFKA_BOOTSTRAP_SERVERS/MONGODB_URL env vars, else "
            "deploy/local/infra.sh; local = always deploy/local/infra.sh; testcontainers = Docker"
        ),
    )


# --------------------------------------------------------------------------- providers


class LocalInfra:
    """Starts components through deploy/local/infra.sh and stops only those it started."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.started: list[str] = []

    def ensure(self, component: str) -> str:
        if component not in self.urls:
            # KXFLOW_FRESH: a server this session starts begins with empty storage (servers that
            # are already running are used as they are).
            proc = subprocess.run(
                ["bash", str(INFRA_SH), "up", component],
                capture_output=True,
                text=True,
                check=False,
                env={**os.environ, "KXFLOW_FRESH": "1"},
            )
            if proc.returncode != 0:
                pytest.fail(
                    f"could not start local {component} with `deploy/local/infra.sh up {component}` "
                    f"(exit {proc.returncode}); set KAFKA_BOOTSTRAP_SERVERS / MONGODB_URL to use "
                    f"existing servers.\n--- stderr ---\n{proc.stderr[-4000:]}",
                    pytrace=False,
                )
            env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
            self.started += env.get("KXFLOW_INFRA_STARTED", "").split()
            key = "KAFKA_BOOTSTRAP_SERVERS" if component == "kafka" else "MONGODB_URL"
            self.urls[component] = env[key]
        return self.urls[component]

    def close(self) -> None:
        for component in reversed(self.started):
            subprocess.run(["bash", str(INFRA_SH), "down", component], check=False)
        self.started.clear()


def secured_server(component: str) -> Iterator[dict[str, str]]:
    """An opt-in secured server of deploy/local/infra.sh (``kafka-sasl``, ``mongo-tls``): its
    machine-readable lines as a dict; stopped afterwards if this call started it. Always local
    (whatever --infra says): the jars, FerretDB and openssl are all it needs."""
    proc = subprocess.run(
        ["bash", str(INFRA_SH), "up", component], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        pytest.fail(
            f"could not start `deploy/local/infra.sh up {component}` (exit {proc.returncode})\n"
            f"--- stderr ---\n{proc.stderr[-4000:]}",
            pytrace=False,
        )
    env = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    try:
        yield env
    finally:
        if component in env.get("KXFLOW_INFRA_STARTED", "").split():
            subprocess.run(["bash", str(INFRA_SH), "down", component], check=False)


class ContainerInfra:
    """testcontainers path for Docker users (cannot run on the project's Docker-less machines)."""

    def __init__(self) -> None:
        self.urls: dict[str, str] = {}
        self.containers: list[Any] = []

    def ensure(self, component: str) -> str:
        if component not in self.urls:
            try:
                self.urls[component] = self._start_kafka() if component == "kafka" else self._start_mongo()
            except Exception as exc:  # docker.errors.DockerException and friends
                pytest.fail(
                    f"--infra=testcontainers could not start {component} (needs a reachable Docker "
                    f"daemon): {exc!r}",
                    pytrace=False,
                )
        return self.urls[component]

    def _start_kafka(self) -> str:
        from free_ports import free_port
        from testcontainers.core.container import DockerContainer

        # The advertised listener must be reachable from the host, so the container listens on the
        # same port number that is bound on the host (assumes a local Docker daemon).
        port = free_port()
        container = (
            DockerContainer(KAFKA_IMAGE)
            .with_bind_ports(port, port)
            .with_env("CLUSTER_ID", "kxflowTestsCluster0001")
            .with_env("KAFKA_NODE_ID", "1")
            .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
            .with_env("KAFKA_LISTENERS", f"PLAINTEXT://0.0.0.0:{port},CONTROLLER://0.0.0.0:9093")
            .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{port}")
            .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
            .with_env("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT")
            .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
            .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
            .with_env("KAFKA_OFFSETS_TOPIC_NUM_PARTITIONS", "3")
            .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
            .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
            .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
            .with_env("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "false")
            .with_env("KAFKA_NUM_PARTITIONS", "3")
        )
        container.start()
        self.containers.append(container)
        bootstrap = f"127.0.0.1:{port}"
        _wait_probe("kafka", bootstrap, timeout=120)
        return bootstrap

    def _start_mongo(self) -> str:
        try:
            from testcontainers.community.mongodb import MongoDbContainer
        except ImportError:  # testcontainers < 4.15
            from testcontainers.mongodb import MongoDbContainer

        container = MongoDbContainer(MONGO_IMAGE)
        container.start()
        self.containers.append(container)
        return container.get_connection_url().rstrip("/") + "/?directConnection=true"

    def close(self) -> None:
        for container in reversed(self.containers):
            container.stop()
        self.containers.clear()


def _wait_probe(component: str, address: str, timeout: float) -> None:
    import time

    deadline = time.monotonic() + timeout
    while True:
        proc = subprocess.run(
            [sys.executable, str(PROBE_PY), component, address], capture_output=True, text=True, check=False
        )
        if proc.returncode == 0:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{component} at {address} not ready after {timeout}s: {proc.stderr}", pytrace=False)
        time.sleep(0.5)  # polling a subprocess probe, not synchronising a test


@pytest.fixture(scope="session")
def _infra(request: pytest.FixtureRequest) -> Iterator[LocalInfra | ContainerInfra]:
    mode = request.config.getoption("--infra")
    provider: LocalInfra | ContainerInfra = ContainerInfra() if mode == "testcontainers" else LocalInfra()
    try:
        yield provider
    finally:
        provider.close()


def _resolve(request: pytest.FixtureRequest, infra: LocalInfra | ContainerInfra, env: str, name: str) -> str:
    if request.config.getoption("--infra") == "auto" and os.environ.get(env):
        return os.environ[env]
    return infra.ensure(name)


@pytest.fixture(scope="session")
def kafka_bootstrap(request: pytest.FixtureRequest, _infra: LocalInfra | ContainerInfra) -> str:
    """``host:port`` of a Kafka broker (env KAFKA_BOOTSTRAP_SERVERS, else local/testcontainers)."""
    return _resolve(request, _infra, "KAFKA_BOOTSTRAP_SERVERS", "kafka")


@pytest.fixture(scope="session")
def mongodb_url(request: pytest.FixtureRequest, _infra: LocalInfra | ContainerInfra) -> str:
    """MongoDB connection string (env MONGODB_URL, else local FerretDB/testcontainers)."""
    return _resolve(request, _infra, "MONGODB_URL", "mongo")


# --------------------------------------------------------------------------- naming


@pytest.fixture
def unique_id() -> str:
    """Short unique string for naming topics, groups, databases: e.g. ``t3f9a1c2``."""
    return "t" + uuid.uuid4().hex[:7]


@pytest.fixture
def topic_prefix(unique_id: str) -> str:
    """Unique topic prefix (``t3f9a1c2.kxflow.``) to give a service instead of the default ``kxflow.``."""
    return f"{unique_id}.kxflow."


# --------------------------------------------------------------------------- Kafka


@pytest.fixture(scope="session")
async def create_topics(kafka_bootstrap: str) -> AsyncIterator[CreateTopics]:
    """``await create_topics(names, partitions=3, config=None)``: idempotent, waits for leaders."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    from aiokafka.errors import for_code

    topic_already_exists = 36
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="kxflow-tests-admin")
    await admin.start()

    async def _create(
        names: list[str] | tuple[str, ...] | str,
        partitions: int = 3,
        config: dict[str, str] | None = None,
        replication_factor: int = 1,
        timeout: float = 30.0,
    ) -> list[str]:
        wanted = [names] if isinstance(names, str) else list(names)
        new = [NewTopic(n, partitions, replication_factor, topic_configs=dict(config or {})) for n in wanted]
        response = await admin.create_topics(new, timeout_ms=int(timeout * 1000))
        for topic_error in response.topic_errors:
            name, code = topic_error[0], topic_error[1]
            if code not in (0, topic_already_exists):
                raise for_code(code)(f"creating topic {name!r}: {topic_error[2:]}")

        async def all_have_leaders() -> bool:
            described = await admin.describe_topics(wanted)
            ok = {
                t["topic"]
                for t in described
                if t["error_code"] == 0 and t["partitions"] and all(p["leader"] >= 0 for p in t["partitions"])
            }
            return ok == set(wanted)

        await wait_for(all_have_leaders, timeout=timeout, interval=0.1, message=f"topics {wanted} ready")
        return wanted

    try:
        yield _create
    finally:
        await admin.close()


@pytest.fixture(autouse=True)
async def _delete_topics_the_test_created(request: pytest.FixtureRequest, _infra: Any) -> AsyncIterator[None]:
    """Delete the topics a Kafka test created, when this session owns the broker.

    Every test makes its own topics (a service creates about fifteen with twelve partitions each);
    a few hundred tests would otherwise leave tens of thousands of partitions, and the broker fails
    once their files exceed its open-file limit. Only a broker this session started (CI, a plain
    `make test`) is cleaned: on a shared development broker another session's topics could be
    mistaken for this test's.
    """
    if "kafka_bootstrap" not in request.fixturenames:
        yield
        return
    bootstrap = request.getfixturevalue("kafka_bootstrap")
    owns_broker = isinstance(_infra, LocalInfra) and "kafka" in _infra.started
    if not owns_broker:
        yield
        return
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="kxflow-tests-cleanup")
    await admin.start()
    try:
        before = set(await admin.list_topics())
        yield
        created = [t for t in set(await admin.list_topics()) - before if not t.startswith("__")]
        if created:
            await admin.delete_topics(created, timeout_ms=30_000)
    finally:
        await admin.close()


# --------------------------------------------------------------------------- MongoDB


@pytest.fixture(scope="session")
async def mongo_client(mongodb_url: str) -> AsyncIterator[Any]:
    """A ``pymongo.AsyncMongoClient`` on ``mongodb_url`` (checked with a ping)."""
    from pymongo import AsyncMongoClient

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_url, serverSelectionTimeoutMS=20000)
    await client.admin.command("ping")
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def mongo_db_name(mongo_client: Any, unique_id: str) -> AsyncIterator[str]:
    """A unique database name for one test; the database is dropped afterwards."""
    name = f"kxtest_{unique_id}"
    try:
        yield name
    finally:
        await mongo_client.drop_database(name)


@pytest.fixture(scope="session")
def kafka_sasl() -> Iterator[dict[str, str]]:
    """A broker reachable only over SASL_SSL (SCRAM-SHA-512): KAFKA_SASL_BOOTSTRAP_SERVERS,
    KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD_FILE, KAFKA_SSL_CAFILE."""
    yield from secured_server("kafka-sasl")


@pytest.fixture(scope="session")
def mongo_tls() -> Iterator[dict[str, str]]:
    """A FerretDB reachable only over TLS with a client certificate: MONGODB_TLS_URL,
    MONGODB_TLS_CA_FILE, MONGODB_TLS_CERTIFICATE_KEY_FILE."""
    yield from secured_server("mongo-tls")
