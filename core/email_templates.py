"""E-mail templates: metadata documents (kind ``email_template``) rendered with Jinja in a sandbox.

A template names an object and holds a subject, a text body and optionally an HTML body, each
in English and Simplified Chinese. Its variables:

* ``record``: the record's fields, by API name (``record.name``, ``record.amount``); a lookup
  reads as the linked record's name, with ``.id`` (``record.account``, ``record.account.id``);
  a field without a value reads as nothing. System fields (``record.id``, ``record.owner``,
  ``record.created_at``...) are there too.
* ``recipient``: ``name``, ``email``, ``username`` (empty for an address that is no user's),
  ``language`` (``en`` or ``zh-CN``).
* ``user``: who the mail is sent for (``name``, ``email``, ``username``), empty when the system sends it.
* ``object``: ``name`` and ``label`` (in the recipient's language).
* ``link``: the address of the record's page (TESSERA_BASE_URL + ``/r/<object>/<id>``).

Templates run in ``jinja2.sandbox.SandboxedEnvironment``: no attribute starting with ``_``, no
unsafe method, no access to Python's internals. The HTML body is autoescaped (a record's
``<b>`` arrives as text); the subject and the text body are not (they are not HTML).

At import, every text is parsed and compiled: a syntax error is refused with its line, and so is
a variable that is not one of the above, a field the object does not have (``record.amout``) or
a key of ``recipient``, ``user`` or ``object`` that does not exist, each at its JSON pointer.
At run time a template that fails (a filter raising on a value) raises RenderError, which fails
the job that renders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

from core.words import Sentence, hint, sentence

LANGUAGES = ("en", "zh-CN")
PARTS = ("subject", "body", "html")
VARIABLES = ("record", "recipient", "user", "object", "link")
KEYS = {  # what each variable other than record holds
    "recipient": ("name", "email", "username", "language"),
    "user": ("name", "email", "username"),
    "object": ("name", "label"),
}


class RenderError(Exception):
    """A template failed while it was rendered (a filter raising, a field that is gone)."""


def _finalize(value: Any) -> Any:
    """What a value prints as: nothing for a field without a value (not "None")."""
    return "" if value is None else value


def _environment(html: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=html, undefined=StrictUndefined, finalize=_finalize, trim_blocks=True,
                                lstrip_blocks=True, keep_trailing_newline=False, auto_reload=False, cache_size=400)


TEXT = _environment(html=False)
HTML = _environment(html=True)


def language_of(value: str | None) -> str:
    """A language as labels name it (en, zh-CN) from a user's language as it may be stored: zh_cn (the user object's
    picklist value), zh_CN, zh-CN, zh, en_US... Anything else is English."""
    text = (value or "").strip().replace("_", "-").lower()
    return "zh-CN" if text.startswith("zh") else "en"


def text_in(texts: Mapping[str, str] | None, lang: str) -> str | None:
    """A template's text in ``lang``, else in English."""
    if not texts:
        return None
    return texts.get(lang) or texts.get("en")


# --- checking ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TemplateProblem:
    """A problem with one text of a template: where in it (the part and language) and what."""

    part: str
    lang: str
    message: Sentence


def problems(body: Mapping, object_name: str, field_names: Iterable[str]) -> list[TemplateProblem]:
    """Every problem of a template's texts against its object's fields."""
    fields = set(field_names)
    found: list[TemplateProblem] = []
    for part in PARTS:
        for lang, source in (body.get(part) or {}).items():
            found += [TemplateProblem(part, lang, p) for p in text_problems(source, part == "html", object_name, fields)]
    return found


