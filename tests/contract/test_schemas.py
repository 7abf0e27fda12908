"""The committed JSON Schemas and AsyncAPI documents match the models, and stay compatible."""

from __future__ import annotations

import json

from kxflow_contracts import schemagen
from kxflow_contracts.catalog import CATALOG


def _on_disk(root) -> dict[str, dict]:
    return {
        str(p.relative_to(root)): json.loads(p.read_text())
        for p in root.rglob("*.json")
        if p != schemagen.PUBLISHED_FILE
    }


def test_committed_schemas_match_the_models() -> None:
    generated = schemagen.generate_schemas()
    on_disk = _on_disk(schemagen.SCHEMAS_DIR)
    stale = sorted(set(on_disk) - set(generated))
    missing = sorted(set(generated) - set(on_disk))
    changed = sorted(k for k in set(generated) & set(on_disk) if generated[k] != on_disk[k])
    assert not (stale or missing or changed), (
        "contracts/schemas drifted from the models; run `uv run python -m kxflow_contracts.schemagen` "
        f"and commit. stale={stale} missing={missing} changed={changed}"
    )


def test_committed_asyncapi_matches_the_models() -> None:
    generated = schemagen.generate_asyncapi()
    on_disk = _on_disk(schemagen.ASYNCAPI_DIR)
    assert on_disk == generated, "contracts/asyncapi drifted; regenerate with kxflow_contracts.schemagen"


def test_published_v1_schemas_are_not_broken() -> None:
    published = schemagen.load_published()
    assert published, "contracts/schemas/published-v1.json is missing: nothing guards v1 consumers"
    problems = schemagen.compatibility_problems(published, schemagen.generate_schemas())
    assert problems == [], "breaking change to a published v1 schema (make a v2 instead):\n" + "\n".join(
        problems
    )


def test_every_catalog_example_validates_against_its_output_model() -> None:
    failures = []
    for entry in CATALOG:
        try:
            entry.output_model.model_validate(entry.example)
        except Exception as exc:
            failures.append(f"{entry.key}: {exc}")
    assert failures == []


def test_asyncapi_documents_reference_existing_schemas() -> None:
    schemas = schemagen.generate_schemas()
    for name, doc in schemagen.generate_asyncapi().items():
        assert doc["asyncapi"] == "3.0.0"
        for channel in doc["channels"].values():
            for message in channel["messages"].values():
                ref = message["payload"]["$ref"].removeprefix("../schemas/")
                assert ref in schemas, f"{name}: {ref} has no schema"
