"""The four layers of DESIGN.md §8, checked on every service's import graph (read with ``ast``).

* ``domain`` is pure: it imports no other layer of its service;
* ``adapters`` never import ``service_layer`` (nor ``entrypoints``): a use case an adapter needs is a
  Protocol port the adapter declares, implemented by the service layer and wired in ``main``;
* ``service_layer`` never imports ``entrypoints``;
* the gateways hold exactly the four layer packages (plus the composition root and settings).

The router's use cases still live in ``engine/`` (issue 15 moves them); it is checked as its
service layer under that name.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {
    "kartra_gateway": ROOT / "services/kartra-gateway/src/kartra_gateway",
    "xero_gateway": ROOT / "services/xero-gateway/src/xero_gateway",
    "zap_router": ROOT / "services/router/src/zap_router",
}
LAYERS = ("domain", "service_layer", "adapters", "entrypoints")
SERVICE_LAYER_ALIASES = {"zap_router": {"engine"}}
# what each layer must never import from its own service
FORBIDDEN = {
    "domain": {"service_layer", "adapters", "entrypoints", "engine", "main", "settings"},
    "adapters": {"service_layer", "entrypoints", "engine", "main"},
    "service_layer": {"entrypoints", "main"},
    "engine": {"entrypoints", "main"},
}
TOP_LEVEL_MODULES = {"__init__", "__main__", "main", "settings", "testing"}


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module of ``package`` imported by the file, absolute or relative, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = path.relative_to(SERVICES[package].parent).with_suffix("").parts
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(here[: len(here) - node.level])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return {m for m in found if m == package or m.startswith(package + ".")}


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def violations(package: str) -> list[str]:
    root = SERVICES[package]
    out = []
    for path in sorted(root.rglob("*.py")):
        layer = layer_of(".".join(path.relative_to(root.parent).with_suffix("").parts))
        banned = FORBIDDEN.get(layer or "", set())
        bad: dict[str, list[str]] = {}
        for module in sorted(imported_modules(path, package)):
            target = layer_of(module)
            if target in banned:
                bad.setdefault(target, []).append(module)
        for target, modules in bad.items():
            out.append(f"{path.relative_to(root.parent)} ({layer}) imports {target}: {', '.join(modules)}")
    return out


@pytest.mark.parametrize("package", sorted(SERVICES))
def test_no_layer_imports_a_layer_it_must_not(package: str) -> None:
    assert violations(package) == []


@pytest.mark.parametrize("package", ["kartra_gateway", "xero_gateway"])
def test_the_gateways_have_exactly_the_four_layers(package: str) -> None:
    root = SERVICES[package]
    packages = {p.name for p in root.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in root.glob("*.py")}
    assert packages == set(LAYERS)
    assert modules <= TOP_LEVEL_MODULES


def test_the_check_sees_a_violation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The checker itself can fail: an adapter importing a use case is reported."""
    pkg = tmp_path / "demo_gateway"
    (pkg / "adapters").mkdir(parents=True)
    (pkg / "service_layer").mkdir()
    for d in (pkg, pkg / "adapters", pkg / "service_layer"):
        (d / "__init__.py").write_text("")
    (pkg / "service_layer" / "tokens.py").write_text("class TokenManager: ...\n")
    (pkg / "adapters" / "api.py").write_text(
        "from ..service_layer.tokens import TokenManager\nimport demo_gateway.service_layer\n"
    )
    monkeypatch.setitem(SERVICES, "demo_gateway", pkg)
    found = violations("demo_gateway")
    assert len(found) == 1
    assert found[0].startswith("demo_gateway/adapters/api.py (adapters) imports service_layer: ")


# Use cases already moved onto Protocol ports (``service_layer/ports.py``): they import no adapter,
# so they run on the in-memory fakes of tests/fakes. A ratchet: the other use-case modules still
# import concrete adapters (issue 11, item 4 lists them) and join this list as they are moved.
ON_PORTS = {
    "kartra_gateway": ["service_layer/execute.py", "service_layer/ports.py"],
    "xero_gateway": ["service_layer/executor.py", "service_layer/ports.py"],
}


@pytest.mark.parametrize(("package", "module"), [(p, m) for p, ms in ON_PORTS.items() for m in ms])
def test_use_cases_on_ports_import_no_adapter(package: str, module: str) -> None:
    imported = imported_modules(SERVICES[package] / module, package)
    assert not [m for m in imported if layer_of(m) == "adapters"]
