"""`make images`: the four OCI images built with podman from deploy/docker/, on a machine without
Docker, and the system run from them (used by `make images-test` and tests/images).

    python deploy/local/images.py build [--only router] [--no-export] [--no-measure]

1. Tools: podman, buildah, skopeo, mmdebstrap, runc come from Debian's packages (installed with
   apt-get when missing and we are root; otherwise the error says what to install).
2. Base: the Dockerfiles take ``PYTHON_IMAGE`` (default ``python:3.11-slim-bookworm``, what users
   pull). Nothing can be pulled here, so the base is Debian 12's Python 3.11 as a root filesystem
   from ``mmdebstrap``, imported into podman's store once; ``UV_IMAGE`` is the uv binary on PATH.
   Both are cached in ``$KXFLOW_CACHE/images`` (outside the checkout), keyed on their inputs.
3. Images: ``localhost/kxflow/<service>`` tagged ``<version>``, ``<commit>`` and ``dev``, with OCI
   labels (source, revision, version, licenses, created). Each is keyed on its inputs (Dockerfile,
   uv.lock, every file its COPY lines bring in, base and uv images): a fresh clone of the same
   commit on this machine reuses the image instead of building it again.
4. Export (``make images``): ``dist/images/kxflow-<service>-<version>-<commit>.oci.tar`` (OCI
   archive) with a CycloneDX SBOM of its locked Python dependencies beside it (``uv export``).
5. Measure (``make images``): each image's size and the seconds from ``podman run`` to ``/readyz``
   against the local Kafka and FerretDB (deploy/local/infra.sh); targets < 250 MB and < 10 s.

Containers run as they do on Kubernetes (deploy/helm): uid 10001, read-only root, only ``/tmp``
writable (a tmpfs), no capabilities; with ``--network host`` to reach 127.0.0.1. podman runs with
runc and cgroupfs and explicit ulimits (``$KXFLOW_CACHE/images/containers.conf``), which these
machines need (``../shared/reference/stack.md`` §9).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kxsystem import CACHE, ROOT, Service, services

IMAGES_CACHE = CACHE / "images"
DIST = ROOT / "dist" / "images"
DOCKER = ROOT / "deploy" / "docker"
APT_PACKAGES = ["podman", "buildah", "skopeo", "mmdebstrap", "runc", "uidmap"]
SUITE = "bookworm"
# The base: Debian 12's python3 (3.11) and what the Dockerfiles' runtime stage runs (groupadd).
# usr-is-merged stands in for usrmerge (a one-time conversion tool that needs perl), so usrmerge,
# perl and apt can go afterwards: 52 MB that nothing in a runtime image uses.
BASE_PACKAGES = ["python3", "python-is-python3", "ca-certificates", "passwd", "usr-is-merged"]
BASE_PURGE = [
    "usrmerge",
    "libfile-find-rule-perl",
    "libnumber-compare-perl",
    "libtext-glob-perl",
    "perl",
    "libperl5.36",
    "perl-modules-5.36",
    "apt",
    "libapt-pkg6.0",
]
BASE_OPTS = [
    "--variant=minbase",
    "--aptopt=Apt::Install-Recommends false",
    *(f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("man", "doc", "locale", "info")),
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    f'--customize-hook=chroot "$1" dpkg --purge {" ".join(BASE_PURGE)}',
    '--customize-hook=rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/* "$1"/var/log/*',
]
# image name → (workspace package, the kxsystem process kinds it runs)
IMAGES: dict[str, tuple[str, tuple[str, ...]]] = {
    "router": ("zap-router", ("router",)),
    "kartra-gateway": ("kartra-gateway", ("kartra-gateway",)),
    "xero-gateway": ("xero-gateway", ("xero-gateway",)),
    "sandboxes": ("kxflow-sandboxes", ("kartra-sandbox", "xero-sandbox")),
}
SIZE_TARGET_MB = 250
KEEP_BUILDS = 3  # images kept per repository (the newest)
READY_TARGET_S = 10.0
UID = "10001:10001"
# The Helm chart's terminationGracePeriodSeconds (deploy/helm/kxflow/values.yaml).
GRACE_S = 45
CONTAINER_OPENAPI = "/specs/xero"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- podman ----------------------------------------------------------------------------------------
def containers_conf() -> Path:
    """runc + cgroupfs + ulimits below the machine's hard limits + host network (stack.md §9)."""
    path = Path(os.environ.get("KXFLOW_CONTAINERS_CONF", IMAGES_CACHE / "containers.conf"))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            "[containers]\n"
            'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n'
            'netns = "host"\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
        )
    return path


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(containers_conf())}


