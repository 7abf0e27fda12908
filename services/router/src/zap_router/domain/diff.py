"""What a draft changes against the published version: a structural diff and a unified text diff.

Steps (and any list whose items all carry an ``id``) are compared by id, not by position, so
inserting a step reads as one added step rather than every later step "changed"; a change is
addressed like ``steps[invoice].input.Status``.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

import yaml
from pydantic import BaseModel

Op = Literal["added", "removed", "changed"]


class Change(BaseModel):
    path: str
    op: Op
    published: Any = None
    draft: Any = None


def _by_id(items: list[Any]) -> dict[str, Any] | None:
    """``{id: item}`` when every item is a mapping with a distinct string ``id``, else ``None``."""
    if not items or not all(isinstance(i, dict) and isinstance(i.get("id"), str) for i in items):
        return None
    keyed = {i["id"]: i for i in items}
    return keyed if len(keyed) == len(items) else None


def _walk(path: str, old: Any, new: Any, out: list[Change]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(Change(path=where, op="removed", published=old[key]))
            elif key not in old:
                out.append(Change(path=where, op="added", draft=new[key]))
            else:
                _walk(where, old[key], new[key], out)
        return
    if isinstance(old, list) and isinstance(new, list):
        old_ids, new_ids = _by_id(old), _by_id(new)
        if old_ids is not None and new_ids is not None:
            for key in [*old_ids, *(k for k in new_ids if k not in old_ids)]:
                where = f"{path}[{key}]"
                if key not in new_ids:
                    out.append(Change(path=where, op="removed", published=old_ids[key]))
                elif key not in old_ids:
                    out.append(Change(path=where, op="added", draft=new_ids[key]))
                else:
                    _walk(where, old_ids[key], new_ids[key], out)
            if [k for k in old_ids if k in new_ids] != [k for k in new_ids if k in old_ids]:
                out.append(
                    Change(path=f"{path}.order", op="changed", published=list(old_ids), draft=list(new_ids))
                )
            return
        for i in range(max(len(old), len(new))):
            where = f"{path}[{i}]"
            if i >= len(new):
                out.append(Change(path=where, op="removed", published=old[i]))
            elif i >= len(old):
                out.append(Change(path=where, op="added", draft=new[i]))
            else:
                _walk(where, old[i], new[i], out)
        return
    if old != new or type(old) is not type(new):
        out.append(Change(path=path, op="changed", published=old, draft=new))


def spec_changes(published: dict[str, Any], draft: dict[str, Any]) -> list[Change]:
    """Every difference between two zap specs (the stored JSON form), in document order."""
    out: list[Change] = []
    _walk("", published, draft, out)
    return out


def unified(published: dict[str, Any], draft: dict[str, Any], published_label: str, draft_label: str) -> str:
    """The two specs as YAML, diffed line by line (what ``zapctl draft diff`` prints)."""
    a = yaml.safe_dump(published, sort_keys=False, allow_unicode=True).splitlines(keepends=True)
    b = yaml.safe_dump(draft, sort_keys=False, allow_unicode=True).splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, fromfile=published_label, tofile=draft_label))
