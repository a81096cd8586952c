"""A record form posted: what it asks the record service to store, and how a refusal is shown.

A refusal is shown where the person can act on it: beside the input of a field on the form,
else at the top of the form with the field's name. No save fails without saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core import field_conditions
from core.metadata.model import ObjectDef
from core.records import Forbidden, NotFound, RecordError, RecordValidationError
from core.records.values import json_value
from core.runtime import SYSTEM_FIELD_SPECS
from core.validation import FieldError
from core.words import labelled, say
from ui import lookups
from ui.context import Page, singular
from ui.fields import Column, form_value, from_form
from ui.i18n import label

SAVE_REFUSALS = (RecordValidationError, RecordError)  # Conflict, a RecordError, is answered before them
MANY_VALUED = ("checkbox", "multiselect", "links")  # inputs a browser leaves out when nothing is chosen


@dataclass
class Submission:
    """The form's inputs: ``values`` for the record service; lookups whose text named no single record
    keep that text in ``typed`` and why in ``problems``."""

    values: dict[str, Any] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)


@dataclass
class FormErrors:
    """A refused save: messages beside the fields on the form, and the others for the top of the form."""

    fields: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)


@dataclass
class FormState:
    """What the form's current values make of its conditional fields (core/field_conditions.py): the fields hidden
    (visible_if false), those required now (required_if true), the values each dependent picklist allows, and the
    fields whose change redraws the form."""

    hidden: set[str] = field(default_factory=set)
    required: set[str] = field(default_factory=set)
    allowed: dict[str, list[str]] = field(default_factory=dict)
    redraws: set[str] = field(default_factory=set)


def form_state(page: Page, obj: ObjectDef, values: dict) -> FormState:
    """The conditions computed on ``values`` (the record's under the form's), server-side, as the write pipeline does."""
    state = FormState()
    fetch = _fetcher(page)
    for fdef in obj.active_fields():
        depends = fdef.spec.get("depends_on")
        if depends:
            state.allowed[fdef.name] = field_conditions.allowed_values(fdef, values, obj) or []
            state.redraws.add(depends["field"])
        visible, required = fdef.conditions.get("visible_if"), fdef.conditions.get("required_if")
        if visible is not None:
            state.redraws |= field_conditions.reads(visible)
            if not field_conditions.holds(visible, values, fetch):
                state.hidden.add(fdef.name)
        if required is not None:
            state.redraws |= field_conditions.reads(required)
            if field_conditions.holds(required, values, fetch):
                state.required.add(fdef.name)
    return state


def _fetcher(page: Page):
    def fetch(object_name: str, record_id: int) -> dict | None:
        try:
            return page.runtime.records.get(page.actor, object_name, record_id)
        except (NotFound, Forbidden):
            return None
    return fetch


def without_hidden(page: Page, obj: ObjectDef, sent: Submission, record: dict | None = None) -> Submission:
    """What a form sends less its hidden fields: a field its visible_if hides keeps what it holds."""
    held = {name: form_value(record, name) for name in (record or {})}
    hidden = form_state(page, obj, {**held, **sent.values}).hidden
    sent.values = {name: value for name, value in sent.values.items() if name not in hidden}
    return sent


def expression_defaults(page: Page, obj: ObjectDef, preset: dict, given: dict) -> dict:
    """The new-record form's defaults by expression, computed on what it starts with, as the API shows values."""
    found, _problems = field_conditions.default_values(obj, preset, given, _fetcher(page))
    return {name: json_value(obj.fields[name].type.format(value, obj.fields[name].spec)) for name, value in found.items()}


def submitted(page: Page, columns: list[Column], data: dict, record: dict | None = None) -> Submission:
    """The inputs of the fields the user may change, as the record service takes them. A lookup narrowed by
    other fields (its layout's ``narrow_by``) is resolved last, within what the form (else ``record``) holds."""
    sent, picked = Submission(), []
    for col in columns:
        if not col.editable or col.widget == "readonly":
            continue
        if col.widget == "lookup" and f"_{col.name}" in data:
            picked.append(col)
        elif col.name in data or col.widget in MANY_VALUED:
            sent.values[col.name] = from_form(col.field, data.get(col.name), page.zone)
    for col in sorted(picked, key=lambda c: bool(c.narrowed_by)):
        _take_lookup(page, col, data, sent, {**(record or {}), **sent.values})
    return sent


def _take_lookup(page: Page, col: Column, data: dict, sent: Submission, held: dict) -> None:
    text = _last(data.get(f"_{col.name}"))
    target = page.meta().object(col.field.spec["target"])
    within = lookups.Within.of(page, col.field, held) if col.narrowed_by else None
    choice = lookups.choose(page, target, from_form(col.field, data.get(col.name), page.zone), text, within)
    if choice.problem is None:
        sent.values[col.name] = choice.value
    else:
        sent.typed[col.name], sent.problems[col.name] = text, choice.problem


def _last(raw: Any) -> str:
    if isinstance(raw, list):
        raw = raw[-1] if raw else ""
    return "" if raw is None else str(raw)


def refused(page: Page, obj: ObjectDef, columns: list[Column], exc: Exception) -> tuple[FormErrors, int]:
    """How a refused save is shown, and its status."""
    on_form = {c.name for c in columns}
    if isinstance(exc, RecordValidationError):
        return _validation_errors(page, obj, on_form, exc), 422
    status = 403 if isinstance(exc, (Forbidden, NotFound)) else getattr(exc, "status", 400)
    return FormErrors(general=[say(exc, page.lang)]), status


def _validation_errors(page: Page, obj: ObjectDef, on_form: set[str], exc: RecordValidationError) -> FormErrors:
    errors = FormErrors()
    for error in exc.errors:
        if exc.object == obj.name and error.field in on_form:
            known, message = errors.fields.get(error.field), error.worded(page.lang)
            errors.fields[error.field] = message if known is None else f"{known}; {message}"
        else:
            errors.general.append(_named(page, obj, exc.object, error))
    return errors


def _named(page: Page, obj: ObjectDef, object_name: str, error: FieldError) -> str:
    """A field's message for the top of the form: after the field's name, and its object's when it is another's
    (a record a plugin's hook writes)."""
    owner = page.meta().objects.get(object_name)
    fdef = owner.fields.get(error.field) if owner is not None else None
    spec = fdef.spec if fdef is not None else SYSTEM_FIELD_SPECS.get(error.field, {})
    name = label(spec.get("label"), page.lang, error.field)
    if owner is not None and owner.name != obj.name:
        name = f"{singular(owner, page.lang)} › {name}" if name else singular(owner, page.lang)
    message = error.worded(page.lang)
    return labelled(name, message, page.lang) if name else message
