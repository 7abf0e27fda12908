"""The draft diff: steps matched by id, every kind of change addressed by path."""

from __future__ import annotations

import copy

from design_zap import DESIGN_EXAMPLE

from zap_router.domain.diff import spec_changes, unified


def test_identical_specs_have_no_changes():
    assert spec_changes(DESIGN_EXAMPLE, copy.deepcopy(DESIGN_EXAMPLE)) == []
    assert unified(DESIGN_EXAMPLE, DESIGN_EXAMPLE, "a", "b") == ""


def test_changed_input_is_addressed_by_step_id():
    draft = copy.deepcopy(DESIGN_EXAMPLE)
    draft["steps"][1]["input"]["Status"] = "DRAFT"
    draft["name"] = "renamed"
    changes = spec_changes(DESIGN_EXAMPLE, draft)
    assert [(c.path, c.op, c.published, c.draft) for c in changes] == [
        ("name", "changed", DESIGN_EXAMPLE["name"], "renamed"),
        ("steps[invoice].input.Status", "changed", "AUTHORISED", "DRAFT"),
    ]


def test_an_inserted_step_is_one_addition_not_every_later_step_changed():
    draft = copy.deepcopy(DESIGN_EXAMPLE)
    extra = {"id": "tag", "action": "kartra.lead.tag.assign", "input": {"tag": "buyer"}}
    draft["steps"].insert(1, extra)
    changes = spec_changes(DESIGN_EXAMPLE, draft)
    assert [(c.path, c.op) for c in changes] == [("steps[tag]", "added")]
    assert changes[0].draft == extra


def test_removed_fields_steps_and_reordering_are_reported():
    draft = copy.deepcopy(DESIGN_EXAMPLE)
    del draft["filter"]
    draft["steps"] = [draft["steps"][1], draft["steps"][0]]
    changes = {(c.path, c.op) for c in spec_changes(DESIGN_EXAMPLE, draft)}
    assert changes == {("filter", "removed"), ("steps[paid]", "removed"), ("steps.order", "changed")}


def test_lists_without_ids_compare_by_position_and_types_matter():
    old = {"x": [1, 2, 3], "n": 1}
    new = {"x": [1, 5], "n": 1.5}
    changes = [(c.path, c.op) for c in spec_changes(old, new)]
    assert changes == [("x[1]", "changed"), ("x[2]", "removed"), ("n", "changed")]
    assert spec_changes({"b": True}, {"b": 1})[0].op == "changed"


def test_unified_diff_shows_the_yaml_lines():
    draft = copy.deepcopy(DESIGN_EXAMPLE)
    draft["steps"][1]["input"]["Status"] = "DRAFT"
    text = unified(DESIGN_EXAMPLE, draft, "published v1", "draft")
    assert "--- published v1" in text and "+++ draft" in text
    assert "-    Status: AUTHORISED" in text and "+    Status: DRAFT" in text
