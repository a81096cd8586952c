"""/api/meta: the configuration, read by every signed-in user (as far as they may see it) and
changed by admins and customizers. Changes apply at once, in every process."""

from __future__ import annotations

from typing import Annotated, Any

from litestar.params import FromPath, FromQuery, QueryParameter, RawBody
from litestar import Controller, Request, Response, delete, get, patch, post, put

from core.api.errors import ApiError, json_body
from core.api.security import SIGNED_IN, client_ip, customizer, identity
from core.audit import Who
from core.metadata.service import MetadataService
from core.permissions import Access
from core.roles import Roles
from core.schema_sync import Change
from core.words import sentence

DB = {"sync_to_thread": True}


def _service(request: Request) -> MetadataService:
    return MetadataService(request.app.state.runtime, _access(request))


def _roles(request: Request) -> Roles:
    return Roles(request.app.state.runtime)


def _access(request: Request) -> Access:
    return request.app.state.runtime.records.access(identity(request).actor)


def _who(request: Request) -> Who:
    return identity(request).who(client_ip(request))


def _applied(changes: list[Change], **extra: Any) -> dict:
    return {"applied": [{"operation": c.operation, "object": c.object, "detail": c.detail} for c in changes], **extra}


def _put_named(request: Request, kind: str, name: str, body: bytes) -> dict:
    changes = _service(request).put_named(kind, name, json_body(body), _who(request))
    return _applied(changes, **{kind: _service(request).named_document(kind, name)})


def _found(function, *args):
    try:
        return function(*args)
    except LookupError as exc:
        raise ApiError(404, "not_found", exc.args[0] if exc.args else str(exc)) from None


def _shared(request: Request, kind: str, items: list[dict]) -> list[dict]:
    """Reports and dashboards belong to their owner and those they are shared with: others see them only when they
    customize (or administer) the configuration."""
    access = _access(request)
    if access.admin or access.customizer:
        return items
    from core.reports.dashboards import Dashboards  # noqa: PLC0415 - reports read metadata, as this module does
    from core.reports.running import Runner  # noqa: PLC0415

    runtime, actor = request.app.state.runtime, identity(request).actor
    seen = {item["name"] for item in (Runner(runtime) if kind == "report" else Dashboards(runtime)).available(actor)}
    return [item for item in items if item["name"] in seen]


def _one_shared(request: Request, kind: str, name: str) -> dict:
    found = _found(_service(request).named_document, kind, name)
    if not _shared(request, kind, [found]):
        raise ApiError(404, "not_found", sentence("report_missing" if kind == "report" else "dashboard_missing", name=name, hint=""))
    return found


