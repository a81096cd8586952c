"""Setup: implementers configure objects, fields, picklists, layouts, roles, users and the configuration
in the browser, without code.

Every change goes through core's services, the same ones /api/meta uses (the metadata service;
core/roles.py for roles, permission sets and the roles users are given), so it is checked by
the meta-schemas and the rules on privileged permission sets, written to the audit log and
applied live in every process.
A refused change shows its problems above the form and leaves the configuration as it was.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Callable
from urllib.parse import quote

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, QueryParameter
from litestar.response import Redirect

from core.api.security import client_ip
from core.auth import AccountError
from core import jsontext
from core.metadata.layouts import LayoutView, Section
from core.metadata.model import ObjectDef, UnknownObject
from core.metadata.problems import MetadataError
from core.metadata.service import MetadataService
from core.records import RecordError
from core.roles import RoleError, Roles
from core.schema_sync import SchemaChangeRefused
from core.validation import RecordValidationError
from core.words import say
from ui import setup_forms as forms
from ui.context import VARY, Page, page_for, plural, sign_in_first
from ui.i18n import label

DB = {"sync_to_thread": True}
FORM = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
UPLOAD = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.MULTI_PART)]
LAYOUT_KINDS = ("list", "form", "detail", "kanban")
CHANGESET_LIMIT = 2 * 1024 * 1024
REFUSALS = (MetadataError, SchemaChangeRefused, PermissionError, LookupError, UnknownObject, AccountError, RoleError,
            RecordValidationError, RecordError)


def setup_page(request: Request) -> tuple[Page, Response | None]:
    page = page_for(request)
    if page.user is None:
        return page, sign_in_first(request)
    if not page.access.may_customize:
        return page, page.render("error.html", status=403, title=page.t("Not allowed"),
                                 message=page.t("Setup is for administrators and customizers."))
    return page, None


def attempt(page: Page, change: Callable[[], Any]) -> list[str]:
    """Run a change; the messages that refused it (empty when it was applied)."""
    try:
        change()
    except MetadataError as exc:
        return [f"{p.pointer}: {p.in_(page.lang)}" if p.pointer else p.in_(page.lang) for p in exc.problems]
    except RecordValidationError as exc:
        return [f"{e.field}: {e.worded(page.lang)}" if e.field else e.worded(page.lang) for e in exc.errors]
    except REFUSALS as exc:
        return [say(exc, page.lang)]
    return []


def done(page: Page, target: str, message: str) -> Response:
    """Back to the page, with what was done in the flash line."""
    separator = "&" if "?" in target else "?"
    return Redirect(f"{target}{separator}done={quote(message)}", status_code=303, headers=VARY)


def service(page: Page) -> MetadataService:
    return MetadataService(page.runtime, page.access)


def role_service(page: Page) -> Roles:
    return Roles(page.runtime)


def who(page: Page):
    return page.user.who(client_ip(page.request))


def setup_object(request: Request, name: str, field_name: str | None = None) -> tuple[Page, ObjectDef | None, Response | None]:
    """A Setup page about one object (and one of its fields): the page, the object, or why not."""
    page, refusal = setup_page(request)
    if refusal:
        return page, None, refusal
    obj = object_or_none(page, name)
    if obj is None or (field_name is not None and field_name not in obj.fields):
        return page, None, not_found(page, name if field_name is None else f"{name}.{field_name}")
    return page, obj, None


def object_or_none(page: Page, name: str) -> ObjectDef | None:
    try:
        return page.meta().object(name)
    except UnknownObject:
        return None


def not_found(page: Page, what: str) -> Response:
    return page.render("error.html", status=404, title=page.t("Not found"), message=page.t("There is no page for '{name}'.", name=what))


class SetupPages(Controller):
    path = "/setup"
    include_in_schema = False

    @get("/", **DB)
    def index(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        return page.render("setup/index.html", title=page.t("Setup"))

    # --- objects -----------------------------------------------------------------------------

    @get("/objects", **DB)
    def objects(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        return refusal or objects_page(page, {}, [])

    @post("/objects", **DB)
    def create_object(self, request: Request, data: FORM) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        spec = new_object(data)
        errors = attempt(page, lambda: service(page).create_object(spec, who(page)))
        if errors:
            return objects_page(page, data, errors, status=422)
        return done(page, f"/setup/objects/{spec['name']}", page.t("Object created."))

    @get("/objects/{name:str}", **DB)
    def object_detail(self, request: Request, name: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        return object_page(page, obj, {}, [])

    @post("/objects/{name:str}", **DB)
    def change_object(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        changes = {"label": forms.label_from(data, "label"), "plural_label": forms.label_from(data, "plural")}
        errors = attempt(page, lambda: service(page).change_object(name, changes, who(page)))
        return object_page(page, obj, data, errors, status=422) if errors else done(page, f"/setup/objects/{name}", page.t("Saved."))

    @post("/objects/{name:str}/remove", **DB)
    def remove_object(self, request: Request, name: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        errors = attempt(page, lambda: service(page).remove_object(name, who(page)))
        return object_page(page, obj, {}, errors, status=409) if errors else done(page, "/setup/objects", page.t("Object removed; its table and data are kept."))

    # --- fields ------------------------------------------------------------------------------

    @post("/objects/{name:str}/fields", **DB)
    def add_field(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        spec = forms.field_spec(data, {t.name: t for t in page.runtime.registry.types()})
        return add_field_shown(page, obj, spec, data, lambda errors: object_page(page, obj, data, errors, status=422),
                               page.t("Field added."))

    @get("/objects/{name:str}/fields/{field_name:str}", **DB)
    def field_detail(self, request: Request, name: FromPath[str], field_name: FromPath[str]) -> Response:
        page, obj, refusal = setup_object(request, name, field_name)
        if refusal:
            return refusal
        return field_page(page, obj, field_name, {}, [])

    @post("/objects/{name:str}/fields/{field_name:str}", **DB)
    def change_field(self, request: Request, name: FromPath[str], field_name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name, field_name)
        if refusal:
            return refusal
        fdef = obj.fields[field_name]
        changes = {"label": forms.label_from(data, "label"), **forms.field_options(data, fdef.type)}
        if fdef.computed:  # a formula's or roll-up's definition is its editor's; required, bounds and search do not apply
            changes = {k: v for k, v in changes.items() if k in ("label", "help")}
        if "help" not in changes and fdef.spec.get("help"):
            changes["help"] = None
        if not fdef.computed:
            from ui.setup_conditions import condition_changes  # noqa: PLC0415 - it builds on this module

            changes.update(condition_changes(data, fdef))
        errors = attempt(page, lambda: service(page).change_field(name, field_name, changes, who(page)))
        if errors:
            return field_page(page, obj, field_name, data, errors, status=422)
        return done(page, f"/setup/objects/{name}/fields/{field_name}", page.t("Saved."))

    @post("/objects/{name:str}/fields/{field_name:str}/values", **DB)
    def change_values(self, request: Request, name: FromPath[str], field_name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name, field_name)
        if refusal:
            return refusal
        if "values" not in obj.fields[field_name].type.options:
            return not_found(page, f"{name}.{field_name}")
        values, default = forms.picklist_values(data, obj.fields[field_name].spec.get("values", []))
        changes = {"values": values, "default": default}
        errors = attempt(page, lambda: service(page).change_field(name, field_name, changes, who(page)))
        if errors:
            return field_page(page, obj, field_name, data, errors, status=422)
        return done(page, f"/setup/objects/{name}/fields/{field_name}", page.t("Picklist values saved."))

    @post("/objects/{name:str}/fields/{field_name:str}/remove", **DB)
    def remove_field(self, request: Request, name: FromPath[str], field_name: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name, field_name)
        if refusal:
            return refusal
        restore = forms.text(data, "action") == "restore"
        errors = attempt(page, lambda: service(page).remove_field(name, field_name, who(page), removed=not restore))
        if errors:
            return field_page(page, obj, field_name, {}, errors, status=409)
        message = page.t("Field restored with its data.") if restore else page.t("Field removed; its data is kept and it can be restored.")
        return done(page, f"/setup/objects/{name}/fields/{field_name}", message)

    # --- layouts -------------------------------------------------------------------------------

    @get("/objects/{name:str}/layouts", **DB)
    def layouts(self, request: Request, name: FromPath[str], kind: FromQuery[str] = "list") -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        if kind not in LAYOUT_KINDS:
            return not_found(page, f"{name}: {kind}")
        return layout_page(page, obj, kind, {}, [])

    @post("/objects/{name:str}/layouts/{kind:str}", **DB)
    def save_layout(self, request: Request, name: FromPath[str], kind: FromPath[str], data: FORM) -> Response:
        page, obj, refusal = setup_object(request, name)
        if refusal:
            return refusal
        if kind not in LAYOUT_KINDS:
            return not_found(page, f"{name}: {kind}")
        current = {k: v for k, v in current_layout(page, obj, kind).items() if k != "generated"}
        if kind == "list":
            layout = forms.list_layout(data, current, name)
        elif kind == "kanban":
            layout = forms.kanban_layout(data, current, name)
        else:
            layout = forms.sections_layout(data, current, name, kind)
        if layout is None:
            change = lambda: service(page).remove_layout(f"{name}:kanban:default", who(page))  # noqa: E731
        else:
            change = lambda: service(page).put_layout(layout, who(page))  # noqa: E731
        errors = attempt(page, change)
        if errors:
            return layout_page(page, obj, kind, data, errors, status=422)
        return done(page, f"/setup/objects/{name}/layouts?kind={kind}", page.t("Layout saved."))

    # --- roles and permissions ------------------------------------------------------------------

    @get("/roles", **DB)
    def roles(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        return refusal or roles_page(page, {}, [])

    @post("/roles", **DB)
    def create_role(self, request: Request, data: FORM) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        name = forms.text(data, "name") or forms.identifier(forms.text(data, "label_en"))
        body = {"label": forms.label_from(data, "label"), "objects": {}}
        role_name = label(body["label"], page.lang, name)
        errors = attempt(page, lambda: role_service(page).create(page.actor, who(page), name, body, role_name))
        if errors:
            return roles_page(page, data, errors, status=422)
        return done(page, f"/setup/roles/{name}", page.t("Role created; choose what it may do."))

    @get("/roles/{name:str}", **DB)
    def role(self, request: Request, name: FromPath[str], object_name: Annotated[str, QueryParameter(name="object")] = "") -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        current = page.meta().permission_sets.get(name)
        if current is None:
            return not_found(page, name)
        return role_page(page, name, object_name, {}, [])

    @post("/roles/{name:str}", **DB)
    def save_role(self, request: Request, name: FromPath[str], data: FORM) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        meta = page.meta()
        current = meta.permission_sets.get(name)
        if current is None:
            return not_found(page, name)
        field_object = forms.text(data, "_object")
        obj = meta.objects.get(field_object)
        body = forms.permission_set(data, current, matrix_objects(page), field_object if obj else None,
                                    [f.name for f in obj.active_fields()] if obj else [])
        errors = attempt(page, lambda: role_service(page).save(page.actor, who(page), name, body, source=f"POST /setup/roles/{name}"))
        if errors:
            return role_page(page, name, field_object, data, errors, status=422)
        return done(page, f"/setup/roles/{name}" + (f"?object={field_object}" if obj else ""), page.t("Permissions saved."))

    # --- users and teams ---------------------------------------------------------------------------

    @get("/users", **DB)
    def users(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        return refusal or users_page(page, {}, [])

    @post("/users", **DB)
    def add_user(self, request: Request, data: FORM) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        errors = user_form_problems(page, data)
        if not errors:
            errors = attempt(page, lambda: page.request.app.state.accounts.add_user(
                forms.text(data, "username"), forms.text(data, "password"), forms.text(data, "role") or None,
                forms.many(data, "teams"), full_name=forms.text(data, "full_name") or None, email=forms.text(data, "email") or None,
                actor=page.actor))
        if errors:
            return users_page(page, data, errors, status=422)
        return done(page, "/setup/users", page.t("User {name} added.", name=forms.text(data, "username")))

    @post("/teams", **DB)
    def add_team(self, request: Request, data: FORM) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        errors = attempt(page, lambda: page.runtime.records.create(page.actor, "team", {"name": forms.text(data, "team_name")}))
        if errors:
            return users_page(page, data, errors, status=422)
        return done(page, "/setup/users", page.t("Team {name} added.", name=forms.text(data, "team_name")))

    # --- plugins and the configuration ---------------------------------------------------------------

    @get("/plugins", **DB)
    def plugins(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        return page.render("setup/plugins.html", title=page.t("Plugins"), plugins=plugin_rows(page))

    @get("/config", **DB)
    def config(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        return refusal or page.render("setup/config.html", title=page.t("Configuration"), errors=[], preview=None, changeset="",
                                      done=page.request.query_params.get("done", ""))

    @get("/config/export", **DB)
    def export_config(self, request: Request) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        body = json.dumps(page.runtime.export_config(), ensure_ascii=False, indent=2)
        return Response(body, media_type="application/json",
                        headers={"Content-Disposition": 'attachment; filename="tessera-changeset.json"', **VARY})

    @post("/config", **DB)
    def import_config(self, request: Request, data: UPLOAD) -> Response:
        page, refusal = setup_page(request)
        if refusal:
            return refusal
        text, errors = changeset_text(page, data)
        changeset, errors = parse_changeset(page, text) if not errors else (None, errors)
        apply = forms.text(data, "action") == "apply"
        applied: list = []
        if changeset is not None:
            errors = attempt(page, lambda: applied.extend(service(page).apply(changeset, who(page), "Setup: configuration import", dry_run=not apply)))
        if not errors and apply:
            return done(page, "/setup/config", page.t("Configuration imported: {n} changes applied.", n=len(applied)))
        return page.render("setup/config.html", status=422 if errors else 200, title=page.t("Configuration"), errors=errors,
                           preview=None if errors else applied, changeset=text)


# --- what the pages show ---------------------------------------------------------------------------


def objects_page(page: Page, data: dict, errors: list[str], status: int = 200) -> Response:
    meta = page.meta()
    rows = [{"name": o.name, "label": plural(o, page.lang), "layer": layer_title(page, o.layer), "custom": o.custom,
             "fields": len(o.active_fields())} for o in sorted(meta.objects.values(), key=lambda o: plural(o, page.lang))]
    return page.render("setup/objects.html", status=status, title=page.t("Objects"), objects=rows, data=data, errors=errors)


def new_object(data: dict) -> dict:
    labels = forms.label_from(data, "label")
    name = forms.text(data, "name") or forms.identifier(labels["en"])
    title = forms.label_from(data, "title") if forms.text(data, "title_en") else {"en": "Name", "zh-CN": "名称"}
    plural_label = forms.label_from(data, "plural") if forms.text(data, "plural_en") else labels
    return {"name": name, "label": labels, "plural_label": plural_label, "title_field": "name",
            "fields": [{"name": "name", "type": "text", "label": title, "required": True, "searchable": True}]}


def add_field_shown(page: Page, obj: ObjectDef, spec: dict, data: dict, refused: Callable[[list[str]], Response],
                    message: str) -> Response:
    """Add a field from one of Setup's forms, on the form and in the list when the form's boxes say so; to the field's
    page, or ``refused(errors)``."""
    layouts = layouts_showing(page, obj, spec["name"], forms.checked(data, "in_form"), forms.checked(data, "in_list"))
    errors = attempt(page, lambda: service(page).add_field(obj.name, spec, who(page), layouts=layouts))
    if errors:
        return refused(errors)
    return done(page, f"/setup/objects/{obj.name}/fields/{spec['name']}", message)


def object_page(page: Page, obj: ObjectDef, data: dict, errors: list[str], status: int = 200) -> Response:
    fields = [{"name": f.name, "label": f.label(page.lang), "type": f.spec["type"], "required": bool(f.spec.get("required")),
               "custom": f.custom, "removed": f.removed}
              for f in obj.fields.values()]
    targets = sorted((o.name, plural(o, page.lang)) for o in page.meta().objects.values())
    from ui.setup_validation_rules import rule_rows  # noqa: PLC0415 - that module builds on this one

    return page.render("setup/object.html", status=status, title=plural(obj, page.lang), obj=obj, fields=fields, data=data,
                       errors=errors, rules=rule_rows(page, obj), types=type_choices(page), type_labels=type_labels(page), targets=targets, done=page.request.query_params.get("done", ""))


def type_choices(page: Page) -> list[tuple[str, str]]:
    """The field types Setup offers for a new field, each named in the page's language: the built-in ones and those
    plugins register."""
    return [(t.name, t.title(page.lang)) for t in page.runtime.registry.types() if t.in_setup]


def type_labels(page: Page) -> dict[str, str]:
    """Every field type's name in the page's language, by type."""
    return {t.name: t.title(page.lang) for t in page.runtime.registry.types()}


def field_page(page: Page, obj: ObjectDef, field_name: str, data: dict, errors: list[str], status: int = 200) -> Response:
    from ui.setup_conditions import condition_inputs, dependency_view  # noqa: PLC0415 - it builds on this module

    obj = page.meta().object(obj.name)
    fdef = obj.fields[field_name]
    return page.render("setup/field.html", status=status, title=f"{plural(obj, page.lang)}: {fdef.label(page.lang)}", obj=obj,
                       fdef=fdef, spec=fdef.spec, data=data, errors=errors, done=page.request.query_params.get("done", ""),
                       picklist="values" in fdef.type.options, type_label=_type_title(page, fdef),
                       properties=forms.property_keys(fdef.spec.get("values", [])),
                       conditions=condition_inputs(fdef), dep=dependency_view(page, obj, fdef))


def _type_title(page: Page, fdef) -> str:
    """The field's type in the page's language; a formula's with its result type."""
    if fdef.computed:
        return f"{page.runtime.registry[fdef.spec['type']].title(page.lang)} ({fdef.type.title(page.lang)})"
    return fdef.type.title(page.lang)


