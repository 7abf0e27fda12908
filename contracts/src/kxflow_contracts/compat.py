"""Backward-compatibility rules for published ``v1`` JSON Schemas (DESIGN.md §2).

Within a major version only *additive optional fields* are allowed. Everything else — a removed or
renamed field, a changed type, a field that became required or stopped being required, a changed
enum, a closed object — breaks a consumer (or a producer) of the published schema and needs a new
``v2`` type and topic. This module only compares schemas; it does no I/O.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]


def _resolve(node: Any, root: Schema) -> Any:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 50:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return node
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        extra = {k: v for k, v in node.items() if k != "$ref"}
        node = {**target, **extra} if extra else target
        seen += 1
    return node


def _types(node: Schema) -> set[str] | None:
    if "type" in node:
        t = node["type"]
        return set(t) if isinstance(t, list) else {t}
    if "const" in node:
        return {type(node["const"]).__name__}
    return None


def _variants(node: Schema) -> list[Any] | None:
    for key in ("anyOf", "oneOf"):
        if key in node:
            return node[key]
    return None


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Every change from ``old`` to ``new`` that would break a consumer of ``old``."""
    problems: list[str] = []
    _compare(old, new, old, new, "$", problems, set())
    return problems


def _compare(
    o: Any, n: Any, old_root: Schema, new_root: Schema, path: str, out: list[str], seen: set[tuple[int, int]]
) -> None:
    o, n = _resolve(o, old_root), _resolve(n, new_root)
    if not isinstance(o, dict) or not isinstance(n, dict):
        return
    marker = (id(o), id(n))
    if marker in seen:
        return
    seen.add(marker)

    ot, nt = _types(o), _types(n)
    if ot is not None and nt is not None and ot != nt:
        out.append(f"{path}: type changed from {sorted(ot)} to {sorted(nt)}")
        return
    if ot is not None and nt is None and _variants(n) is None:
        out.append(f"{path}: type constraint {sorted(ot)} removed")
    if ("enum" in o or "enum" in n) and o.get("enum") != n.get("enum"):
        out.append(f"{path}: enum changed from {o.get('enum')} to {n.get('enum')}")
    if "const" in o and o.get("const") != n.get("const"):
        out.append(f"{path}: const changed from {o.get('const')!r} to {n.get('const')!r}")

    ov, nv = _variants(o), _variants(n)
    if ov is not None or nv is not None:
        if ov is None or nv is None or len(ov) != len(nv):
            out.append(f"{path}: union changed")
        else:
            for i, (a, b) in enumerate(zip(ov, nv, strict=True)):
                _compare(a, b, old_root, new_root, f"{path}|{i}", out, seen)

    old_props: dict[str, Any] = o.get("properties", {})
    new_props: dict[str, Any] = n.get("properties", {})
    for name in old_props:
        if name not in new_props:
            out.append(f"{path}.{name}: field removed")
    old_req, new_req = set(o.get("required", [])), set(n.get("required", []))
    for name in sorted(new_req - old_req):
        out.append(f"{path}.{name}: field became required")
    for name in sorted(old_req - new_req):
        if name in new_props:
            out.append(f"{path}.{name}: field is no longer required (consumers rely on it)")
    if o.get("additionalProperties", True) is not False and n.get("additionalProperties", True) is False:
        out.append(f"{path}: object closed to additional properties")
    for name, sub in old_props.items():
        if name in new_props:
            _compare(sub, new_props[name], old_root, new_root, f"{path}.{name}", out, seen)
    if "items" in o and "items" in n:
        _compare(o["items"], n["items"], old_root, new_root, f"{path}[]", out, seen)