def text_problems(source: str, html: bool, object_name: str, fields: set[str]) -> list[Sentence]:
    """A syntax error (with its line), else every unknown variable, field and key the text uses."""
    environment = HTML if html else TEXT
    try:
        environment.compile(source)  # compiling also finds unknown filters and tests
        tree = environment.parse(source)
    except TemplateSyntaxError as exc:
        return [sentence("template_syntax", line=exc.lineno, message=exc.message or str(exc))]
    said: list[Sentence] = []
    free = _free_names(tree)
    for name, line in free.items():
        if name not in VARIABLES:
            near = Sentence("did_you_mean", {"name": f"record.{name}"}) if name in fields else hint(name, VARIABLES)
            said.append(sentence("template_unknown_variable", line=line, name=name, known=", ".join(VARIABLES), hint=near))
    for variable, key, line in _keys_used(tree, set(free)):
        if variable == "record":
            if key not in fields:
                said.append(sentence("template_unknown_field", line=line, field=key, object=object_name, hint=hint(key, fields)))
        elif variable in KEYS and key not in KEYS[variable]:
            said.append(sentence("template_unknown_key", line=line, variable=variable, name=key, known=", ".join(KEYS[variable]),
                                 hint=hint(key, KEYS[variable])))
    return said


def _free_names(tree: nodes.Template) -> dict[str, int]:
    """The variables a template reads from its context (not those it sets itself), with the line each is first read on."""
    from jinja2 import meta  # noqa: PLC0415

    undeclared = meta.find_undeclared_variables(tree)
    lines: dict[str, int] = {}
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name in undeclared and node.name not in lines:
            lines[node.name] = node.lineno
    return {name: lines.get(name, 1) for name in sorted(undeclared, key=lambda n: (lines.get(n, 1), n))}


def _keys_used(tree: nodes.Template, free: set[str]) -> Iterator[tuple[str, str, int]]:
    """(variable, key, line) for each ``variable.key`` and ``variable["key"]`` of a context variable."""
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        target = node.node
        if not isinstance(target, nodes.Name) or target.ctx != "load" or target.name not in free:
            continue
        if isinstance(node, nodes.Getattr):
            yield target.name, node.attr, node.lineno
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            yield target.name, node.arg.value, node.lineno


# --- rendering ---------------------------------------------------------------------------------


class Linked(str):
    """A lookup's value in a template: reads as the linked record's name; ``.id`` is its id."""

    id: int | None
    label: str

    def __new__(cls, value: Mapping) -> "Linked":
        made = super().__new__(cls, str(value.get("label") or value.get("id") or ""))
        made.id, made.label = value.get("id"), str(value.get("label") or "")
        return made


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str | None


def variables(record: Mapping, obj: Any, lang: str, recipient: Mapping | None, user: Mapping | None, link: str,
              field_names: Iterable[str]) -> dict[str, Any]:
    """The template's variables: every field of the object (those the record lacks read as nothing)."""
    values: dict[str, Any] = {name: None for name in field_names}
    for name, value in record.items():
        values[name] = Linked(value) if isinstance(value, Mapping) and "id" in value else value
    person = {key: "" for key in KEYS["recipient"]} | {k: v or "" for k, v in (recipient or {}).items() if k in KEYS["recipient"]}
    person["language"] = lang
    sender = {key: "" for key in KEYS["user"]} | {k: v or "" for k, v in (user or {}).items() if k in KEYS["user"]}
    return {"record": values, "recipient": person, "user": sender, "link": link,
            "object": {"name": obj.name, "label": obj.label(lang)}}


def render(body: Mapping, lang: str, context: Mapping[str, Any]) -> Rendered:
    """The template in ``lang`` (else English) with ``context``; RenderError saying which text failed and why."""
    subject = " ".join(_render(TEXT, body["subject"], lang, context, "subject").split())  # one line, as a header must be
    text = _render(TEXT, body["body"], lang, context, "body")
    html = _render(HTML, body["html"], lang, context, "html") if body.get("html") else None
    return Rendered(subject, text, html)


def _render(environment: SandboxedEnvironment, texts: Mapping[str, str], lang: str, context: Mapping[str, Any], part: str) -> str:
    source = text_in(texts, lang) or ""
    shown = lang if texts.get(lang) else "en"
    try:
        return environment.from_string(source).render(context)
    except TemplateError as exc:
        raise RenderError(f"the {part} ({shown}) failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - a filter or a value raising: said, never a crash of the worker
        raise RenderError(f"the {part} ({shown}) failed: {type(exc).__name__}: {exc}") from exc