def layer_title(page: Page, layer: str) -> str:
    if layer == "base":
        return page.t("Built in")
    if layer.startswith("plugin:"):
        return page.t("Plugin {name}", name=layer.split(":", 1)[1])
    return page.t("Customization")


def layouts_showing(page: Page, obj: ObjectDef, field_name: str, in_form: bool, in_list: bool) -> list[dict]:
    """The object's layouts with a new field added: to the first section of the form and detail, to the list's columns."""
    changed = []
    if in_form:
        for kind in ("form", "detail"):
            layout = current_layout(page, obj, kind)
            if layout.get("generated") and kind == "form":
                continue  # without a form layout the form follows the detail layout
            layout = {k: v for k, v in layout.items() if k != "generated"}
            sections = [dict(s) for s in layout["sections"]]
            sections[0]["fields"] = [*sections[0]["fields"], field_name]
            changed.append({**layout, "sections": sections})
    if in_list:
        layout = {k: v for k, v in current_layout(page, obj, "list").items() if k != "generated"}
        changed.append({**layout, "columns": [*layout["columns"], field_name]})
    return changed


def current_layout(page: Page, obj: ObjectDef, kind: str) -> dict:
    """The layout in effect, or the one the pages generate when there is none (marked ``generated``)."""
    found = page.meta().layout(obj.name, kind)
    if found.exists:
        return dict(found.body)
    names = [f.name for f in obj.active_fields()]
    if kind == "list":
        return {"object": obj.name, "kind": "list", "columns": [obj.title_field, *[n for n in names if n != obj.title_field][:5]],
                "generated": True}
    if kind in ("form", "detail"):
        detail = page.meta().layout(obj.name, "detail")
        if kind == "form" and detail.exists:
            return {**detail.body, "kind": "form", "generated": True}
        return {"object": obj.name, "kind": kind, "sections": [{"label": obj.spec["label"], "columns": 2, "fields": names}], "generated": True}
    return {"object": obj.name, "kind": "kanban", "generated": True}


