"""The whole system run from the images (deploy/local/images.py), with the same interface as
tests/system_harness.py's :class:`System`, so the demo and the fault drills' Drill run on it as
they do on processes: ``start``, ``stop`` (``podman stop``: SIGTERM, SIGKILL after the chart's
grace period), ``kill`` (``podman kill``), ``restart``, ``url``, ``auth``, ``describe``."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from system_harness import ROOT, System


def _load_images() -> Any:
    name = "kximages"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "deploy" / "local" / "images.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


images = _load_images()


class ContainerSystem(System):
    """A :class:`System` whose processes are containers (same ports, settings, names)."""

    def __init__(self, kafka_bootstrap: str, mongodb_url: str, **options: Any) -> None:
        super().__init__(kafka_bootstrap, mongodb_url, **options)
        self.containers = images.Containers(self.supervisor.services.values(), self.prefix.strip("."))
        self.last_stop: dict[str, tuple[int, float]] = {}

    def start(self, name: str | None = None) -> None:
        names = [name] if name else self.names
        for n in names:
            self.containers.start(n)
        for n in names:
            self.containers.wait_ready(n, timeout=90)

    def stop(self, name: str) -> int | None:
        self.last_stop[name] = self.containers.stop(name)
        return self.last_stop[name][0]

    def kill(self, name: str) -> None:
        images.podman("kill", self.containers.cname(name))

    def restart(self, name: str, *, hard: bool = False) -> None:
        self.kill(name) if hard else self.stop(name)
        self.start(name)

    def stop_all(self) -> dict[str, int | None]:
        codes: dict[str, int | None] = {}
        for name in reversed(self.names):
            if self.containers.running(name):
                codes[name] = self.stop(name)
        self.containers.remove_all()
        return codes

    def pid(self, name: str) -> int:
        out = images.podman("inspect", "--format", "{{.State.Pid}}", self.containers.cname(name))
        return int(out.stdout.strip())

    def exec(self, name: str, *cmd: str) -> Any:
        return images.podman("exec", self.containers.cname(name), *cmd, check=False)

    def log_lines(self, name: str | None = None) -> list[str]:
        return [
            line for n in ([name] if name else self.names) for line in self.containers.logs(n).splitlines()
        ]

    def describe(self, lines: int = 40) -> str:
        parts = [f"containers kx-{self.containers.tag}-*"]
        for n in self.names:
            tail = "\n".join(self.containers.logs(n).splitlines()[-lines:])
            parts.append(f"--- {n} ---\n{tail}")
        return "\n".join(parts)


@contextmanager
def running_containers(kafka_bootstrap: str, mongodb_url: str, **options: Any) -> Iterator[ContainerSystem]:
    system = ContainerSystem(kafka_bootstrap, mongodb_url, **options)
    ok = False
    try:
        system.start()
        yield system
        ok = True
    finally:
        if not ok:
            print(system.describe(), file=sys.stderr)
        system.stop_all()
        system.drop_databases()
