"""Validation of every API request against Xero's official OpenAPI documents.

The documents are read from ``XERO_OPENAPI_DIR`` (default ``<repo root>/../shared/specs/xero``)
and never copied into the project. openapi-core runs with spec validation off because the
official files contain spec-level errors; request validation (path, query, headers, body) is on.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

XERO_HOST = "https://api.xero.com"
SPEC_FILES = {
    "/api.xro/2.0": "xero_accounting.yaml",
    "/payroll.xro/1.0": "xero-payroll-au.yaml",
    "/projects.xro/2.0": "xero-projects.yaml",
    "/files.xro/1.0": "xero_files.yaml",
    "/Connections": "xero-identity.yaml",
}


def openapi_dir() -> Path:
    configured = os.environ.get("XERO_OPENAPI_DIR")
    if configured:
        return Path(configured)
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "uv.lock").exists() and (parent / "contracts").is_dir():
            return parent.parent / "shared" / "specs" / "xero"
    return Path("../shared/specs/xero").resolve()


@cache
def _load(path: str) -> OpenAPI:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as fh:
        spec = yaml.load(fh, Loader=loader)
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


def spec_for(path: str) -> OpenAPI | None:
    for prefix, name in SPEC_FILES.items():
        if path.startswith(prefix):
            return _load(str(openapi_dir() / name))
    return None


def preload() -> None:
    """Parse the documents up front (the accounting one takes about a second)."""
    for name in set(SPEC_FILES.values()):
        _load(str(openapi_dir() / name))


@dataclass
class _Request:
    host_url: str
    path: str
    method: str
    body: bytes | None
    content_type: str
    parameters: RequestParameters
    full_url_pattern: str = ""


def validate(
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: dict[str, str],
    body: bytes,
    content_type: str,
) -> str | None:
    """None when the request matches the official document, else the reason it does not."""
    api = spec_for(path)
    if api is None:
        return None
    params = RequestParameters(
        query=ImmutableMultiDict(query),
        header=Headers(headers),
        cookie=ImmutableMultiDict(),
        path={},
    )
    binary = (content_type or "").startswith("application/octet-stream")
    # Raw file bodies: the documents declare them ``type: string, format: byte``, which a JSON
    # schema validator cannot check against bytes; everything else of the request still is.
    request = _Request(
        XERO_HOST, path, method.lower(), None if binary else (body or None), content_type or "", params
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            api.validate_request(request)
        except Exception as exc:
            if binary and body and type(exc).__name__ in ("MissingRequestBody", "MissingRequiredRequestBody"):
                return None
            return _describe(exc)
    return None


def _describe(exc: BaseException) -> str:
    parts: list[str] = [f"{type(exc).__name__}: {exc}"]
    cause: Any = exc.__cause__
    for inner in getattr(cause, "schema_errors", None) or []:
        parts.append(str(getattr(inner, "message", inner)))
    return " | ".join(parts)[:2000]
