"""Stage gates: what it takes to move a record along its object's process field.

An object's ``stage_gates`` (metadata, checked when it loads: core/metadata/model.py) hold, for a
value of the process field (a deal's stage, a ticket's status), what it takes to enter it:

- ``from``: the values a record may come from (a new record may start at the value; a record
  without a value comes from none of them);
- ``required``: fields that must have a value, given in the same save or before; while the record
  is at the value they may not be emptied;
- ``entered_by``: the permission sets whose users may move a record into it, or create one at it;
- ``left_by``: the permission sets whose users may move a record out of it.

A key not given does not restrict. Trusted code passes the permission checks: an actor without a
permission set (the command line, scheduled jobs, the demo) and plugins' writes inside a hook;
``from`` and ``required`` hold for everyone. ``gate_errors`` reads nothing but its arguments; the
record service calls it after validation on every create and update, so a form, the path, the
board, an inline edit, a mass update, an import and the API are all held to the same gates.
"""

from __future__ import annotations

from typing import Any, Mapping

from core.metadata.model import ObjectDef
from core.validation import FieldError
from core.words import LANGUAGES, Sentence, sentence

EMPTY = (None, "", [])


def gate_errors(obj: ObjectDef, stored: Mapping | None, values: Mapping, actor: Any, trusted: bool = False) -> list[FieldError]:
    """The problems with this write under the object's gates: [] when it may go ahead.

    ``stored``: the record's row as it is (None on create); ``values``: the write's validated values (on create,
    with the defaults); ``actor``: who writes (``permission_set`` None: trusted code); ``trusted``: a plugin's write
    inside a hook. A refused move is reported on the process field, a missing value on the field it is missing from.
    """
    name, gates = obj.process_field, obj.stage_gates
    process = obj.fields.get(name or "")
    if not gates or process is None:
        return []
    before = stored.get(name) if stored is not None else None
    after = values[name] if name in values else before
    may = trusted or getattr(actor, "permission_set", None) is None
    words = _Words(obj, process)
    errors: list[FieldError] = []
    if after == before and stored is not None:
        gate = gates.get(after) or {}
        return [FieldError(field, sentence("gate_emptied", required=words.field(field), field=words.field(name), value=words.value(after)))
                for field in gate.get("required", []) if field in values and values[field] in EMPTY]
    leaving = gates.get(before) if before is not None else None
    if leaving and leaving.get("left_by") and not may and actor.permission_set not in leaving["left_by"]:
        errors.append(FieldError(name, sentence("gate_left_by", field=words.field(name), current=words.value(before),
                                                sets=words.sets(leaving["left_by"]))))
    entering = gates.get(after) if after is not None else None
    if not entering:
        return errors
    if stored is not None and "from" in entering and before not in entering["from"]:
        allowed = words.values(entering["from"])
        errors.append(FieldError(name, sentence("gate_from", field=words.field(name), value=words.value(after), allowed=allowed,
                                                current=words.value(before)) if before is not None
                                 else sentence("gate_from_none", field=words.field(name), value=words.value(after), allowed=allowed)))
    if entering.get("entered_by") and not may and actor.permission_set not in entering["entered_by"]:
        errors.append(FieldError(name, sentence("gate_entered_by", field=words.field(name), value=words.value(after),
                                                sets=words.sets(entering["entered_by"]))))
    for field in entering.get("required", []):
        held = values[field] if field in values else (stored.get(field) if stored is not None else None)
        if held in EMPTY:
            errors.append(FieldError(field, sentence("gate_required", required=words.field(field), field=words.field(name),
                                                     value=words.value(after))))
    return errors


class _Words:
    """The labels a gate's sentences name, each in both languages (said in the reader's when the sentence is)."""

    def __init__(self, obj: ObjectDef, process) -> None:
        self.obj = obj
        self.labels = {v["value"]: v.get("label") or {} for v in process.spec.get("values", [])}

    def field(self, name: str) -> Sentence:
        fdef = self.obj.fields.get(name)
        return said(fdef.spec.get("label") if fdef is not None else None, name)

    def value(self, value: str) -> Sentence:
        return said(self.labels.get(value), value)

    def values(self, values: list[str]) -> Sentence:
        """“Proposal or Negotiation”; in Chinese each quoted: “方案报价”或“商务谈判”."""
        return one_of([self.labels.get(v) or {} for v in values], [str(v) for v in values], quoted=True)

    def sets(self, names: list[str]) -> Sentence:
        return one_of([self.obj.gate_sets.get(n) or {} for n in names], names, quoted=False)


def said(labels: Mapping | None, fallback: str) -> Sentence:
    """A metadata label ({"en": ..., "zh-CN": ...}) as a Sentence said in the reader's language, else English, else ``fallback``."""
    labels = labels or {}
    return Sentence("label", words={lang: _literal(labels.get(lang) or labels.get("en") or fallback) for lang in LANGUAGES})


def one_of(labels: list[Mapping], fallbacks: list[str], quoted: bool) -> Sentence:
    """Several labels joined as a choice: "A, B or C"; 「A、B或C」 in Chinese (with “” around each when ``quoted``)."""
    worded = {}
    for lang in LANGUAGES:
        parts = [(label.get(lang) or label.get("en") or fallback) for label, fallback in zip(labels, fallbacks)]
        if lang == "zh-CN":
            parts = [f"“{part}”" if quoted else part for part in parts]
            text = "、".join(parts[:-1]) + "或" + parts[-1] if len(parts) > 1 else parts[0]
        else:
            text = ", ".join(parts[:-1]) + " or " + parts[-1] if len(parts) > 1 else parts[0]
        worded[lang] = _literal(text)
    return Sentence("label", words=worded)


def _literal(text: str) -> str:
    """Text kept as it is when a sentence is formatted: braces doubled."""
    return str(text).replace("{", "{{").replace("}", "}}")
