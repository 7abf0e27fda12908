"""Generate the committed JSON Schemas and AsyncAPI documents from the pydantic models.

``python -m kxflow_contracts.schemagen`` rewrites ``contracts/schemas/`` and ``contracts/asyncapi/``;
``--publish`` also freezes the current schemas as the published ``v1`` baseline after checking
that nothing in them breaks the previous baseline. Tests regenerate in memory and fail on drift.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kxflow_contracts.catalog import CATALOG, Catalog, Kind
from kxflow_contracts.commands import COMMAND_TYPE, ActionCommand
from kxflow_contracts.compat import breaking_changes
from kxflow_contracts.results import PROGRESS_TYPE, RESULT_TYPE, ActionResult, CommandProgress
from kxflow_contracts.runs import RUN_EVENT_TYPES, RunEvent
from kxflow_contracts.topics import Topics
from kxflow_contracts.zaps import ZAP_TYPE, ZapRecord

CONTRACTS_DIR = Path(__file__).resolve().parents[2]
SCHEMAS_DIR = CONTRACTS_DIR / "schemas"
ASYNCAPI_DIR = CONTRACTS_DIR / "asyncapi"
PUBLISHED_FILE = SCHEMAS_DIR / "published-v1.json"


def _schema(model: type[BaseModel], mode: str = "serialization") -> dict[str, Any]:
    return model.model_json_schema(mode=mode)  # type: ignore[arg-type]


def generate_schemas(catalog: Catalog = CATALOG) -> dict[str, dict[str, Any]]:
    """Relative path → JSON Schema, for every message type and catalog model."""
    out: dict[str, dict[str, Any]] = {
        f"messages/{COMMAND_TYPE}.json": _schema(ActionCommand, "validation"),
        f"messages/{RESULT_TYPE}.json": _schema(ActionResult),
        f"messages/{ZAP_TYPE}.json": _schema(ZapRecord),
        f"messages/{PROGRESS_TYPE}.json": _schema(CommandProgress),
    }
    for ce_type in sorted(set(RUN_EVENT_TYPES.values())):
        out[f"messages/{ce_type}.json"] = _schema(RunEvent)
    for entry in catalog:
        if entry.kind is Kind.trigger:
            out[f"events/{entry.ce_type}.json"] = _schema(entry.output_model)
            out[f"catalog/{entry.key}.v{entry.version}.params.json"] = _schema(
                entry.input_model, "validation"
            )
        else:
            out[f"catalog/{entry.key}.v{entry.version}.input.json"] = _schema(entry.input_model, "validation")
            out[f"catalog/{entry.key}.v{entry.version}.output.json"] = _schema(entry.output_model)
    return out


def _message(ce_type: str, schema_path: str, summary: str) -> dict[str, Any]:
    return {
        "name": ce_type,
        "title": ce_type,
        "summary": summary,
        "contentType": "application/json",
        "headers": {"$ref": "#/components/schemas/CloudEventsHeaders"},
        "payload": {"$ref": f"../schemas/{schema_path}"},
        "bindings": {"kafka": {"bindingVersion": "0.5.0"}},
    }


CE_HEADERS = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_tenant", "content-type"],
    "properties": {
        "ce_specversion": {"type": "string", "const": "1.0"},
        "ce_id": {"type": "string", "description": "Unique per event; the deduplication key downstream"},
        "ce_source": {"type": "string"},
        "ce_type": {"type": "string"},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_subject": {"type": "string"},
        "ce_dataschema": {"type": "string", "format": "uri"},
        "ce_tenant": {"type": "string"},
        "content-type": {"type": "string", "const": "application/json"},
        "traceparent": {"type": "string", "description": "W3C trace context"},
    },
}


def generate_asyncapi(catalog: Catalog = CATALOG, topics: Topics | None = None) -> dict[str, dict[str, Any]]:
    """One AsyncAPI 3.0 document per service: the channels it sends to and receives from."""
    t = topics or Topics()
    trig = {app: [e for e in catalog.of(app, Kind.trigger) if e.available] for app in ("kartra", "xero")}

    def event_messages(app: str) -> dict[str, Any]:
        return {
            e.ce_type.replace(".", "_"): _message(e.ce_type, f"events/{e.ce_type}.json", e.display_name)
            for e in trig[app]
        }

    command = {"command": _message(COMMAND_TYPE, f"messages/{COMMAND_TYPE}.json", "Action command")}
    result = {
        "result": _message(RESULT_TYPE, f"messages/{RESULT_TYPE}.json", "Action result"),
        "progress": _message(PROGRESS_TYPE, f"messages/{PROGRESS_TYPE}.json", "Command progress (holding)"),
    }
    zaps = {
        "zap": _message(ZAP_TYPE, f"messages/{ZAP_TYPE}.json", "Zap changelog record (tombstone on delete)")
    }
    runs = {
        ce.replace(".", "_"): _message(ce, f"messages/{ce}.json", f"Run {tr.value}")
        for tr, ce in RUN_EVENT_TYPES.items()
    }
    channels: dict[str, tuple[str, dict[str, Any]]] = {
        "kartraEvents": (t.kartra_events, event_messages("kartra")),
        "xeroEvents": (t.xero_events, event_messages("xero")),
        "kartraCommands": (t.kartra_commands, command),
        "xeroCommands": (t.xero_commands, command),
        "actionResults": (t.action_results, result),
        "runs": (t.runs, runs),
        "zaps": (t.zaps, zaps),
    }
    roles = {
        "kartra-gateway": {"send": ["kartraEvents", "actionResults"], "receive": ["kartraCommands"]},
        "xero-gateway": {"send": ["xeroEvents", "actionResults"], "receive": ["xeroCommands", "zaps"]},
        "router": {
            "send": ["kartraCommands", "xeroCommands", "runs", "zaps"],
            "receive": ["kartraEvents", "xeroEvents", "actionResults", "zaps"],
        },
    }
    docs: dict[str, dict[str, Any]] = {}
    for service, role in roles.items():
        used = role["send"] + role["receive"]
        doc_channels = {cid: {"address": channels[cid][0], "messages": channels[cid][1]} for cid in used}
        operations = {}
        for action in ("send", "receive"):
            for cid in role[action]:
                operations[f"{action}_{cid}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{cid}"},
                    "messages": [
                        {"$ref": f"#/channels/{cid}/messages/{mid}"} for mid in sorted(channels[cid][1])
                    ],
                }
        docs[f"{service}.json"] = {
            "asyncapi": "3.0.0",
            "info": {
                "title": f"kxflow {service}",
                "version": "1.0.0",
                "description": "CloudEvents 1.0 in Kafka binary mode: value = JSON data, attributes = "
                "ce_* headers. Topic prefix 'kxflow.' is a setting.",
            },
            "defaultContentType": "application/json",
            "channels": doc_channels,
            "operations": operations,
            "components": {"schemas": {"CloudEventsHeaders": CE_HEADERS}},
        }
    return docs


def _dump(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def write_all() -> list[Path]:
    written: list[Path] = []
    for root, files in ((SCHEMAS_DIR, generate_schemas()), (ASYNCAPI_DIR, generate_asyncapi())):
        for rel, content in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_dump(content))
            written.append(path)
    keep = set(written) | {PUBLISHED_FILE}
    for stale in [*SCHEMAS_DIR.rglob("*.json"), *ASYNCAPI_DIR.rglob("*.json")]:
        if stale not in keep:
            stale.unlink()
    return written


def load_published() -> dict[str, dict[str, Any]]:
    return json.loads(PUBLISHED_FILE.read_text()) if PUBLISHED_FILE.exists() else {}


def compatibility_problems(
    published: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]
) -> list[str]:
    """Breaking changes of ``current`` against the published baseline (removed types included)."""
    problems: list[str] = []
    for name, old in sorted(published.items()):
        if name not in current:
            problems.append(f"{name}: published schema no longer generated (a v1 type was removed)")
            continue
        problems.extend(f"{name}: {p}" for p in breaking_changes(old, current[name]))
    return problems


def publish() -> None:
    current = generate_schemas()
    problems = compatibility_problems(load_published(), current)
    if problems:
        raise SystemExit("refusing to publish breaking changes:\n" + "\n".join(problems))
    PUBLISHED_FILE.write_text(_dump(current))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--publish", action="store_true", help="freeze the current schemas as published v1")
    args = parser.parse_args()
    paths = write_all()
    if args.publish:
        publish()
    print(f"wrote {len(paths)} files")


if __name__ == "__main__":
    main()