class MetaController(Controller):
    path = "/api/meta"
    opt = SIGNED_IN
    tags = ["metadata"]

    # --- objects ---------------------------------------------------------------------------

    @get("/objects", **DB, summary="Objects I may read (all of them for customizers)")
    def list_objects(self, request: Request) -> dict:
        return {"items": _service(request).objects(_access(request))}

    @post("/objects", guards=[customizer], **DB, summary="Create a custom object", status_code=201)
    def create_object(self, request: Request, body: RawBody) -> dict:
        data = json_body(body)
        changes = _service(request).create_object(data, _who(request))
        return _applied(changes, object=_found(_service(request).object, data["name"], _access(request)))

    @get("/objects/{name:str}", **DB, summary="An object with its fields and layouts")
    def get_object(self, request: Request, name: FromPath[str]) -> dict:
        return _found(_service(request).object, name, _access(request))

    @patch("/objects/{name:str}", guards=[customizer], **DB, summary="Change an object's labels, title field or indexes")
    def change_object(self, request: Request, name: FromPath[str], body: RawBody) -> dict:
        data = json_body(body)
        changes = _service(request).change_object(name, data, _who(request))
        return _applied(changes, object=_service(request).object(name, _access(request)))

    @put("/objects/{name:str}/validation_rules/{rule:str}", guards=[customizer], **DB,
         summary="Create or replace a validation rule of an object ({\"active\": false} alone deactivates one another layer defines)")
    def put_validation_rule(self, request: Request, name: FromPath[str], rule: FromPath[str], body: RawBody) -> dict:
        service = _service(request)
        changes = _found(service.put_validation_rule, name, rule, json_body(body), _who(request))
        shown = service.validation_rules(request.app.state.runtime.current_metadata().object(name))
        return _applied(changes, validation_rule=next(r for r in shown if r["name"] == rule))

    @delete("/objects/{name:str}/validation_rules/{rule:str}", guards=[customizer], **DB,
            summary="Remove a customized validation rule (one a plugin defines applies again)", status_code=200)
    def remove_validation_rule(self, request: Request, name: FromPath[str], rule: FromPath[str]) -> dict:
        return _applied(_found(_service(request).remove_validation_rule, name, rule, _who(request)))

    @delete("/objects/{name:str}", guards=[customizer], **DB, summary="Remove a custom object (its table and data stay)", status_code=200)
    def remove_object(self, request: Request, name: FromPath[str]) -> dict:
        return _applied(_service(request).remove_object(name, _who(request)))

    # --- fields ------------------------------------------------------------------------------

    @post("/objects/{name:str}/fields", guards=[customizer], **DB, summary="Add a field", status_code=201)
    def add_field(self, request: Request, name: FromPath[str], body: RawBody) -> dict:
        data = json_body(body)
        changes = _service(request).add_field(name, data, _who(request))
        return _applied(changes, field=_service(request).field(name, data["name"], _access(request)))

    @get("/objects/{name:str}/fields/{field_name:str}", **DB, summary="One field")
    def get_field(self, request: Request, name: FromPath[str], field_name: FromPath[str]) -> dict:
        return _found(_service(request).field, name, field_name, _access(request))

    @patch("/objects/{name:str}/fields/{field_name:str}", guards=[customizer], **DB,
           summary="Change a field (labels, required, values...; name and type of custom fields)")
    def change_field(self, request: Request, name: FromPath[str], field_name: FromPath[str], body: RawBody) -> dict:
        data = json_body(body)
        changes = _service(request).change_field(name, field_name, data, _who(request))
        new_name = data.get("name", field_name) if isinstance(data, dict) else field_name
        return _applied(changes, field=_service(request).field(name, new_name, _access(request)))

    @delete("/objects/{name:str}/fields/{field_name:str}", guards=[customizer], **DB,
            summary="Remove a custom field (hidden; its column and data stay)", status_code=200)
    def remove_field(self, request: Request, name: FromPath[str], field_name: FromPath[str]) -> dict:
        return _applied(_service(request).remove_field(name, field_name, _who(request)))

    @post("/objects/{name:str}/fields/{field_name:str}/restore", guards=[customizer], **DB,
          summary="Bring a removed custom field back with its data", status_code=200)
    def restore_field(self, request: Request, name: FromPath[str], field_name: FromPath[str]) -> dict:
        return _applied(_service(request).remove_field(name, field_name, _who(request), removed=False))

    @post("/objects/{name:str}/fields/{field_name:str}/values", guards=[customizer], **DB,
          summary="Add or change a picklist value (position sets its order)", status_code=200)
    def set_value(self, request: Request, name: FromPath[str], field_name: FromPath[str], body: RawBody) -> dict:
        data = json_body(body)
        changes = _service(request).set_picklist_value(name, field_name, data, _who(request))
        return _applied(changes, field=_service(request).field(name, field_name, _access(request)))

    @delete("/objects/{name:str}/fields/{field_name:str}/values/{value:str}", guards=[customizer], **DB,
            summary="Take a value off a picklist", status_code=200)
    def remove_value(self, request: Request, name: FromPath[str], field_name: FromPath[str], value: FromPath[str]) -> dict:
        changes = _service(request).remove_picklist_value(name, field_name, value, _who(request))
        return _applied(changes, field=_service(request).field(name, field_name, _access(request)))

    # --- layouts ----------------------------------------------------------------------------------

    @get("/layouts", **DB, summary="Layouts (of one object with ?object=)")
    def list_layouts(self, request: Request, object_name: Annotated[str | None, QueryParameter(name="object")] = None) -> dict:
        return {"items": _service(request).layouts(object_name)}

    @put("/layouts", guards=[customizer], **DB, summary="Create or replace a layout")
    def put_layout(self, request: Request, body: RawBody) -> dict:
        data = json_body(body)
        return _applied(_service(request).put_layout(data, _who(request)))

    @delete("/layouts/{key:str}", guards=[customizer], **DB, summary="Remove a customized layout (object:kind:name)", status_code=200)
    def remove_layout(self, request: Request, key: FromPath[str]) -> dict:
        return _applied(_service(request).remove_layout(key, _who(request)))

    # --- roles --------------------------------------------------------------------------------------

    @get("/roles", **DB, summary="Permission sets (what each role may do)")
    def list_roles(self, request: Request) -> dict:
        return {"items": _roles(request).permission_sets()}

    @put("/roles/{name:str}", guards=[customizer], **DB, summary="Create or replace a permission set")
    def put_role(self, request: Request, name: FromPath[str], body: RawBody) -> dict:
        data = json_body(body)
        return _applied(_roles(request).save(identity(request).actor, _who(request), name, data))

    @delete("/roles/{name:str}", guards=[customizer], **DB, summary="Remove a customized permission set", status_code=200)
    def remove_role(self, request: Request, name: FromPath[str]) -> dict:
        return _applied(_roles(request).remove(identity(request).actor, _who(request), name))

    # --- named documents: e-mail templates, workflow rules, approval processes ------------------------

    @get("/email_templates", **DB, summary="E-mail templates, with who defines each")
    def list_email_templates(self, request: Request) -> dict:
        return {"items": _service(request).named_documents("email_template")}

    @get("/email_templates/{name:str}", **DB, summary="One e-mail template")
    def get_email_template(self, request: Request, name: FromPath[str]) -> dict:
        return _found(_service(request).named_document, "email_template", name)

    @put("/email_templates/{name:str}", guards=[customizer], **DB, summary="Create or replace an e-mail template")
    def put_email_template(self, request: Request, name: FromPath[str], body: RawBody) -> dict:
        return _put_named(request, "email_template", name, body)

    @delete("/email_templates/{name:str}", guards=[customizer], **DB,
            summary="Remove a customized e-mail template (one of the base or a plugin applies again)", status_code=200)
    def remove_email_template(self, request: Request, name: FromPath[str]) -> dict:
        return _applied(_found(_service(request).remove_named, "email_template", name, _who(request)))

    @get("/automations", **DB, summary="Workflow rules, with who defines each")
    def list_automations(self, request: Request) -> dict:
        return {"items": _service(request).named_documents("automation")}

    @get("/automations/{name:str}", **DB, summary="One workflow rule")
    def get_automation(self, request: Request, name: FromPath[str]) -> dict:
        return _found(_service(request).named_document, "automation", name)

    @put("/automations/{name:str}", guards=[customizer], **DB, summary="Create or replace a workflow rule")
    def put_automation(self, request: Request, name: FromPath[str], body: RawBody) -> dict:
        return _put_named(request, "automation", name, body)

    @delete("/automations/{name:str}", guards=[customizer], **DB,
            summary="Remove a customized workflow rule (one of the base or a plugin applies again)", status_code=200)
    def remove_automation(self, request: Request, name: FromPath[str]) -> dict:
        return _applied(_found(_service(request).remove_named, "automation", name, _who(request)))

    @get("/approval_processes", **DB, summary="Approval processes, with who defines each")
    def list_approval_processes(self, request: Request) -> dict:
        return {"items": _service(request).named_documents("approval_process")}

    @get("/approval_processes/{name:str}", **DB, summary="One approval process")
    def get_approval_process(self, request: Request, name: FromPath[str]) -> dict:
        return _found(_service(request).named_document, "approval_process", name)

    @put("/approval_processes/{name:str}", guards=[customizer], **DB, summary="Create or replace an approval process")
    def put_approval_process(self, request: Request, name: FromPath[str], body: RawBody) -> dict:
        return _put_named(request, "approval_process", name, body)

    @delete("/approval_processes/{name:str}", guards=[customizer], **DB,
            summary="Remove a customized approval process (one of the base or a plugin applies again)", status_code=200)
    def remove_approval_process(self, request: Request, name: FromPath[str]) -> dict:
        return _applied(_found(_service(request).remove_named, "approval_process", name, _who(request)))

    @get("/reports", **DB, summary="Reports, with who defines each (those you may run, unless you customize)")
    def list_reports(self, request: Request) -> dict:
        return {"items": _shared(request, "report", _service(request).named_documents("report"))}

    @get("/reports/{name:str}", **DB, summary="One report")
    def get_report(self, request: Request, name: FromPath[str]) -> dict:
        return _one_shared(request, "report", name)

    @put("/reports/{name:str}", guards=[customizer], **DB, summary="Create or replace a report")
    def put_report(self, request: Request, name: FromPath[str], body: RawBody) -> dict:
        return _put_named(request, "report", name, body)

    @delete("/reports/{name:str}", guards=[customizer], **DB,
            summary="Remove a customized report (one of the base or a plugin applies again)", status_code=200)
    def remove_report(self, request: Request, name: FromPath[str]) -> dict:
        return _applied(_found(_service(request).remove_named, "report", name, _who(request)))

    @get("/dashboards", **DB, summary="Dashboards, with who defines each (those you may see, unless you customize)")
    def list_dashboards(self, request: Request) -> dict:
        return {"items": _shared(request, "dashboard", _service(request).named_documents("dashboard"))}

    @get("/dashboards/{name:str}", **DB, summary="One dashboard")
    def get_dashboard(self, request: Request, name: FromPath[str]) -> dict:
        return _one_shared(request, "dashboard", name)

    @put("/dashboards/{name:str}", guards=[customizer], **DB, summary="Create or replace a dashboard")
    def put_dashboard(self, request: Request, name: FromPath[str], body: RawBody) -> dict:
        return _put_named(request, "dashboard", name, body)

    @delete("/dashboards/{name:str}", guards=[customizer], **DB,
            summary="Remove a customized dashboard (one of the base or a plugin applies again)", status_code=200)
    def remove_dashboard(self, request: Request, name: FromPath[str]) -> dict:
        return _applied(_found(_service(request).remove_named, "dashboard", name, _who(request)))

    # --- changesets ------------------------------------------------------------------------------------

    @get("/changeset", guards=[customizer], **DB, summary="Export the configuration as a changeset")
    def export_changeset(self, request: Request) -> Response:
        data = request.app.state.runtime.export_config()
        return Response(data, headers={"Content-Disposition": 'attachment; filename="tessera-changeset.json"'})

    @post("/changeset", guards=[customizer], **DB, summary="Import a changeset (?dry_run=true shows what would change)", status_code=200)
    def import_changeset(self, request: Request, body: RawBody, dry_run: FromQuery[bool] = False) -> dict:
        data = json_body(body)
        changes = _service(request).apply(data, _who(request), "POST /api/meta/changeset", dry_run=dry_run)
        return _applied(changes, dry_run=dry_run)