def podman(*args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["podman", *args], capture_output=True, text=True, env=podman_env(), timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:3])}… failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return proc


def podman_works() -> str | None:
    """None when podman can run a container here, else why not."""
    if shutil.which("podman") is None:
        return "podman is not installed"
    proc = subprocess.run(["podman", "info"], capture_output=True, text=True, env=podman_env(), check=False)
    return None if proc.returncode == 0 else f"podman info failed: {proc.stderr.strip()[-500:]}"


def ensure_tools() -> None:
    """podman and friends from Debian's packages, when missing (needs root and apt-get)."""
    missing = [p for p in ("podman", "buildah", "mmdebstrap", "runc") if shutil.which(p) is None]
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise RuntimeError(
            f"{', '.join(missing)} missing: install them with "
            f"`sudo apt-get install -y {' '.join(APT_PACKAGES)}`"
        )
    say(f"[images] installing {' '.join(APT_PACKAGES)} from Debian's packages…")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *APT_PACKAGES]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-2000:]}")


def image_exists(ref: str) -> bool:
    return podman("image", "exists", ref, check=False).returncode == 0


def _sha(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else p)
        h.update(b"\0")
    return h.hexdigest()


# -- base and uv -----------------------------------------------------------------------------------
def ensure_base() -> str:
    """``localhost/kxflow-python:3.11-bookworm-<key>``: built with mmdebstrap once, then cached."""
    key = _sha(SUITE, *BASE_PACKAGES, *BASE_OPTS)[:12]
    ref = f"localhost/kxflow-python:3.11-{SUITE}-{key}"
    if image_exists(ref):
        return ref
    tar = IMAGES_CACHE / f"python-3.11-{SUITE}-{key}.tar"
    if not tar.exists():
        say(f"[images] base: Debian {SUITE} + python3 with mmdebstrap (a few minutes, once)…")
        tmp = tar.with_suffix(".tmp.tar")
        cmd = ["mmdebstrap", *BASE_OPTS, f"--include={','.join(BASE_PACKAGES)}", SUITE, str(tmp)]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"mmdebstrap failed:\n{proc.stderr[-3000:]}")
        tmp.replace(tar)
    podman("import", "--change", 'CMD ["python3"]', str(tar), ref)
    return ref


def ensure_uv() -> str:
    """``localhost/kxflow-uv:<version>``: the uv binary on PATH at ``/uv`` (the Dockerfiles' UV_IMAGE)."""
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    version = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True).stdout.split()[1]
    ref = f"localhost/kxflow-uv:{version}"
    if not image_exists(ref):
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy2(uv, Path(tmp) / "uv")
            subprocess.run(["tar", "-C", tmp, "-cf", f"{tmp}/uv.tar", "uv"], check=True)
            podman("import", f"{tmp}/uv.tar", ref)
    return ref


# -- the service images ----------------------------------------------------------------------------
def dockerfile(name: str) -> Path:
    return DOCKER / f"{name}.Dockerfile"


def copied_sources(text: str) -> list[str]:
    """The build-context paths of a Dockerfile's COPY lines (not ``COPY --from``)."""
    out: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["COPY"] and not any(p.startswith("--from") for p in parts):
            out += [p for p in parts[1:-1] if not p.startswith("--")]
    return out