def layout_page(page: Page, obj: ObjectDef, kind: str, data: dict, errors: list[str], status: int = 200) -> Response:
    layout = current_layout(page, obj, kind)
    fields = [f for f in obj.active_fields() if f.type.has_column or kind != "list"]
    context: dict[str, Any] = {"obj": obj, "kind": kind, "kinds": LAYOUT_KINDS, "layout": layout, "data": data, "errors": errors,
                               "fields": [{"name": f.name, "label": f.label(page.lang), "type": f.type.name} for f in fields],
                               "done": page.request.query_params.get("done", "")}
    view = LayoutView(layout)
    if kind == "list":
        context["positions"] = {name: i + 1 for i, name in enumerate(view.columns)}
    elif kind == "kanban":
        pairs = list(zip(fields, context["fields"]))
        context["group_fields"] = [shown for fdef, shown in pairs if fdef.type.single_choice]
        context["sum_fields"] = [shown for fdef, shown in pairs if fdef.type.family == "number"]
    else:
        sections = view.sections
        context["sections"] = [*sections, Section({}, [])]
        context["placement"] = {name: (number, position + 1) for number, section in enumerate(sections, 1)
                                for position, name in enumerate(section.fields)}
    return page.render("setup/layouts.html", status=status, title=page.t("Layouts of {objects}", objects=plural(obj, page.lang)), **context)


