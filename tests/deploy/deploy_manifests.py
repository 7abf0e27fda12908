"""Render the Helm chart with the project's cached helm and validate every manifest offline.

Core Kubernetes kinds are checked with kubernetes-validate (strict: unknown fields fail) against the
Kubernetes version the chart targets; the custom resources (KEDA, Strimzi, Prometheus Operator)
against the JSON Schemas transcribed from their CRDs in deploy/schemas/. A manifest of any other
apiVersion/kind has no validator and is itself an error, so nothing reaches a cluster unchecked.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "deploy" / "helm" / "kxflow"
CHART_CI = CHART / "ci"
SCHEMAS = REPO_ROOT / "deploy" / "schemas"
HELM_SH = REPO_ROOT / "deploy" / "local" / "helm.sh"
KUBE_VERSION = "1.33.0"

Manifest = dict[str, Any]

# Values sets every manifest test runs against: the defaults, every feature on, and the HPA fallback.
VALUES_SETS: dict[str, tuple[Path, ...]] = {
    "default": (),
    "full": (CHART_CI / "full-values.yaml",),
    "hpa": (CHART_CI / "hpa-values.yaml",),
}

CRD_SCHEMAS: Mapping[tuple[str, str], str] = {
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_v1alpha1_scaledobject.json",
    ("kafka.strimzi.io/v1", "KafkaTopic"): "kafka.strimzi.io_v1_kafkatopic.json",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com_v1_servicemonitor.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com_v1_prometheusrule.json",
}


class ManifestError(AssertionError):
    """A rendered manifest that a cluster would reject (or that nothing could check)."""


def build_helm() -> Path:
    """Path of the cached helm binary, building it once from the Go module proxy if needed."""
    out = subprocess.run([str(HELM_SH)], check=True, capture_output=True, text=True, timeout=1800)
    return Path(out.stdout.strip().splitlines()[-1])


def helm(helm_bin: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(helm_bin), *args], capture_output=True, text=True, timeout=120)


def render(
    helm_bin: Path, values: Iterable[Path] = (), sets: Iterable[str] = (), release: str = "kx"
) -> list[Manifest]:
    """``helm template`` the chart; raises with helm's stderr if rendering fails."""
    args = ["template", release, str(CHART), "--kube-version", KUBE_VERSION, "--namespace", "kxflow"]
    for path in values:
        args += ["-f", str(path)]
    for item in sets:
        args += ["--set", item]
    result = helm(helm_bin, *args)
    if result.returncode != 0:
        raise ManifestError(f"helm template failed: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@cache
def _crd_validator(filename: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / filename).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def validate_manifest(doc: Manifest) -> None:
    """Raise ManifestError naming the resource and every problem found."""
    key = (doc.get("apiVersion", ""), doc.get("kind", ""))
    name = f"{key[1]}/{doc.get('metadata', {}).get('name', '?')}"
    if key in CRD_SCHEMAS:
        errors = sorted(_crd_validator(CRD_SCHEMAS[key]).iter_errors(doc), key=lambda e: list(e.path))
        if errors:
            details = "; ".join(f"{'.'.join(map(str, e.path)) or '<root>'}: {e.message}" for e in errors)
            raise ManifestError(f"{name} ({key[0]}): {details}")
        return
    try:
        kubernetes_validate.validate(doc, KUBE_VERSION, strict=True)
    except kubernetes_validate.SchemaNotFoundError as exc:
        raise ManifestError(f"{name} ({key[0]}): no schema to validate it against: {exc}") from exc
    except kubernetes_validate.ValidationError as exc:
        where = ".".join(map(str, exc.absolute_path)) or "<root>"
        raise ManifestError(f"{name} ({key[0]}): {where}: {exc.message}") from exc


def by_kind(docs: Iterable[Manifest], kind: str) -> dict[str, Manifest]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}
