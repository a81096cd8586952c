"""Checking approval processes against the metadata: their object, conditions, approvers, values and template."""

from __future__ import annotations

from typing import Mapping

from core.automations.documents import _object, condition_problems, recipient_problems, values_problems
from core.metadata.model import MetadataSet
from core.metadata.problems import Problem, pointer
from core.words import hint, sentence

VALUE_KEYS = ("on_submit", "on_approve", "on_reject", "on_recall")


def problems(meta: MetadataSet, body: Mapping, source: str, at: str = "") -> list[Problem]:
    said: list = []
    obj = _object(meta, body.get("object"), "/object", said)
    if obj is not None:
        said += condition_problems(meta, obj, body.get("entry"), "/entry", previous_allowed=False)
        for i, step in enumerate(body.get("steps") or []):
            where = pointer("steps", i)
            said += condition_problems(meta, obj, step.get("condition"), where + "/condition", previous_allowed=False)
            said += recipient_problems(obj, step.get("approvers") or [], where + "/approvers")
        for key in VALUE_KEYS:
            if body.get(key):
                said += values_problems(meta, obj, obj, body[key], "/" + key)
        name = body.get("email_template")
        if name is not None:
            template = meta.email_templates.get(name)
            if template is None:
                said.append(("/email_template", sentence("rule_no_template", name=name, hint=hint(name, meta.email_templates))))
            elif template["object"] != obj.name:
                said.append(("/email_template", sentence("rule_template_object", name=name, object=template["object"], rule_object=obj.name)))
    return [Problem(source, at + where, message) for where, message in said]