def matrix_objects(page: Page) -> list[str]:
    return sorted(page.meta().objects)


def roles_page(page: Page, data: dict, errors: list[str], status: int = 200) -> Response:
    sets = role_service(page).permission_sets()
    roles = page.runtime.records.list(page.actor, "role", {"limit": 200, "sort": "name"}).items
    used = {}
    for role in roles:
        used.setdefault(role.get("permission_set"), []).append(role["name"])
    rows = [{"name": s["name"], "label": label(s.get("label"), page.lang, s["name"]), "admin": s.get("admin", False),
             "customizer": s.get("customizer", False), "custom": s["custom"], "roles": used.get(s["name"], [])} for s in sets]
    return page.render("setup/roles.html", status=status, title=page.t("Roles and permissions"), sets=rows, data=data, errors=errors)


def role_page(page: Page, name: str, object_name: str, data: dict, errors: list[str], status: int = 200) -> Response:
    meta = page.meta()
    current = meta.permission_sets[name]
    scopes = current.get("objects", {})
    matrix = [{"name": o, "label": plural(meta.objects[o], page.lang),
               "scopes": {op: forms.text(data, f"{o}.{op}") or scopes.get(o, {}).get(op, "none") for op in forms.OPERATIONS}}
              for o in matrix_objects(page)]
    obj = meta.objects.get(object_name)
    field_rows = []
    if obj is not None:
        access = current.get("fields", {}).get(obj.name, {})
        field_rows = [{"name": f.name, "label": f.label(page.lang), "access": forms.text(data, f"field.{f.name}") or access.get(f.name, "edit")}
                      for f in obj.active_fields()]
    return page.render("setup/role.html", status=status, title=page.t("Role: {name}", name=label(current.get("label"), page.lang, name)),
                       name=name, body=current, matrix=matrix, scopes=forms.SCOPES, operations=forms.OPERATIONS,
                       field_object=obj, field_rows=field_rows, field_access=forms.FIELD_ACCESS, errors=errors,
                       locked=current.get("admin", False), done=page.request.query_params.get("done", ""))


