"""JSON as the server reads it: standard JSON only, holding text the databases can store.

Python's json module accepts ``NaN``, ``Infinity`` and ``-Infinity``, and reads a number
too large for a float (``1e400``) as infinity. No other JSON reader does, and neither the
databases nor the OpenAPI document can hold them, so every JSON the server parses (request
bodies, metadata files, changesets, import mappings) goes through ``loads``.

Text with a NUL character or half of a surrogate pair cannot be stored (PostgreSQL refuses
it, SQLite cuts it short in searches): ``unstorable`` finds the first such string, key or
value, and its JSON pointer.
"""

from __future__ import annotations

import json
import math
from typing import Any

from core.metadata.problems import pointer


MAX_DEPTH = 64  # how deep a JSON document may nest; Tessera's own nest 11 deep at most
TOO_DEEP = f"the JSON nests more than {MAX_DEPTH} levels deep; a Tessera document nests far less"


class RefusedJSON(ValueError):
    """JSON the server does not take: a constant or number standard JSON does not have, or nesting deeper than MAX_DEPTH."""


class TooDeep(RefusedJSON):
    """JSON nested deeper than MAX_DEPTH."""


def _refuse_constant(name: str) -> Any:
    raise RefusedJSON(f"{name} is not standard JSON; send a number or null")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise RefusedJSON(f"the number {text[:40]} is too large; numbers go up to about 1.8e308")
    return number


def loads(text: str | bytes) -> Any:
    """json.loads refusing NaN, Infinity, numbers beyond a float and nesting deeper than MAX_DEPTH with
    RefusedJSON (a ValueError); json.JSONDecodeError says where malformed text stops being JSON."""
    try:
        data = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise TooDeep(TOO_DEEP) from None
    if too_deep(data):
        raise TooDeep(TOO_DEEP)
    return data


def too_deep(data: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether parsed JSON nests more than ``limit`` arrays or objects deep (found level by level, without recursion)."""
    level = [data]
    for _ in range(limit + 1):
        containers = [value for value in level if isinstance(value, (dict, list))]
        if not containers:
            return False
        level = [child for value in containers for child in (value.values() if isinstance(value, dict) else value)]
    return True


def text_problem(text: str) -> str | None:
    """Why the databases cannot store or search this text, or None."""
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which text cannot hold"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains characters that are not valid Unicode text (half of a surrogate pair)"
    return None


def unstorable(data: Any) -> tuple[str, str] | None:
    """The JSON pointer and problem of the first string (key or value) in ``data`` that cannot be stored, or None.

    Walks with a stack rather than recursion: the data may be nested as deeply as the parser allowed."""
    stack: list[tuple[tuple, Any]] = [((), data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem:
                return pointer(*path), problem
        elif isinstance(value, dict):
            for key, item in value.items():
                problem = text_problem(key) if isinstance(key, str) else None
                if problem:
                    return pointer(*path, key), "the key " + problem
                stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, index), item) for index, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            return pointer(*path), f"{value} is not a number JSON can hold"
    return None
