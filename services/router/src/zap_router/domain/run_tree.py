"""A run's steps as a tree (``GET /v1/runs/{id}``, ``zapctl run show``, DESIGN.md §4.1).

The run stores its steps flat, keyed by path (``route/gst/invoice``, ``lines[3]/item``,
``contact/on_error/alert``): one document, single-field updates. People read them as a tree: a
paths step with its branches, a loop with its iterations, an action with its error branch.
"""

from __future__ import annotations

from typing import Any

SHOWN = (
    "kind",
    "action",
    "status",
    "attempt",
    "input",
    "output",
    "error",
    "started_at",
    "finished_at",
    "duration_ms",
    "chosen",
    "skipped",
    "conditions",
    "next_attempt_at",
    "command_id",
)


def parent_of(path: str) -> tuple[str | None, dict[str, Any]]:
    """The path of the step a step is nested in, and where in it (branch, loop index, on_error)."""
    parts = path.split("/")
    if len(parts) < 2:
        return None, {}
    tail, head = parts[-2], parts[:-2]
    if tail.endswith("]") and "[" in tail:
        name, index = tail[:-1].split("[", 1)
        return "/".join([*head, name]), {"index": int(index) if index.isdigit() else index}
    if tail == "on_error":
        return "/".join(head), {"on_error": True}
    return "/".join(head), {"branch": tail}


def step_tree(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The run's steps nested under the steps they belong to, in the order they started."""
    states: dict[str, Any] = run.get("steps") or {}
    top = [p for p in run.get("step_order") or [] if p in states]
    order = top + [p for p in states if p not in top]
    nodes: dict[str, dict[str, Any]] = {}
    roots: list[dict[str, Any]] = []
    for path in order:
        state = states[path] or {}
        parent, where = parent_of(path)
        node = {
            "path": path,
            "id": path.rsplit("/", 1)[-1],
            **where,
            **{k: state.get(k) for k in SHOWN if k in state},
            "children": [],
        }
        nodes[path] = node
    for path in order:
        parent, _ = parent_of(path)
        (nodes[parent]["children"] if parent in nodes else roots).append(nodes[path])
    return roots