def _files(path: Path) -> Iterable[Path]:
    if path.is_file():
        yield path
        return
    for p in sorted(path.rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc":
            yield p


def inputs_key(name: str, base: str, uv: str) -> str:
    """Everything the image is made of: the Dockerfile, each file it copies, base and uv."""
    text = dockerfile(name).read_text()
    parts: list[bytes | str] = [text, base, uv]
    for src in copied_sources(text):
        for f in _files(ROOT / src):
            parts += [str(f.relative_to(ROOT)), f.read_bytes()]
    return _sha(*parts)[:16]


def git(*args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


@dataclass
class Built:
    name: str
    ref: str  # localhost/kxflow/<name>:dev
    tags: list[str]
    cached: bool
    seconds: float


def version() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    m = re.search(r'^version\s*=\s*"([^"]+)"', text, re.M)
    return m.group(1) if m else "0.0.0"


def build(name: str, base: str, uv: str) -> Built:
    """Build (or reuse, when an image of the same inputs exists) and tag one image."""
    key = inputs_key(name, base, uv)
    repo = f"localhost/kxflow/{name}"
    keyed = f"{repo}:inputs-{key}"
    commit = git("rev-parse", "HEAD") or "unknown"
    tags = [f"{repo}:{version()}", f"{repo}:{commit[:12]}", f"{repo}:dev"]
    started = time.monotonic()
    cached = image_exists(keyed)
    if not cached:
        say(f"[images] building {name}…")
        labels = {
            "org.opencontainers.image.title": f"kxflow {name}",
            "org.opencontainers.image.source": os.environ.get(
                "KXFLOW_IMAGE_SOURCE", git("remote", "get-url", "origin") or ROOT.resolve().as_uri()
            ),
            "org.opencontainers.image.revision": commit,
            "org.opencontainers.image.version": version(),
            # The project states no licence yet: SPDX's "not asserted" until it does.
            "org.opencontainers.image.licenses": os.environ.get("KXFLOW_IMAGE_LICENSES", "NOASSERTION"),
            "org.opencontainers.image.created": datetime.now(UTC).isoformat(timespec="seconds"),
            "io.kxflow.inputs": key,
        }
        args = ["build", "--format", "docker", "--network", "host", "-f", str(dockerfile(name))]
        args += ["--build-arg", f"PYTHON_IMAGE={base}", "--build-arg", f"UV_IMAGE={uv}"]
        # A proxy's CA (this machine has one) must be trusted by uv inside the build.
        ca = Path(os.environ.get("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt"))
        if ca.is_file():
            args += ["-v", f"{ca}:/etc/ssl/certs/ca-certificates.crt:ro"]
        for k, v in labels.items():
            args += ["--label", f"{k}={v}"]
        podman(*args, "-t", keyed, str(ROOT), timeout=1800)
    for tag in tags:
        podman("tag", keyed, tag)
    prune(repo, keep=KEEP_BUILDS)
    return Built(name, tags[-1], [keyed, *tags], cached, time.monotonic() - started)


def prune(repo: str, keep: int) -> None:
    """Keep the store bounded: of ``repo``'s images, the ``keep`` newest stay (a CI run per commit
    would otherwise add a virtualenv layer per image per commit, forever)."""
    out = podman("images", "--format", "{{.ID}} {{.CreatedAt}}", "--filter", f"reference={repo}", check=False)
    newest = sorted(
        {ln.split(" ", 1)[0]: ln.split(" ", 1)[1] for ln in out.stdout.splitlines() if " " in ln}.items(),
        key=lambda kv: kv[1],
        reverse=True,
    )
    for image_id, _ in newest[keep:]:
        podman("rmi", "--force", image_id, check=False)


def image_size_mb(ref: str) -> float:
    return int(podman("image", "inspect", "--format", "{{.Size}}", ref).stdout.strip()) / 1e6


def export(built: Built, dist: Path = DIST) -> tuple[Path, Path]:
    """OCI archive + CycloneDX SBOM (the image's locked Python dependencies) beside it."""
    dist.mkdir(parents=True, exist_ok=True)
    stem = f"kxflow-{built.name}-{version()}-{(git('rev-parse', 'HEAD') or 'unknown')[:12]}"
    archive, sbom = dist / f"{stem}.oci.tar", dist / f"{stem}.cdx.json"
    if not archive.exists():
        tmp = archive.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        podman("save", "--format", "oci-archive", "-o", str(tmp), built.ref)
        tmp.replace(archive)
    package = IMAGES[built.name][0]
    uv = shutil.which("uv") or "uv"
    cmd = [uv, "export", "--format", "cyclonedx1.5", "--package", package, "--no-dev", "--frozen"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"uv export (SBOM) failed:\n{proc.stderr[-2000:]}")
    sbom.write_text(proc.stdout)
    return archive, sbom


# -- running containers ----------------------------------------------------------------------------
def image_of(svc: Service) -> str:
    return next(f"localhost/kxflow/{name}:dev" for name, (_, kinds) in IMAGES.items() if svc.kind in kinds)


def container_env(svc: Service) -> dict[str, str]:
    env = {f"{svc.env_prefix}{k}": v for k, v in svc.env.items()}
    if svc.kind == "xero-sandbox":
        env["XERO_OPENAPI_DIR"] = CONTAINER_OPENAPI
    if svc.sandbox:
        env["SANDBOX_PORT"] = str(svc.port)
    return env


def run_args(svc: Service, name: str, *, tmpfs: bool = True) -> list[str]:
    """``podman run`` for one process as the Helm chart runs it: uid 10001, read-only root, only
    /tmp writable, no capabilities (host network: the local Kafka and FerretDB are on 127.0.0.1)."""
    args = ["run", "-d", "--name", name, "--network", "host", "--read-only", "--user", UID]
    args += ["--cap-drop", "ALL", "--security-opt", "no-new-privileges", "--read-only-tmpfs=false"]
    if tmpfs:
        args += ["--tmpfs", "/tmp:rw,size=64m,mode=1777"]
    for k, v in container_env(svc).items():
        args += ["-e", f"{k}={v}"]
    if svc.kind == "xero-sandbox":
        specs = Path(os.environ.get("XERO_OPENAPI_DIR", ROOT.parent / "shared" / "specs" / "xero")).resolve()
        args += ["-v", f"{specs}:{CONTAINER_OPENAPI}:ro"]
    args.append(image_of(svc))
    if svc.sandbox:
        args += [svc.module, "--host", "127.0.0.1", "--port", str(svc.port), *svc.args]
    return args


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Containers:
    """The processes of :func:`kxsystem.services` as containers: start, wait ready, stop, logs."""

    def __init__(self, svcs: Iterable[Service], tag: str) -> None:
        self.services = {s.name: s for s in svcs}
        self.tag = tag  # container names: kx-<tag>-<service>

    def cname(self, name: str) -> str:
        return f"kx-{self.tag}-{name}"

    def start(self, name: str, *, tmpfs: bool = True) -> None:
        podman("rm", "-f", self.cname(name), check=False)
        podman(*run_args(self.services[name], self.cname(name), tmpfs=tmpfs))

    def running(self, name: str) -> bool:
        out = podman("inspect", "--format", "{{.State.Running}}", self.cname(name), check=False)
        return out.stdout.strip() == "true"

    def wait_ready(self, name: str, timeout: float = 60) -> float:
        """Seconds until the ready route answered 200 (raises with the log tail if it never did)."""
        svc = self.services[name]
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if http_ok(f"{svc.url}{svc.ready_path}"):
                return time.monotonic() - started
            if not self.running(name):
                break
            time.sleep(0.1)  # polling interval of a health check with a deadline
        raise RuntimeError(f"{name} not ready after {timeout:.0f}s:\n{self.logs(name)[-3000:]}")

    def start_all(self) -> dict[str, float]:
        """Start every container, then wait for each; seconds from its start to ready."""
        t0 = {}
        for name in self.services:
            t0[name] = time.monotonic()
            self.start(name)
        ready = {}
        for name in self.services:
            self.wait_ready(name)
            ready[name] = time.monotonic() - t0[name]
        return ready

    def stop(self, name: str, grace: int = GRACE_S) -> tuple[int, float]:
        """``podman stop`` (SIGTERM, SIGKILL after ``grace``): exit code and seconds taken."""
        started = time.monotonic()
        podman("stop", "-t", str(grace), self.cname(name), timeout=grace + 30)
        took = time.monotonic() - started
        code = podman("inspect", "--format", "{{.State.ExitCode}}", self.cname(name)).stdout.strip()
        return int(code), took

    def logs(self, name: str) -> str:
        proc = podman("logs", self.cname(name), check=False)
        return proc.stdout + proc.stderr

    def remove_all(self) -> None:
        for name in self.services:
            podman("rm", "-f", "-t", "5", self.cname(name), check=False)


def system_services(
    cfg: Mapping[str, str], ports: Mapping[str, int] | None = None, namespace: str = ""
) -> list[Service]:
    return services(
        cfg,
        ports=ports,
        prefix=f"{namespace}." if namespace else None,
        db_suffix=f"_{namespace}" if namespace else "",
    )


# -- make images -----------------------------------------------------------------------------------
def measure(names: list[str], cfg: Mapping[str, str]) -> dict[str, float]:
    """Seconds from ``podman run`` to the ready route, each service alone against the local infra."""
    namespace = f"measure{os.getpid()}"
    svcs = system_services(cfg, namespace=namespace)
    wanted = {kind for n in names for kind in IMAGES[n][1]}
    out: dict[str, float] = {}
    cont = Containers([s for s in svcs if s.kind in wanted], namespace)
    try:
        for svc in cont.services.values():
            t0 = time.monotonic()
            cont.start(svc.name)
            cont.wait_ready(svc.name, timeout=60)
            out[svc.name] = time.monotonic() - t0
            cont.stop(svc.name)
    finally:
        cont.remove_all()
        _drop_databases(cfg["MONGODB_URL"], namespace)
    return out


def _drop_databases(mongodb_url: str, namespace: str) -> None:
    from pymongo import MongoClient

    with MongoClient(mongodb_url, serverSelectionTimeoutMS=5000) as client:
        for svc in ("router", "kartra", "xero"):
            client.drop_database(f"kxflow_{svc}_{namespace}")


def infra_up() -> dict[str, str]:
    proc = subprocess.run(
        [str(ROOT / "deploy/local/infra.sh"), "up"], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"infra.sh up failed:\n{proc.stderr[-2000:]}")
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def build_all(names: list[str]) -> list[Built]:
    ensure_tools()
    base, uv = ensure_base(), ensure_uv()
    return [build(n, base, uv) for n in names]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["build"])
    parser.add_argument("--only", action="append", choices=sorted(IMAGES))
    parser.add_argument("--no-export", action="store_true")
    parser.add_argument("--no-measure", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args(argv)
    names = args.only or list(IMAGES)
    t0 = time.monotonic()
    built = build_all(names)
    report: dict[str, dict[str, object]] = {}
    for b in built:
        report[b.name] = {
            "image": b.ref,
            "tags": b.tags,
            "size_mb": round(image_size_mb(b.ref), 1),
            "build_s": round(b.seconds, 1),
            "cached": b.cached,
        }
        if not args.no_export:
            archive, sbom = export(b)
            report[b.name].update(archive=str(archive), sbom=str(sbom))
    if not args.no_measure:
        cfg = infra_up()
        try:
            ready = measure(names, cfg)
        finally:  # leave Kafka and FerretDB as they were
            for component in cfg.get("KXFLOW_INFRA_STARTED", "").split():
                subprocess.run([str(ROOT / "deploy/local/infra.sh"), "down", component], check=False)
        for name in names:
            report[name]["ready_s"] = {k: round(v, 2) for k, v in ready.items() if _of(k) == name}
    print(f"\n{'image':<16} {'size MB':>8} {'build s':>8}  ready (s, from podman run)")
    too_big = []
    for name, r in report.items():
        ready_s = r.get("ready_s", {})
        slow = max(ready_s.values(), default=0.0) > READY_TARGET_S  # type: ignore[type-var,operator]
        big = r["size_mb"] > SIZE_TARGET_MB  # type: ignore[operator]
        too_big += [name] if big else []
        cached = " (cached)" if r["cached"] else ""
        flag = ("  SIZE OVER TARGET" if big else "") + ("  START OVER TARGET" if slow else "")
        print(f"{name:<16} {r['size_mb']:>8} {r['build_s']:>8}{cached}  {ready_s}{flag}")
    total = time.monotonic() - t0
    load = os.getloadavg()[0]
    print(f"targets: < {SIZE_TARGET_MB} MB per image, /readyz < {READY_TARGET_S:g} s; total {total:.0f} s")
    # Start times depend on the machine's load (reported beside them); sizes do not: only a size
    # over its target fails the build.
    print(f"load average while measuring: {load:.1f} on {os.cpu_count()} CPUs")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if too_big else 0


def _of(process: str) -> str:
    return next(name for name, (_, kinds) in IMAGES.items() if process in kinds)


if __name__ == "__main__":
    sys.exit(main())
