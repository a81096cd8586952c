"""A person's full name, stored in a field kept current from the first and last name (a field's ``full_name_of``).

Written the way the name is written: "Wei Zhang" for a name in Latin letters (first, a space,
last), "张伟" for one in Chinese characters (last name first, no space). The record service
writes it with every create and every update of either part; schema sync fills it for the rows a
table already holds when the field is added.
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")


def full_name(first: Any, last: Any) -> str | None:
    """The name as written: family name first without a space in Chinese characters, else given name first."""
    first, last = str(first or "").strip(), str(last or "").strip()
    if not first and not last:
        return None
    if CJK.search(first + last):
        return last + first
    return " ".join(part for part in (first, last) if part)


def name_fields(fields: Iterable) -> list:
    """The object's fields kept as a full name (``full_name_of``)."""
    return [f for f in fields if f.spec.get("full_name_of") and not f.removed]


def with_full_names(named: Iterable, stored: Mapping | None, values: dict) -> dict:
    """``values`` with each full-name field (``named``: the object's ``name_fields``) written from the parts given,
    the stored ones filling in; on an update (``stored`` given) only when a part is among the values."""
    for fdef in named:
        parts = fdef.spec["full_name_of"]
        if stored is not None and parts["first"] not in values and parts["last"] not in values:
            continue
        held = {**(stored or {}), **values}
        values[fdef.name] = full_name(held.get(parts["first"]), held.get(parts["last"]))
    return values
