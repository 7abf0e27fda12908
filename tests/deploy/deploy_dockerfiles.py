"""Read the Dockerfiles in deploy/docker/ and check the rules the images must keep.

There is no Docker on the development machines, so the images cannot be built here. hadolint lints
them (tests/deploy/test_deploy_dockerfiles.py); this module checks the project's own rules that
hadolint does not know, and can replay the build stage's uv steps in a scratch directory.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "deploy" / "docker"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        """ENV key=value pairs of this stage (the only ENV form the project uses)."""
        out: dict[str, str] = {}
        for inst in self.all("ENV"):
            for token in shlex.split(inst.args):
                key, sep, value = token.partition("=")
                if sep:
                    out[key] = value
        return out


def parse(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARG defaults and the stages of a Dockerfile (continuations joined, comments dropped)."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    logical: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer += stripped[:-1] + " "
            continue
        logical.append((start, buffer + stripped))
        buffer = ""
    for number, line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "FROM":
            parts = rest.split()
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(image, name))
        elif keyword == "ARG" and not stages:
            key, _, default = rest.partition("=")
            args[key] = default
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, rest, number))
    return args, stages


BUILD_TOOLS = re.compile(r"\b(gcc|g\+\+|clang|make|build-essential|cc|python3?-dev|libc6?-dev|cargo|rustc)\b")
SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)


def rule_violations(text: str, *, module: str, port: int, env_prefix: str) -> list[str]:
    """Every broken image rule, as readable sentences; [] when the Dockerfile keeps them all."""
    problems: list[str] = []
    global_args, stages = parse(text)
    if len(stages) < 2:
        return ["not multi-stage: the final image must not contain the build stage"]
    final, builders = stages[-1], stages[:-1]
    for stage in stages:
        if ":" not in stage.image.rsplit("/", 1)[-1] or stage.image.endswith(":latest"):
            problems.append(f"base image {stage.image!r} is not pinned to a tag")
    # non-root, numeric uid (Kubernetes' runAsNonRoot can only verify a numeric user)
    users = final.all("USER")
    if not users:
        problems.append("final stage has no USER: it would run as root")
    else:
        uid = users[-1].args.split(":")[0]
        if not uid.isdigit() or int(uid) == 0:
            problems.append(f"final USER {users[-1].args!r} is not a numeric non-root uid")
    # no build tools or package manager in the final image
    for inst in final.all("RUN"):
        if BUILD_TOOLS.search(inst.args):
            problems.append(f"line {inst.line}: final stage installs build tools: {inst.args}")
        if re.search(r"\buv\b|\bpip\b", inst.args):
            problems.append(f"line {inst.line}: final stage runs a package installer: {inst.args}")
    for inst in final.all("COPY"):
        if re.search(r"(^|\s)/uvx?(\s|$)", inst.args):
            problems.append(f"line {inst.line}: final stage copies the uv binary")
    # uv: a locked, production-only, non-editable install in a build stage
    uv_runs = [i.args for s in builders for i in s.all("RUN") if "uv sync" in i.args]
    if not uv_runs:
        problems.append("no build stage installs with `uv sync`")
    for run in uv_runs:
        for flag in ("--frozen", "--no-dev"):
            if flag not in run:
                problems.append(f"`uv sync` without {flag}: {run}")
    if uv_runs and "--no-editable" not in uv_runs[-1]:
        problems.append("the last `uv sync` is editable: the final image would need the source tree")
    if not any(i.args.startswith("--from=") for i in final.all("COPY")):
        problems.append("final stage copies nothing from a build stage")
    # health, identity of the service
    if not final.all("HEALTHCHECK") or final.all("HEALTHCHECK")[-1].args.upper().startswith("NONE"):
        problems.append("final stage has no HEALTHCHECK")
    entrypoint = " ".join(i.args for i in final.all("ENTRYPOINT") + final.all("CMD"))
    if module not in entrypoint:
        problems.append(f"ENTRYPOINT/CMD does not run {module}")
    if not any(str(port) in i.args.split() for i in final.all("EXPOSE")):
        problems.append(f"port {port} is not EXPOSEd")
    env = final.env()
    if env_prefix and env.get(f"{env_prefix}HTTP_HOST") != "0.0.0.0":
        problems.append(f"{env_prefix}HTTP_HOST is not 0.0.0.0: the service would listen on loopback only")
    # no secrets baked into the image
    for stage in stages:
        for key, value in stage.env().items():
            if SECRET_NAME.search(key) and value:
                problems.append(f"ENV {key} bakes a secret into the image")
        for inst in stage.all("ARG"):
            if SECRET_NAME.search(inst.args.partition("=")[0]):
                problems.append(f"ARG {inst.args} passes a secret through the build")
    for key in global_args:
        if SECRET_NAME.search(key):
            problems.append(f"ARG {key} passes a secret through the build")
    return problems


def copy_sources(stage: Stage) -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY from the build context in a stage."""
    out = []
    for inst in stage.all("COPY"):
        parts = [p for p in shlex.split(inst.args) if not p.startswith("--")]
        if any(p.startswith("--from=") for p in shlex.split(inst.args)):
            continue
        out.append((parts[:-1], parts[-1]))
    return out
