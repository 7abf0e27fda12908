"""Every field of every block of Zapier's "Kartra + Xero" page is declared in its entry's input model.

The page (``../shared/seed/``) lists each block's form fields followed by its kind. The test parses it,
pairs its blocks in order with ``zapier_form.BLOCKS`` and fails when a field has no place in the
table, when a place does not resolve to a declared (typed) field of the entry's input model, or when
a field is exempted as UI without a documented reason in ``UI_FIELDS``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from kxflow_contracts.catalog import CATALOG
from kxflow_contracts.catalog.base import Kind
from kxflow_contracts.catalog.zapier_form import BLOCKS, NOT_YET, UI, UI_FIELDS, alternatives, resolve

REPO_ROOT = Path(__file__).resolve().parents[3]
SEED = Path(os.environ.get("KXFLOW_SEED_DIR", REPO_ROOT.parent / "shared" / "seed"))
PAGE = SEED / "zapier-connect-kartra-and-xero.txt"

_KIND = re.compile(
    r"Try ItTriggerThis is the start of your Zap(?P<trigger>Instant|Polling)"
    r"|ActionThis is an event a Zap performs\.(?P<action>Search or write|Search|Write)"
)
_KIND_TAIL = re.compile(r".*?(?=- |\n|$)")


def parse_page(text: str) -> list[tuple[str, list[tuple[str, bool]]]]:
    """The page's blocks in order: (kind, [(field label, required)])."""
    body = text[
        text.index("Supported triggers and actions") : text.index("Zapier is the automation platform")
    ]
    blocks: list[tuple[str, list[tuple[str, bool]]]] = []
    pos = 0
    for marker in _KIND.finditer(body):
        chunk = body[pos : marker.start()]
        tail = _KIND_TAIL.match(body, marker.end())
        pos = tail.end() if tail else marker.end()
        fields = []
        for line in chunk.splitlines():
            line = line.strip()
            if line.startswith("- "):
                label = line[2:].strip()
                required = label.endswith("Required")
                fields.append((label.removesuffix("Required"), required))
        blocks.append(("trigger" if marker.group("trigger") else marker.group("action"), fields))
    return blocks


@pytest.fixture(scope="module")
def page() -> list[tuple[str, list[tuple[str, bool]]]]:
    assert PAGE.is_file(), f"the seed page is missing: {PAGE} (set KXFLOW_SEED_DIR)"
    return parse_page(PAGE.read_text(encoding="utf-8"))


def test_the_page_parses_into_its_94_blocks(page) -> None:
    assert len(page) == 94
    assert sum(len(fields) for _, fields in page) == 655
    assert len(BLOCKS) == len(page)


def test_every_block_is_paired_with_an_entry_of_its_kind(page) -> None:
    for (kind, _), (key, _) in zip(page, BLOCKS, strict=True):
        entry = CATALOG.get(key)
        if kind == "trigger":
            assert entry.kind is Kind.trigger, key
        elif kind == "Search":
            assert entry.kind is Kind.search, key
        elif kind == "Write":
            assert entry.kind is Kind.action, key
        else:  # "Search or write": find-or-create
            assert key.endswith("find_or_create"), key


def test_the_table_lists_exactly_the_fields_of_each_block(page) -> None:
    for (_, fields), (key, table) in zip(page, BLOCKS, strict=True):
        assert [label for label, _ in fields] == list(table) or sorted(
            label for label, _ in fields
        ) == sorted(table), key


def _undeclared(page) -> list[tuple[str, str, str]]:
    missing = []
    for (_, fields), (key, table) in zip(page, BLOCKS, strict=True):
        model = CATALOG.get(key).input_model
        for label, _ in fields:
            target = table[label]
            if target == UI:
                assert label in UI_FIELDS, f"{key}: {label!r} exempted as UI without a reason"
                continue
            if any(resolve(model, path) is None for path in alternatives(target)):
                missing.append((key, label, target))
    return missing


def test_every_field_is_declared_in_its_input_model(page) -> None:
    missing = _undeclared(page)
    unexpected = [
        f"{key}: {label!r} → {target}" for key, label, target in missing if (key, label) not in NOT_YET
    ]
    assert unexpected == [], f"{len(unexpected)} seed fields not declared:\n" + "\n".join(unexpected)
    # declared since: take it off the list
    assert sorted(NOT_YET) == sorted((key, label) for key, label, _ in missing)


def test_the_declared_count(page) -> None:
    """The issue's count (every field but the organisation picker and UI elements): 570."""
    total = declared = 0
    for (_, fields), (key, table) in zip(page, BLOCKS, strict=True):
        for label, _ in fields:
            if label == "Organization" or table[label] == UI:
                continue
            total += 1
            declared += (key, label) not in NOT_YET
    assert (declared, total) == (total - len(NOT_YET), 570)


def test_declared_fields_have_descriptions() -> None:
    """Every place the table names carries a description the catalog and the console show."""
    undescribed = set()
    for key, table in BLOCKS:
        model = CATALOG.get(key).input_model
        for target in table.values():
            for path in alternatives(target):
                info = resolve(model, path)
                if info is not None and not info.description:
                    undescribed.add(f"{key}: {path}")
    assert sorted(undescribed) == []


def test_ui_exemptions_are_only_headings_help_and_narrowing_pickers() -> None:
    used = {label for _, table in BLOCKS for label, target in table.items() if target == UI}
    assert used == set(UI_FIELDS)


def test_a_field_without_a_declared_input_fails_the_check() -> None:
    """The check can fail: a path the model does not declare does not resolve."""
    model = CATALOG.get("xero.contact.upsert").input_model
    assert resolve(model, "Phones[PhoneType=FAX].PhoneNumber") is not None
    assert resolve(model, "Phones[PhoneType=FAX].NoSuchField") is None
    assert resolve(model, "NoSuchField") is None


def _present(example: Any, path: str) -> bool:
    """The dotted path has a value in the example (any element of a list will do)."""
    head, _, rest = path.partition(".")
    name = head.split("[", 1)[0]
    if isinstance(example, list):
        return any(_present(item, path) for item in example)
    if not isinstance(example, dict) or example.get(name) is None:
        return False
    return not rest or _present(example[name], rest)


EXAMPLE_GAPS = {
    ("xero.item.create", "Purchase Account"): "the example item is tracked: its purchases post to COGS",
    ("xero.payroll_au.employee.create", "TFN Exemption Type"): "an alternative to the example's TFN",
    ("xero.payroll_au.employee.update", "TFN Exemption Type"): "an alternative to the example's TFN",
}
"""Form fields an entry's one example cannot fill, with why."""


def test_every_declared_form_field_is_in_its_entry_input_example() -> None:
    """The input examples fill every form field of every write, so the sandbox runs (which execute
    every action from its ``input_example``, validated against Xero's OpenAPI documents) exercise
    each of them. Searches' fields are alternatives (search by this or that); triggers' parameters
    are matched by the router; API requests are raw (their own tests cover their fields)."""
    absent = []
    for key, table in BLOCKS:
        entry = CATALOG.get(key)
        if entry.kind is Kind.trigger or key.endswith(("api_request", "api.request")):
            continue
        if entry.kind is Kind.search and not key.endswith("find_or_create"):
            continue
        for label, target in table.items():
            paths = alternatives(target)
            if (key, label) in NOT_YET or (key, label) in EXAMPLE_GAPS or not paths:
                continue
            if not any(_present(entry.input_example, p) for p in paths):
                absent.append(f"{key}: {label!r} → {target}")
    assert absent == []