def users_page(page: Page, data: dict, errors: list[str], status: int = 200) -> Response:
    records = page.runtime.records
    users = records.list(page.actor, "user", {"limit": 200, "sort": "username"}).items
    roles = records.list(page.actor, "role", {"limit": 200, "sort": "name"}).items
    teams = records.list(page.actor, "team", {"limit": 200, "sort": "name"}).items
    return page.render("setup/users.html", status=status, title=page.t("Users and teams"), users=users, roles=roles, teams=teams,
                       data=data, errors=errors, done=page.request.query_params.get("done", ""),
                       may_add=page.access.can("user", "create"))


def user_form_problems(page: Page, data: dict) -> list[str]:
    if not page.access.can("user", "create"):
        return [page.t("Your role may not create users.")]
    problems = []
    if not forms.text(data, "username"):
        problems.append(page.t("Username: give the user a name to sign in with."))
    if forms.text(data, "password") != forms.text(data, "password_again"):
        problems.append(page.t("Password: the two passwords are not the same."))
    return problems


def plugin_rows(page: Page) -> list[dict]:
    meta = page.meta()
    rows = []
    for plugin in page.runtime.plugins.plugins:
        layer = f"plugin:{plugin.info.name}"
        rows.append({"name": plugin.info.name, "label": label(plugin.info.label, page.lang, plugin.info.name),
                     "version": plugin.info.version, "enabled": plugin.enabled, "package": plugin.distribution or page.t("built in"),
                     "description": plugin.info.description,
                     "objects": [plural(o, page.lang) for o in meta.objects.values() if o.layer == layer]})
    return rows


