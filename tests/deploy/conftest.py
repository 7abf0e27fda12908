"""Fixtures for the deployment tests: the cached helm binary and the chart rendered once per values set."""

from __future__ import annotations

from pathlib import Path

import pytest
from deploy.deploy_manifests import VALUES_SETS, Manifest, build_helm, render


@pytest.fixture(scope="session")
def helm_bin() -> Path:
    """helm built from the Go module proxy (deploy/local/helm.sh); minutes once, then cached."""
    return build_helm()


@pytest.fixture(scope="session")
def rendered(helm_bin: Path) -> dict[str, list[Manifest]]:
    return {name: render(helm_bin, files) for name, files in VALUES_SETS.items()}
