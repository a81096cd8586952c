"""Setup: e-mail templates. The list of templates, an editor (name, object, subject and bodies in English and
Chinese) and a preview of the form as it stands, rendered against a chosen record for the reader in either
language, with every problem (a syntax error's line, an unknown field, a filter that fails) shown on the page.

Saving goes through the metadata service like every other Setup change (checked as an import would check it,
written to the audit log, applied live); a preview checks the same way and changes nothing."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from core.email_templates import LANGUAGES, RenderError, render, variables
from core.metadata.model import SYSTEM_FIELDS
from core.metadata.problems import MetadataError
from core.records import RecordError
from core.words import say
from ui.context import Page, plural
from ui.fields import record_title
from ui.mass_actions import one
from ui.record_pages import DB, FORM
from ui.setup import attempt, done, layer_title, not_found, service, setup_page, who

PATH = "/setup/email-templates"
PREVIEW_RECORDS = 50  # the latest records of the object offered for a preview
LANGUAGE_INPUTS = (("en", "en"), ("zh-CN", "zh"))  # a language and the suffix of its inputs' names


class EmailTemplatesSetup(Controller):
    path = PATH
    include_in_schema = False

    @get("", **DB)
    def templates(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        return refusal or _list(page)

    @get("/new", **DB)
    def new(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        chosen = request.query_params.get("object", "")
        return _editor(page, None, {"object": chosen} if chosen else {}, [])

    @post("", **DB)
    def create(self, request: Request, data: FORM) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        name = one(data, "name").strip()
        if name in page.meta().email_templates:
            return _editor(page, None, data, [page.t("There is already an e-mail template called {name}.", name=name)], status=422)
        errors = attempt(page, lambda: service(page).put_email_template(name, _body(data), who(page), source=f"Setup: e-mail template {name}"))
        if errors:
            return _editor(page, None, data, errors, status=422)
        return done(page, f"{PATH}/{name}", page.t("E-mail template saved."))

    @post("/preview", **DB)
    def preview(self, request: Request, data: FORM) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        name = one(data, "original").strip() or None
        if name is not None and name not in page.meta().email_templates:
            return not_found(page, name)
        shown, errors = _preview(page, data)
        return _editor(page, name, data, errors, status=422 if errors else 200, preview=shown)

    @get("/{name:str}", **DB)
    def template(self, request: Request, name: FromPath[str]) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        if name not in page.meta().email_templates:
            return not_found(page, name)
        return _editor(page, name, {}, [])

    @post("/{name:str}", **DB)
    def save(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        if name not in page.meta().email_templates:
            return not_found(page, name)
        errors = attempt(page, lambda: service(page).put_email_template(name, _body(data), who(page), source=f"Setup: e-mail template {name}"))
        if errors:
            return _editor(page, name, data, errors, status=422)
        return done(page, f"{PATH}/{name}", page.t("E-mail template saved."))

    @post("/{name:str}/remove", **DB)
    def remove(self, request: Request, name: FromPath[str]) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        if name not in page.meta().email_templates:
            return not_found(page, name)
        errors = attempt(page, lambda: service(page).remove_email_template(name, who(page)))
        if errors:
            return _editor(page, name, {}, errors, status=409)
        still = name in page.runtime.current_metadata().email_templates
        return done(page, f"{PATH}/{name}" if still else PATH,
                    page.t("Customization removed: the template defined by {source} applies again.", source=_source(page, name))
                    if still else page.t("E-mail template removed."))


def _source(page: Page, name: str) -> str:
    return page.runtime.current_metadata().email_template_sources.get(name, "")


def _body(data: dict) -> dict:
    """The template the form describes (a language left empty is left out: its readers get the English)."""
    body: dict[str, Any] = {"object": one(data, "object").strip()}
    for part in ("subject", "body", "html"):
        texts = {lang: one(data, f"{part}_{suffix}").replace("\r\n", "\n") for lang, suffix in LANGUAGE_INPUTS}
        texts = {lang: text for lang, text in texts.items() if text.strip()}
        if texts or part != "html":
            body[part] = texts
    return body


def _list(page: Page) -> Response:
    meta = page.meta()
    rows = []
    for name in sorted(meta.email_templates):
        body, layer = meta.email_templates[name], meta.email_template_layers[name]
        obj = meta.objects.get(body["object"])
        rows.append({"name": name, "object": plural(obj, page.lang) if obj else body["object"],
                     "subject": body["subject"].get(page.lang) or body["subject"].get("en", ""),
                     "defined_by": layer_title(page, layer)})
    return page.render("setup/email_templates.html", title=page.t("E-mail templates"), rows=rows,
                       done=page.request.query_params.get("done", ""))


def _editor(page: Page, name: str | None, data: dict, errors: list[str], status: int = 200, preview: dict | None = None) -> Response:
    """The editor of template ``name`` (None: a new one), with what the form sent when it is shown again."""
    meta = page.meta()
    stored = meta.email_templates.get(name, {}) if name else {}
    if data and "subject_en" in data:  # the form as sent, shown again with its problems or its preview
        values = {key: one(data, key) for key in ("name", "object", "record", "language",
                                                  *(f"{p}_{s}" for p in ("subject", "body", "html") for _l, s in LANGUAGE_INPUTS))}
    else:
        values = {"name": name or "", "object": stored.get("object") or one(data, "object") if data else stored.get("object", ""),
                  "record": "", "language": page.lang}
        for part in ("subject", "body", "html"):
            for lang, suffix in LANGUAGE_INPUTS:
                values[f"{part}_{suffix}"] = (stored.get(part) or {}).get(lang, "")
    if name:
        values["name"] = name
    objects = sorted((o for o in meta.objects.values()), key=lambda o: plural(o, page.lang))
    obj = meta.objects.get(values["object"])
    records = _records(page, obj) if obj is not None else []
    layer = meta.email_template_layers.get(name) if name else None
    title = page.t("E-mail template {name}", name=name) if name else page.t("New e-mail template")
    return page.render("setup/email_template.html", status=status, title=title, name=name, values=values,
                       objects=[(o.name, plural(o, page.lang)) for o in objects], records=records, obj=obj,
                       fields=_fields(page, obj), languages=[("en", page.t("English")), ("zh-CN", page.t("Simplified Chinese"))],
                       custom=layer == "customization", defined_by=meta.email_template_sources.get(name, "") if name else "",
                       replaces_other=bool(name) and layer == "customization" and _defined_elsewhere(page, name),
                       preview=preview, errors=errors, done=page.request.query_params.get("done", ""))


def _defined_elsewhere(page: Page, name: str) -> bool:
    """Whether the base or a plugin defines a template of this name (which removing the customization brings back)."""
    return any(d.kind == "email_template" and d.body.get("name") == name for d in page.runtime.defined_documents())


def _fields(page: Page, obj) -> list[tuple[str, str]]:
    """The variables ``record.x`` the object offers, with their labels, for the help beside the editor."""
    if obj is None:
        return []
    return [(f.name, f.label(page.lang)) for f in obj.active_fields()] + [(name, name) for name in SYSTEM_FIELDS if name != "deleted_at"]


def _records(page: Page, obj) -> list[tuple[int, str]]:
    """The latest records of the object the reader may see, to preview with."""
    try:
        found = page.list_records(obj.name, {"limit": PREVIEW_RECORDS, "sort": "-updated_at"})
    except (RecordError, LookupError, PermissionError):
        return []
    return [(record["id"], record_title(obj, record, page.lang)) for record in found.items]


def _preview(page: Page, data: dict) -> tuple[dict | None, list[str]]:
    """The form's template checked as saving would check it (nothing is saved), then rendered against the chosen record
    for the reader as recipient, in the chosen language; or the problems."""
    name = one(data, "name").strip() or one(data, "original").strip() or "preview"
    body = _body(data)
    errors = attempt(page, lambda: service(page).put_email_template(name, body, who(page), source=f"Setup: e-mail template {name}",
                                                                   dry_run=True))
    if errors:
        return None, errors
    obj = page.meta().objects[body["object"]]
    chosen = one(data, "record").strip()
    if not chosen.isdigit():
        return None, [page.t("Choose a record of {object} to preview with.", object=plural(obj, page.lang))]
    try:
        record = page.runtime.records.get(page.actor, obj.name, int(chosen))
    except (RecordError, LookupError, PermissionError) as exc:
        return None, [page.t("The record {id} cannot be read: {reason}", id=chosen, reason=say(exc, page.lang))]
    lang = one(data, "language") if one(data, "language") in LANGUAGES else page.lang
    reader = _reader(page)
    link = f"{page.runtime.settings.base_url}/r/{obj.name}/{record['id']}"
    context = variables(record, obj, lang, reader, reader, link, [*obj.fields, *SYSTEM_FIELDS])
    try:
        rendered = render(body, lang, context)
    except RenderError as exc:
        return None, [page.t("The template failed on this record: {reason}", reason=str(exc))]
    return {"subject": rendered.subject, "text": rendered.text, "html": rendered.html, "language": lang,
            "record": record_title(obj, record, page.lang), "to": reader.get("email") or reader.get("username")}, []


def _reader(page: Page) -> dict:
    """The reader as the preview's recipient and sender: their name, address and username."""
    try:
        user = page.runtime.records.get(page.actor, "user", page.user.user_id)
    except (RecordError, LookupError, PermissionError, MetadataError):
        user = {}
    return {"name": user.get("full_name") or page.user.username, "email": user.get("email") or "", "username": page.user.username}
