"""A structural comparison of JSON values: does ``actual`` have the shape of ``expected``?

``expected`` is a vendor's example answer (a contract fixture's ``body``); ``actual`` is what
the emulator (or anything else) answered. The rules:

* every key of an object in ``expected`` must be in ``actual``, with a compatible type;
  keys that only ``actual`` has are fine;
* ``null`` in ``expected`` matches anything (the vendor's example shows no type there);
* JSON numbers are one type: an int in ``expected`` matches an int or a float, and so does a
  float (``true``/``false`` are booleans, never numbers);
* a list in ``expected`` is a template: every element of ``actual`` is compared with its first
  element, and an empty list in ``expected`` matches any list.

Each mismatch is one message that starts with its JSON path (``$.data.profiles[0].key``).
"""

from __future__ import annotations

import re
from typing import Any

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def json_type(value: Any) -> str:
    """The JSON type name of a decoded JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    msg = f"not a decoded JSON value: {type(value).__name__}"
    raise TypeError(msg)


def child_path(path: str, key: str) -> str:
    """``$.a`` + ``b`` -> ``$.a.b``; keys that are not identifiers are quoted: ``$.a["b c"]``."""
    if _IDENTIFIER.match(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{path}["{escaped}"]'


def shape_mismatches(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Every way in which ``actual`` does not have the shape of ``expected`` (empty: it has)."""
    if expected is None:
        return []
    wanted, got = json_type(expected), json_type(actual)
    if wanted != got:
        return [f"{path}: expected {wanted}, got {got}"]
    problems: list[str] = []
    if isinstance(expected, dict):
        for key, template in expected.items():
            where = child_path(path, key)
            if key not in actual:
                problems.append(f"{where}: missing (expected {json_type(template)})")
            else:
                problems += shape_mismatches(template, actual[key], where)
    elif isinstance(expected, list) and expected:
        for index, item in enumerate(actual):
            problems += shape_mismatches(expected[0], item, f"{path}[{index}]")
    return problems