def changeset_text(page: Page, data: dict) -> tuple[str, list[str]]:
    """The changeset from the uploaded file, else from the text box (the preview posts it back)."""
    upload = data.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        raw = upload.file.read(CHANGESET_LIMIT + 1)
        if len(raw) > CHANGESET_LIMIT:
            return "", [page.t("The file is larger than 2 MiB; a configuration file is much smaller. Is it the right file?")]
        try:
            return raw.decode("utf-8-sig"), []
        except UnicodeDecodeError:
            return "", [page.t("The file is not UTF-8 text; export the configuration again or save it as UTF-8.")]
    return forms.text(data, "changeset"), []


def parse_changeset(page: Page, text: str) -> tuple[dict | None, list[str]]:
    if not text:
        return None, [page.t("Choose a configuration file (.json) to import.")]
    try:
        changeset = jsontext.loads(text)
    except json.JSONDecodeError as exc:
        return None, [page.t("The file is not valid JSON: {problem} at line {line}, column {column}.", problem=exc.msg, line=exc.lineno, column=exc.colno)]
    except jsontext.TooDeep:
        return None, [page.t("The file nests deeper than a configuration file does: it is not one.")]
    except jsontext.RefusedJSON:
        return None, [page.t("The file holds a number that is not standard JSON (NaN, Infinity or one too large for any number).")]
    if not isinstance(changeset, dict):
        return None, [page.t("The file is not a configuration changeset: it should be a JSON object with \"format\".")]
    return changeset, []
