"""The Xero sandbox's state in a JSON file, so a local system survives a restart.

``make run`` keeps the file beside FerretDB's data (``--state-file``): FerretDB keeps the gateway's
Xero connections and their refresh tokens, so the sandbox must keep the organisations (their tenant
ids and records) and the grants and tokens it issued, or the next ``make demo`` meets
``needs_reauth`` with tokens the sandbox no longer knows. Saved at shutdown (SIGTERM, Ctrl-C), read
at start; a SIGKILLed sandbox starts from the last save. Rate-limit counters, idempotency keys,
pending webhooks and statistics are not kept (a restart of Xero's side resets nothing users see).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kxflow_sandboxes.xero.identity import AccessToken, Grant, RefreshToken
from kxflow_sandboxes.xero.state import Org

if TYPE_CHECKING:
    from kxflow_sandboxes.xero.app import Sandbox

VERSION = 1


def dump(sandbox: Sandbox) -> dict[str, Any]:
    ident = sandbox.identity
    return {
        "version": VERSION,
        "virtual_now": sandbox.clock.now(),
        "orgs": [asdict(o) for o in sandbox.orgs.values()],
        "grants": {k: asdict(v) for k, v in ident.grants.items()},
        "access": {k: asdict(v) for k, v in ident.access.items()},
        "refresh": {k: asdict(v) for k, v in ident.refresh.items()},
    }


def load(sandbox: Sandbox, data: dict[str, Any]) -> None:
    if data.get("version") != VERSION:
        raise ValueError(f"sandbox state version {data.get('version')!r}, expected {VERSION}")
    sandbox.orgs = {o["tenant_id"]: Org(**o) for o in data["orgs"]}
    ident = sandbox.identity
    ident.grants = {k: Grant(**v) for k, v in data["grants"].items()}
    ident.access = {k: AccessToken(**v) for k, v in data["access"].items()}
    ident.refresh = {k: RefreshToken(**v) for k, v in data["refresh"].items()}
    # Token lifetimes run on the virtual clock: continue it from where it stopped.
    sandbox.clock.advance(float(data["virtual_now"]))


def save(sandbox: Sandbox, path: Path) -> None:
    """Atomically (a crash mid-write leaves the previous file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(dump(sandbox)))
    os.replace(tmp, path)


def restore(sandbox: Sandbox, path: Path) -> bool:
    """Load ``path`` if it exists; False when there was nothing to load."""
    if not path.exists():
        return False
    load(sandbox, json.loads(path.read_text()))
    return True
