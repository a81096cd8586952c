"""Every hook a Tessera plugin can implement, grouped by lifecycle.

Plugins implement hooks with ``@hookimpl`` (``from core.hookspecs import hookimpl``). An
implementation may accept any subset of a hook's arguments, so hooks can grow new
arguments without breaking plugins. Hooks are synchronous. Unless a hook says it is
first-result, every implementation runs and the core merges what they return.

docs/plugins.md documents each hook; a test keeps the two in step.
"""

from __future__ import annotations

import pluggy

PROJECT = "tessera"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- Start-up: what a plugin contributes ------------------------------------------------


@hookspec
def tessera_metadata(runtime):
    """Return extra metadata documents (dicts) this plugin contributes.

    Documents in the plugin package's ``metadata/`` folder are loaded by convention and
    need no hook; use this one for documents built in code. Each item is an object, an
    extension (extra fields, picklist values or layout sections on another plugin's or
    base object), a layout, a permission set, or a list of layouts.

    Returns: a list of dicts. All implementations run; the lists are concatenated.
    """


@hookspec
def tessera_field_types():
    """Return new field types (``core.fieldtypes.FieldType``) for metadata to use.

    Returns: a list of FieldType. All implementations run; a type name registered twice
    stops start-up naming both plugins.
    """


@hookspec
def tessera_words():
    """Return the wordings of this plugin's messages, in English and Simplified Chinese.

    ``{"fleet.plate_taken": {"en": "plate {plate} is taken", "zh-CN": "车牌 {plate} 已被占用。"}}``:
    a code (prefixed with the plugin's name) -> its sentence per language, with ``{name}``
    placeholders for the values a ``Refusal(code=..., params=...)`` gives. A missing
    language falls back to English.

    Returns: a dict. All implementations run; a code declared twice stops start-up naming both plugins.
    """


@hookspec
def tessera_cli_commands(cli):
    """Add commands to the ``tessera`` command line.

    ``cli`` is the click group; call ``cli.add_command(...)`` or decorate with
    ``@cli.command()``. Returns nothing.
    """


@hookspec
def tessera_web_routes():
    """Return Litestar route handlers (functions or controllers) this plugin serves.

    Returns: a list. All implementations run; the lists are concatenated.
    """


@hookspec
def tessera_templates():
    """Return folders of Jinja2 templates; a plugin's ``templates/`` folder is found by convention.

    Returns: a list of paths.
    """


@hookspec
def tessera_static():
    """Return ``(url_prefix, folder)`` pairs of static files; ``static/`` is found by convention.

    Returns: a list of pairs. Files are served under ``/static/<plugin>/``.
    """


@hookspec
def tessera_automation_actions():
    """Return automation actions (``core.plugins.AutomationAction``) rules can run.

    Returns: a list. All implementations run.
    """


@hookspec
def tessera_scheduled_jobs():
    """Return scheduled jobs (``core.plugins.ScheduledJob``): a name, an interval and a function.

    Returns: a list. All implementations run.
    """


@hookspec
def tessera_job_kinds():
    """Return job kinds (``core.plugins.JobKind``): a name and the function that runs a queued job of that kind.

    Returns: a list. All implementations run.
    """


@hookspec
def tessera_demo_data(runtime, actor, created):
    """Add demo records of this plugin's objects to a new database (``tessera demo``, first ``tessera serve``).

    ``created`` maps each object name to the ids of the demo records made so far (the base
    demo's accounts, contacts, users and products first, then plugins in load order);
    write with ``runtime.records`` as ``actor``. Return ``{object name: [new ids]}``, which
    is merged into ``created`` for the plugins after you. All implementations run.
    """


@hookspec
def tessera_dashboard_widgets():
    """Return dashboard widgets (``core.plugins.DashboardWidget``) for the home page.

    ``render(runtime=..., actor=..., lang=...)`` is called for each signed-in user's home
    page and returns what to draw, as that user may see it, or None to draw nothing: a bar
    chart is ``{"kind": "bar", "labels": [...], "series": [{"label": ..., "values": [...]}],
    "colors": [...], "counts": [...], "link": "/r/..."}``; a list of records is ``{"kind": "list", "items":
    [{"href": ..., "title": ..., "details": [...]}], "empty": ..., "link": "/r/..."}``; progress towards
    targets is ``{"kind": "progress", "items": [{"title": ..., "href": "/r/..." or None, "value": 1200,
    "target": 5000, "currency": True, "details": [...]}], "empty": ..., "link": "/r/..."}``, drawn as a
    labelled progress bar per item ("$1,200.00 of $5,000.00 (24%)"; ``currency``: the amounts are money,
    written with the installation's currency symbol; a target of 0 reads as 0%). A dashboard's tile
    (``{"widget": name}``) draws the same content as the home page.

    Returns: a list. All implementations run.
    """


# --- Records: validation and lifecycle ---------------------------------------------------


@hookspec
def tessera_validate_record(event):
    """Check a record before it is written; return problems the user sees.

    ``event`` is a ``core.plugins.RecordEvent`` (``object``, ``values``, ``previous``,
    ``actor``, ``records``). Return a list of ``(field, message)`` pairs, or nothing.
    A problem may also be a ``core.plugins.Refusal`` (with a code the plugin words in
    ``tessera_words``), to be read in the user's language. All implementations run; every
    problem is reported with the built-in ones.
    """


@hookspec
def tessera_before_create(event):
    """Runs before a record is inserted, inside its transaction.

    Change ``event.values`` to change the record; raise ``core.plugins.Refusal(message)``
    (or ``Refusal(code=..., params=...)``, worded in ``tessera_words``) to refuse it with a
    message the user sees. Returns nothing.
    """


@hookspec
def tessera_after_create(event):
    """Runs after a record is inserted, in the same transaction.

    ``event.record`` is the stored record; ``event.records`` writes other records in the
    same transaction (an exception rolls everything back). Returns nothing.
    """


@hookspec
def tessera_before_update(event):
    """Runs before a record is updated; ``event.values`` holds the changed fields only.

    ``event.previous`` is the stored record. Change ``event.values`` or raise
    ``core.plugins.Refusal``. Returns nothing.
    """


@hookspec
def tessera_after_update(event):
    """Runs after a record is updated, in the same transaction.

    ``event.changes`` maps each changed field to ``(old, new)``. Returns nothing.
    """


@hookspec
def tessera_before_delete(event):
    """Runs before a record is (soft) deleted; raise ``core.plugins.Refusal`` to keep it.

    Returns nothing.
    """


@hookspec
def tessera_after_delete(event):
    """Runs after a record is (soft) deleted, in the same transaction. Returns nothing."""
