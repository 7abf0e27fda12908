"""The image tests: the four images built (or reused from the cache outside the checkout) once per
session by deploy/local/images.py, then the system run from them against the session's Kafka and
FerretDB. Skipped, with the reason, only where podman cannot run containers at all (not root and
podman not installed, or ``podman info`` fails); as root on Debian the build installs podman."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from container_harness import ContainerSystem, images, running_containers


@pytest.fixture(scope="session")
def built() -> list:
    if shutil.which("podman") is None and (os.geteuid() != 0 or shutil.which("apt-get") is None):
        pytest.skip("podman is not installed and cannot be (needs root and apt-get): no images here")
    images.ensure_tools()
    reason = images.podman_works()
    if reason:
        pytest.skip(f"podman cannot run containers on this machine: {reason}")
    return images.build_all(list(images.IMAGES))


@pytest.fixture(scope="module")
def csystem(built: list, kafka_bootstrap: str, mongodb_url: str) -> Iterator[ContainerSystem]:
    with running_containers(kafka_bootstrap, mongodb_url) as system:
        yield system
