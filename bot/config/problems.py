"""How check-config reports a catalog's problems: each pydantic error with its path as the file has it, and what
is set aside after a failed pass (bot/config/catalog.py, `_validate_all`)."""
from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from bot.config.fields import PROBLEM_SEPARATOR


def in_the_file(error: Mapping[str, Any], data: Any) -> dict[str, Any]:
    """The error with its path as the file has it. pydantic names the model a platform's or check's `kind`
    picked in the path (`checks.0.http.url`): that step is dropped (`checks.0.url`). A kind that is missing or
    unknown is reported at `kind`, like any other key."""
    loc, node, tagged = [], data, False
    for part in error["loc"]:
        if not tagged and isinstance(node, dict) and isinstance(part, str) and node.get("kind") == part:
            tagged = True  # the union's tag, not a key: the next part is a key of the same mapping
            continue
        tagged = False
        loc.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    found = {**error, "loc": tuple(loc)}
    context = error.get("ctx") or {}
    if error["type"] == "union_tag_not_found":
        found.update(loc=(*loc, "kind"), type="missing", msg="Field required")
    elif error["type"] == "union_tag_invalid":
        found.update(loc=(*loc, "kind"), msg=f"'{context.get('tag')}' is not a kind here; use one of "
                                             f"{context.get('expected_tags')}")
    return found


def mapping_keys(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """The keys of `loc` up to its first list index: a list is replaced whole, never shifting the items after a
    failed one (their paths must keep pointing into the file)."""
    keys: list[str] = []
    for part in loc:
        if not isinstance(part, str):
            break
        keys.append(part)
    return tuple(keys)


def prune(data: dict[str, Any], path: tuple[str, ...], defaults: dict[str, Any]) -> tuple[str, ...] | None:
    """Put the built-in default (else an empty section) in place of what failed at `path`, or drop it; the path
    of what changed, None when nothing did. A replaced section keeps its name, so references to it still resolve
    (what it held does not: checks that name it look at DROPPED)."""
    keys = list(path)
    while keys:
        node: Any = data
        default: Any = defaults
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
            default = default.get(key) if isinstance(default, dict) else None
        last = keys[-1]
        if isinstance(node, dict) and last in node:
            if isinstance(default, dict) and last in default and node[last] != default[last]:
                node[last] = copy.deepcopy(default[last])
            elif isinstance(node[last], dict) and node[last]:
                node[last] = {}
            else:
                del node[last]
            return tuple(keys)
        keys.pop()  # already gone: replace the section holding it
    return None


def describe(error: Mapping[str, Any]) -> list[str]:
    """One line per problem, with its path (the catalog's own checks write theirs in the message)."""
    where = ".".join(str(part) for part in error["loc"])
    message = error["msg"].removeprefix("Value error, ")
    return [f"{where}: {line}" if where else line for line in message.split(PROBLEM_SEPARATOR)]
