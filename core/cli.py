"""The `tessera` command line."""

from __future__ import annotations

import contextlib
import copy
import functools
import getpass
import json
import os
import sys
from pathlib import Path

import click
from sqlalchemy.exc import DBAPIError

from core import __version__, private, search
from core.auth import AccountError
from core.db import DatabaseURLError, refresh_statistics, shown_url
from core.metadata.customize import forget_field, rename_field, set_removed
from core.metadata.files import documents_from, read_json
from core.metadata.model import build
from core.metadata.problems import MetadataError, Problem
from core.plugins import PluginError, PluginSet, load_plugins
from core.metadata.store import CustomConfig, merge_changeset
from core.records import RecordError
from core.roles import RoleError
from core.schema_sync import Change, SchemaChangeRefused, drop_column
from core.settings import Settings, SettingsError
from core.validation import RecordValidationError


class Context:
    def __init__(self, database: str | None, who: str | None, plugins: PluginSet | None) -> None:
        self.database = database
        self.who = who or f"cli:{getpass.getuser()}"
        self.plugins = plugins
        self._runtime = None

    @property
    def runtime(self):
        if self._runtime is None:
            from core.runtime import Runtime

            self._runtime = Runtime(Settings.from_env(database_url=self.database), plugins=self.plugins)
        return self._runtime

    def close(self) -> None:
        """At the end of every command: the database released, SQLite's write-ahead log copied into its file."""
        if self._runtime is not None:
            self._runtime.close()

    def shown_database(self) -> str:
        return shown_url(Settings.from_env(database_url=self.database).database_url)


def fail(message: str, code: int = 2) -> None:
    click.echo(message, err=True)
    sys.exit(code)


def friendly_errors(function):
    """Turn user mistakes, and a database or file that cannot be used, into messages, never tracebacks."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except MetadataError as exc:
            fail("Refused; nothing was changed:\n" + "\n".join(f"  {p}" for p in exc.problems))
        except SchemaChangeRefused as exc:
            fail(f"Refused; nothing was changed:\n  {exc}")
        except RecordValidationError as exc:
            fail("Refused; nothing was changed:\n" + "\n".join(f"  {e.field}: {e.message}" if e.field else f"  {e.message}" for e in exc.errors))
        except (DatabaseURLError, SettingsError, PluginError, AccountError, RoleError, RecordError) as exc:
            fail(str(exc))
        except DBAPIError as exc:
            context = click.get_current_context().find_object(Context)
            where = context.shown_database() if context else "database"
            fail(f"cannot use the database {where}: {' '.join(str(exc.orig or exc).split())}")
        except OSError as exc:
            fail(f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else f"{type(exc).__name__}: {exc}")

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tessera")
@click.option("--database", metavar="URL", help="Database URL (default: TESSERA_DATABASE_URL, else sqlite:///tessera.db).")
@click.option("--as", "who", metavar="NAME", help="Who is recorded in the schema history (default: cli:<login>).")
@click.pass_context
def cli(ctx: click.Context, database: str | None, who: str | None) -> None:
    """Tessera: a plugin-based, metadata-driven CRM."""
    plugins = ctx.obj if isinstance(ctx.obj, PluginSet) else None  # loaded by main()
    ctx.obj = Context(database, who, plugins)
    ctx.call_on_close(ctx.obj.close)


def main(argv: list[str] | None = None) -> None:
    """Entry point: load the plugins (they may add commands), then run the command."""
    try:
        settings = Settings.from_env()
        plugins = load_plugins(settings.plugins, settings.disabled_plugins)
    except (PluginError, SettingsError) as exc:
        fail(f"Tessera cannot start: {exc}")
    group = _with_plugin_commands(plugins)
    try:
        group.main(args=argv, prog_name="tessera", obj=plugins)
    except Exception as exc:  # an error no command explains: one line, and its traceback on demand
        if os.environ.get("TESSERA_DEBUG"):
            raise
        fail(f"tessera stopped on an error it does not explain better: {type(exc).__name__}: {exc}\n"
             "(run the command again with TESSERA_DEBUG=1 to see where it happened)", 1)


def _with_plugin_commands(plugins: PluginSet) -> click.Group:
    group = copy.copy(cli)
    group.commands = dict(cli.commands)
    for impl in plugins.hook.tessera_cli_commands.get_hookimpls():
        try:
            impl.function(*[group for _ in impl.argnames])
        except Exception as exc:
            fail(f"Tessera cannot start: plugin '{impl.plugin_name}' failed to add its commands: {type(exc).__name__}: {exc}")
    return group


# --- db -------------------------------------------------------------------------------------


@cli.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@click.pass_obj
@friendly_errors
def db_upgrade(ctx: Context) -> None:
    """Migrate core's tables and create or extend the tables of every object."""
    changes = ctx.runtime.upgrade(ctx.who)
    _print_changes(changes, "The database is up to date.")


# --- search ---------------------------------------------------------------------------------


@cli.group("search")
def search_group() -> None:
    """The search index behind the search box and /api/search."""


@search_group.command("reindex")
@click.argument("object_name", metavar="[OBJECT]", required=False)
@click.pass_obj
@friendly_errors
def search_reindex(ctx: Context, object_name: str | None) -> None:
    """Build the search index again from the records, of OBJECT or of every object."""
    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    with runtime.writing() as (conn, schema):
        if object_name is not None and object_name not in schema.meta.objects:
            fail(f"no object is named '{object_name}'")
        count = search.reindex(conn, schema.meta, schema.tables, object_name)
    click.echo(f"Indexed {count:,} record(s) of {object_name or 'every object'}.")


# --- metadata -------------------------------------------------------------------------------


@cli.group()
def metadata() -> None:
    """Validate, export and import configuration (objects, fields, layouts, permission sets, e-mail templates)."""


@metadata.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@friendly_errors
def metadata_validate(paths: tuple[Path, ...]) -> None:
    """Check metadata files against the meta-schemas and the base objects, without a database."""
    from core.fieldtypes import FieldTypeRegistry
    from core.metadata.files import base_documents

    registry = FieldTypeRegistry()
    docs, problems = [], []
    for path in paths:
        files = sorted(path.rglob("*.json")) if path.is_dir() else [path]
        if not files:
            problems.append(Problem(str(path), "", "is a folder without .json files"))
        for file in files:
            try:
                docs += documents_from(read_json(file), str(file), "customization", registry.names())
            except MetadataError as exc:
                problems += exc.problems
    if problems:
        raise MetadataError(problems)
    base = base_documents(registry.names())
    base_objects = {d.body["name"]: d.source for d in base if d.kind == "object"}
    config = merge_changeset(CustomConfig(), docs, base_objects)
    build(base + config.documents(), registry)
    click.echo(f"OK: {len(docs)} document(s) in {len(paths)} path(s) are valid.")


@metadata.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.pass_obj
@friendly_errors
def metadata_export(ctx: Context, file: Path) -> None:
    """Write this database's configuration to FILE as a changeset ('-' for standard output)."""
    ctx.runtime.upgrade(ctx.who)
    text = json.dumps(ctx.runtime.export_config(), indent=2, ensure_ascii=False) + "\n"
    if str(file) == "-":
        click.echo(text, nl=False)
    else:
        with private.replacing(file) as out:
            out.write(text.encode("utf-8"))
        click.echo(f"Exported the configuration to {file}.")


@metadata.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Show what would change, and change nothing.")
@click.pass_obj
@friendly_errors
def metadata_import(ctx: Context, file: Path, dry_run: bool) -> None:
    """Apply a changeset FILE: create or update what it names, then sync the schema."""
    runtime = ctx.runtime
    data = read_json(file)
    runtime.upgrade(ctx.who)
    changes = runtime.import_changeset(data, str(file), ctx.who, dry_run=dry_run)
    if dry_run:
        _print_changes(changes, "Nothing would change.", prefix="Would apply")
    else:
        _print_changes(changes, "Nothing to change: the database already matches.")


@metadata.command("recompute")
@click.argument("object_name", metavar="OBJECT")
@click.argument("field_name", metavar="FIELD")
@click.option("--batch", default=1000, show_default=True, type=click.IntRange(1, 100_000), help="Records computed per statement.")
@click.pass_obj
@friendly_errors
def metadata_recompute(ctx: Context, object_name: str, field_name: str, batch: int) -> None:
    """Compute a roll-up field (or the stored formulas) of OBJECT again, every record, in batches."""
    from core import formulas, rollups  # noqa: PLC0415 - only this command needs them
    from core.words import hint  # noqa: PLC0415

    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    with runtime.writing() as (conn, schema):
        meta = schema.meta
        if object_name not in meta.objects:
            fail(f"no object is named '{object_name}'{hint(object_name, meta.objects)}")
        fdef = meta.objects[object_name].fields.get(field_name)
        rollup = rollups.find(meta, object_name, field_name)
        if rollup is None and not (fdef is not None and fdef.stored):
            shown = [f.name for f in meta.objects[object_name].active_fields() if f.rollup or f.stored]
            what = "no field" if fdef is None else "neither a roll-up nor a stored formula"
            fail(f"'{field_name}' is {what} of '{object_name}'; its roll-ups and stored formulas: {', '.join(shown) or 'none'}")
        with click.progressbar(length=1, label=f"Computing {object_name}.{field_name}", file=sys.stderr) as bar:
            def progress(done: int, total: int) -> None:
                bar.length = max(total, 1)
                bar.update(done - bar.pos)

            if rollup is not None:
                count = rollups.recompute(conn, schema, rollup, batch=batch, progress=progress)
            else:
                count = formulas.recompute(conn, schema, object_name, progress=progress)
    click.echo(f"Computed {object_name}.{field_name} for {count:,} record(s).")


@metadata.command("rename-field")
@click.argument("object_name", metavar="OBJECT")
@click.argument("old")
@click.argument("new")
@click.pass_obj
@friendly_errors
def metadata_rename(ctx: Context, object_name: str, old: str, new: str) -> None:
    """Rename a custom field of OBJECT from OLD to NEW, keeping its data."""
    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    _print_changes(runtime.change_metadata(rename_field(runtime.current_metadata(), object_name, old, new), ctx.who), "Nothing changed.")


@metadata.command("remove-field")
@click.argument("object_name", metavar="OBJECT")
@click.argument("field_name", metavar="FIELD")
@click.pass_obj
@friendly_errors
def metadata_remove(ctx: Context, object_name: str, field_name: str) -> None:
    """Hide a custom field; its column and data stay until purged (restore-field brings it back)."""
    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    runtime.change_metadata(set_removed(runtime.current_metadata(), object_name, field_name, True), ctx.who)
    click.echo(f"Removed {object_name}.{field_name}: hidden, its data kept. 'tessera metadata restore-field' brings it back.")


@metadata.command("restore-field")
@click.argument("object_name", metavar="OBJECT")
@click.argument("field_name", metavar="FIELD")
@click.pass_obj
@friendly_errors
def metadata_restore(ctx: Context, object_name: str, field_name: str) -> None:
    """Bring back a removed custom field with its data."""
    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    runtime.change_metadata(set_removed(runtime.current_metadata(), object_name, field_name, False), ctx.who)
    click.echo(f"Restored {object_name}.{field_name} with its data.")


@metadata.command("purge-field")
@click.argument("object_name", metavar="OBJECT")
@click.argument("field_name", metavar="FIELD")
@click.option("--yes", is_flag=True, help="Confirm that the column and its data are to be dropped for good.")
@click.pass_obj
@friendly_errors
def metadata_purge(ctx: Context, object_name: str, field_name: str, yes: bool) -> None:
    """Drop a removed field's column and data for good."""
    if not yes:
        fail(f"Purging drops {object_name}.{field_name} and its data for good; run again with --yes to confirm.")
    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    transform = forget_field(runtime.current_metadata(), object_name, field_name)
    changes = runtime.change_metadata(transform, ctx.who, before_sync=lambda conn, _old: [drop_column(conn, object_name, field_name)])
    _print_changes(changes, "Nothing changed.")


@metadata.command("history")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.pass_obj
@friendly_errors
def metadata_history(ctx: Context, limit: int) -> None:
    """Show the schema changes applied to this database, newest first."""
    from core.db import read_transaction
    from core.schema_sync import history

    ctx.runtime.upgrade(ctx.who)
    with read_transaction(ctx.runtime.engine) as conn:
        for row in history(conn, limit):
            click.echo(f"{row['applied_at']:%Y-%m-%d %H:%M:%S}  v{row['metadata_version']}  {row['applied_by']:<20} {row['detail']}")


# --- demo -----------------------------------------------------------------------------------


@cli.command("demo")
@click.option("--reset", is_flag=True,
              help="Load the demo data again even if the database has records (what it finds by name is used, not made twice).")
@click.pass_obj
@friendly_errors
def demo(ctx: Context, reset: bool) -> None:
    """Migrate, load the demo data set on a first run, and show what is there."""
    from core.demo import load_demo, summary

    runtime = ctx.runtime
    changes = runtime.upgrade(ctx.who)
    if changes:
        click.echo(f"Created the database schema ({len(changes)} operations).")
    loaded = load_demo(runtime, force=reset)
    if loaded:
        click.echo("Loaded the demo data: " + ", ".join(f"{n} {name}" for name, n in loaded.items()) + ".")
    click.echo(summary(runtime))


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--no-demo", is_flag=True, help="Do not load the demo data into a new database.")
@click.option("--no-worker", is_flag=True, help="Do not run scheduled and queued jobs in this process (run 'tessera worker' instead).")
@click.pass_obj
@friendly_errors
def serve(ctx: Context, host: str, port: int, no_demo: bool, no_worker: bool) -> None:
    """Start the web application (UI, REST API at /api, API docs at /schema).

    On a new database this creates the schema, loads the demo data and creates the user
    'admin' with a generated password, printed once. Unless --no-worker, the same process
    runs the plugins' scheduled jobs and the job queue.
    """
    from core import serving
    from core.api.app import create_app
    from core.auth import Accounts
    from core.demo import load_demo
    from core.imports.background import remove_old_uploads

    _refuse_busy_port(host, port)
    runtime = ctx.runtime
    changes = runtime.upgrade(ctx.who)
    if changes:
        click.echo(f"Created the database schema ({len(changes)} operations).")
    if not no_demo:
        loaded = load_demo(runtime)
        if loaded:
            click.echo("Loaded the demo data: " + ", ".join(f"{n} {name}" for name, n in loaded.items()) + ".")
    refresh_statistics(runtime.engine)  # after the demo data, which the planner then knows
    password = Accounts(runtime).ensure_admin()
    if password:
        click.echo(f"\nSign in as 'admin' with the password: {password}\n"
                   "(shown this once; change it with 'tessera user password admin'; add people with 'tessera user add')\n")
    removed = remove_old_uploads(runtime)
    if removed:
        click.echo(f"Removed {len(removed)} uploaded import file(s) unused for {runtime.settings.upload_retention_days} days.")
    where = shown_url(runtime.settings.database_url)
    click.echo(f"Tessera is serving {where} at http://{host}:{port}/ (API docs: http://{host}:{port}/schema)")
    serving.run(create_app(runtime, run_jobs=not no_worker), host, port)


@cli.command("worker")
@click.option("--concurrency", default=1, show_default=True, type=click.IntRange(1, 32), help="Jobs run at once, each in a thread.")
@click.option("--queues", default="", metavar="A,B", help="Run only the jobs of these queues (all by default).")
@click.option("--until-idle", is_flag=True, help="Enqueue what is due, run every due job, then stop (for a cron entry, say).")
@click.pass_obj
@friendly_errors
def worker(ctx: Context, concurrency: int, queues: str, until_idle: bool) -> None:
    """Run the plugins' scheduled jobs and the job queue until stopped (Ctrl-C).

    Any number of workers (and 'tessera serve' processes) can share a PostgreSQL database:
    no job runs twice. On SQLite, 'tessera serve' runs one itself.
    """
    import signal
    import threading

    from core.scheduler import JobRunner

    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    chosen = [q.strip() for q in queues.split(",") if q.strip()] or None
    runtime.webhooks.enqueue_pending()
    runner = JobRunner(runtime, concurrency, chosen)
    if until_idle:
        click.echo(f"Ran {runner.run_until_idle()} job(s).")
        return
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    runner.start()
    click.echo(f"Tessera's worker is running {concurrency} job(s) at once on {shown_url(runtime.settings.database_url)}"
               f"{' for the queues ' + ', '.join(chosen) if chosen else ''}; Ctrl-C stops it.")
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    runner.stop()
    click.echo("Stopped.")


def _refuse_busy_port(host: str, port: int) -> None:
    import socket

    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            fail(f"cannot listen on {host}:{port}: {exc.strerror}; choose another with --port or --host")


@cli.group()
def user() -> None:
    """People who sign in."""


@user.command("add")
@click.argument("username")
@click.option("--role", help="A role's name, or a permission set's name or label: the role using it (created when none does). "
                              "See 'GET /api/meta/roles'.")
@click.option("--team", "teams", multiple=True, help="A team the user belongs to (repeat for several; created if new).")
@click.option("--full-name", help="The name shown to others.")
@click.option("--email", help="The user's e-mail address.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input instead of prompting.")
@click.pass_obj
@friendly_errors
def user_add(ctx: Context, username: str, role: str | None, teams: tuple[str, ...], full_name: str | None, email: str | None,
             password_stdin: bool) -> None:
    """Create a user who signs in with USERNAME and a password."""
    from core.auth import Accounts

    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    password = _read_password(password_stdin)
    created_user, created_teams = Accounts(runtime).add_user(username, password, role, teams, full_name, email)
    for team in created_teams:
        click.echo(f"Created the team '{team}'.")
    role_text = (f" with the role '{created_user['role']['label']}'" if role
                 else " without a role (they can sign in but see nothing until given one)")
    click.echo(f"Created the user '{username}' (id {created_user['id']}){role_text}.")


@user.command("password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="Read the new password from standard input instead of prompting.")
@click.pass_obj
@friendly_errors
def user_password(ctx: Context, username: str, password_stdin: bool) -> None:
    """Set a new password for USERNAME."""
    from core.auth import Accounts
    from core.records import Actor

    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    found = runtime.records.list(Actor.system(), "user", {"username": username, "limit": 1}).items
    if not found:
        fail(f"there is no user '{username}'")
    Accounts(runtime).set_password(found[0]["id"], _read_password(password_stdin), username)
    click.echo(f"Set a new password for '{username}'.")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on standard input")
        return password
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


def _print_changes(changes: list[Change], nothing: str, prefix: str = "Applied") -> None:
    if not changes:
        click.echo(nothing)
        return
    click.echo(f"{prefix} {len(changes)} schema operation(s):")
    for change in changes:
        click.echo(f"  {change.operation:<16} {change.detail}")


# --- import and export ---------------------------------------------------------------------

SHOWN_REJECTIONS = 20


def _record_errors(function):
    """Refusals of imports and exports as messages naming the row, column or field."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        from core.exports import ExportError
        from core.imports import ImportFailed, MappingError, SourceError
        from core.metadata.model import UnknownObject
        from core.records import RecordError
        from core.query import QueryError

        try:
            return function(*args, **kwargs)
        except MappingError as exc:
            fail("The mapping cannot be used; nothing was imported:\n" + "\n".join(f"  {p}" for p in exc.problems))
        except ImportFailed as exc:
            if exc.report is not None:
                _print_report(exc.report)
            fail(f"The import stopped: {exc}")
        except (SourceError, ExportError, UnknownObject, RecordError, QueryError) as exc:
            fail(str(exc))

    return wrapper


def _actor(runtime, username: str | None):
    """The system (trusted) by default; with --user, that user with their role's permissions."""
    from core.records import Actor

    if username is None:
        return Actor.system()
    found = runtime.records.list(Actor.system(), "user", {"username": username, "limit": 1}).items
    if not found:
        fail(f"there is no user '{username}'")
    role = found[0].get("role")
    permission_set = runtime.records.get(Actor.system(), "role", role["id"])["permission_set"] if role else ""
    return Actor(found[0]["id"], username, permission_set or "")


@cli.command("import")
@click.argument("object_name", metavar="OBJECT")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--mapping", "mapping_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A mapping file (JSON): columns to fields, value mappings, lookups, duplicate rules.")
@click.option("--dry-run", is_flag=True, help="Check every row and report what would happen; write nothing.")
@click.option("--key", "keys", multiple=True, metavar="FIELD", help="Find existing records by this field (repeat for a key of several fields).")
@click.option("--on-duplicate", type=click.Choice(["update", "skip", "create"]), default="update", show_default=True,
              help="What a row matching a record by --key does.")
@click.option("--encoding", help="The CSV file's encoding (default: UTF-8 with or without BOM, else GBK).")
@click.option("--sheet", help="The XLSX sheet to read (default: the first).")
@click.option("--batch-size", type=click.IntRange(1, 50_000), default=1000, show_default=True, help="Rows per transaction.")
@click.option("--rejected", "rejected_file", type=click.Path(path_type=Path, dir_okay=False),
              help="Where to write the rejected rows (default: FILE.rejected.csv).")
@click.option("--restart", is_flag=True, help="Start again from the first row instead of resuming an unfinished run of this file.")
@click.option("--user", "username", metavar="USERNAME", help="Import as this user, with their role's permissions (default: the system).")
@click.pass_obj
@friendly_errors
@_record_errors
def import_command(ctx: Context, object_name: str, file: Path, mapping_file: Path | None, dry_run: bool, keys: tuple[str, ...],
                   on_duplicate: str, encoding: str | None, sheet: str | None, batch_size: int, rejected_file: Path | None,
                   restart: bool, username: str | None) -> None:
    """Import a CSV or XLSX FILE into OBJECT through the record service, in batches.

    An interrupted run of the same file resumes after its last completed batch. Exits 1
    when rows were rejected (they are in the rejected-rows file, with a reason column).
    """
    import time

    from core.imports import ImportOptions, read_mapping_file, run_import

    if rejected_file is not None and not rejected_file.absolute().parent.is_dir():
        fail(f"--rejected: there is no folder {rejected_file.absolute().parent} to write the rejected rows in")
    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    mapping = read_mapping_file(mapping_file) if mapping_file else None
    options = ImportOptions(mapping=mapping, duplicates=[{"match": list(keys), "then": on_duplicate}] if keys else [],
                            dry_run=dry_run, encoding=encoding, sheet=sheet, batch_size=batch_size,
                            rejected_path=rejected_file, resume=not restart)
    started = time.perf_counter()
    with click.progressbar(length=1000, label=f"{'Checking' if dry_run else 'Importing'} {file.name}", file=sys.stderr) as bar:
        def show(report) -> None:
            if report.resumed_from and not getattr(show, "said", False):
                show.said = True
            bar.update(int(report.progress * 1000) - bar.pos)

        report = run_import(runtime, _actor(runtime, username), object_name, file, options, show)
    _print_report(report, time.perf_counter() - started)
    if report.rejected:
        sys.exit(1)


def _print_report(report, seconds: float | None = None) -> None:
    if report.resumed_from:
        click.echo(f"Resumed job {report.job_id} at row {report.resumed_from:,}.")
    mapped: dict[str, list[str]] = {}
    for column, field_name in report.columns:
        mapped.setdefault(column, []).append(field_name)
    click.echo("Columns: " + ("; ".join(f"{c} -> {', '.join(f)}" for c, f in mapped.items()) or "none is mapped to a field")
               + (f"; not imported: {', '.join(report.ignored)}" if report.ignored else ""))
    verb = ("would create", "would update", "would skip") if report.dry_run else ("created", "updated", "skipped")
    counts = f"{verb[0]} {report.created:,}, {verb[1]} {report.updated:,}, {verb[2]} {report.skipped:,}, rejected {report.rejected:,}"
    if report.dry_run:
        click.echo(f"Dry run of {report.source} into {report.object} (job {report.job_id}), nothing was written: {counts}.")
    else:
        rate = ""
        if seconds:
            rows = report.created + report.updated + report.skipped + report.rejected
            rate = f" in {seconds:.1f} s ({rows / seconds:,.0f} rows/s)"
        click.echo(f"Imported {report.source} into {report.object} (job {report.job_id}): {counts}{rate}.")
    for rejection in report.rejections[:SHOWN_REJECTIONS]:
        click.echo(f"  row {rejection.row}: {rejection.reason}")
    if report.rejected > SHOWN_REJECTIONS:
        click.echo(f"  ... and {report.rejected - SHOWN_REJECTIONS:,} more")
    if report.rejected:
        click.echo(f"The rejected rows, with a reason column, are in {report.rejected_path}: fix them and import that file.")
    for warning in report.warnings:
        click.echo(f"Warning: {warning}")


@cli.command("export")
@click.argument("object_name", metavar="OBJECT")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@click.argument("filters", nargs=-1, metavar="[FILTER]...")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), help="The file format (default: from FILE's suffix, else csv).")
@click.option("--user", "username", metavar="USERNAME", help="Export what this user may see (default: the system, everything).")
@click.pass_obj
@friendly_errors
@_record_errors
def export_command(ctx: Context, object_name: str, file: Path, filters: tuple[str, ...], fmt: str | None, username: str | None) -> None:
    """Write the records of OBJECT matching FILTERs (as in the records API: stage=won amount__gte=1000 sort=-close_date)
    to FILE ('-' for standard output)."""
    from core.exports import export, write

    params = [_filter(text) for text in filters]
    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    actor = _actor(runtime, username)
    if str(file) == "-":
        with _reader_may_stop():
            count = write(click.get_binary_stream("stdout"), runtime, actor, object_name, params, fmt or "csv")
        click.echo(f"Exported {count:,} {object_name} record(s) to standard output.", err=True)
        return
    count = export(runtime, actor, object_name, file, params, fmt)
    click.echo(f"Exported {count:,} {object_name} record(s) to {file}.")


@cli.group("reports")
def reports_group() -> None:
    """Run reports as a user would: their figures under that user's permissions."""


@reports_group.command("list")
@click.option("--user", "username", metavar="USERNAME", help="The reports this user may run (default: the system, every report).")
@click.pass_obj
@friendly_errors
@_record_errors
def reports_list(ctx: Context, username: str | None) -> None:
    """Name, object, kind and label of each report."""
    from core.reports.running import Runner

    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    for report in Runner(runtime).available(_actor(runtime, username)):
        click.echo(f"{report['name']}\t{report['object']}\t{report['kind']}\t{report['label'].get('en', '')}")


@reports_group.command("run")
@click.argument("name")
@click.argument("filters", nargs=-1, metavar="[FILTER]...")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv", "xlsx"]), default="table", show_default=True,
              help="How the figures are written.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), help="Write to this file (xlsx needs one; default: standard output).")
@click.option("--user", "username", metavar="USERNAME", help="Run it as this user, under their record scopes (default: the system).")
@click.option("--lang", type=click.Choice(["en", "zh-CN"]), default="en", show_default=True, help="The language of headers and labels.")
@click.pass_obj
@friendly_errors
@_record_errors
def reports_run(ctx: Context, name: str, filters: tuple[str, ...], fmt: str, output: Path | None, username: str | None, lang: str) -> None:
    """Run the report NAME; FILTERs are list filters added to its own (amount__gte=1000) and period=this_quarter."""
    import json as json_module

    from core.reports.definition import ReportError
    from core.reports.exporting import as_bytes, table
    from core.reports.running import Runner

    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    if fmt == "xlsx" and output is None:
        fail("--format xlsx writes a file: add --output FILE")
    try:
        result = Runner(runtime).run(_actor(runtime, username), name, [_filter(text) for text in filters])
    except LookupError as exc:
        fail(str(exc.args[0] if exc.args else exc))
    except ReportError as exc:
        fail("The report cannot run:\n" + "\n".join(f"  {name}{at}: {said.in_(lang)}" for at, said in exc.problems))
    if fmt in ("csv", "xlsx"):
        data = as_bytes(result, lang, fmt)
    elif fmt == "json":
        data = (json_module.dumps(result.as_dict(), ensure_ascii=False, indent=2) + "\n").encode()
    else:
        headers, rows = table(result, lang)
        widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows)]
        lines = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip() for line in [headers, *rows]]
        data = ("\n".join(lines) + "\n").encode()
    if output is None:
        with _reader_may_stop():
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        return
    output.write_bytes(data)
    click.echo(f"Wrote {len(result.rows):,} row(s) of {name} to {output}.")


@contextlib.contextmanager
def _reader_may_stop():
    """Standard output piped to a reader that stops early (| head): end quietly, as other commands do."""
    try:
        yield
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own advice: no second error at exit
        sys.exit(1)


def _filter(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        fail(f"'{text}' is not a filter; write FIELD=VALUE or FIELD__OPERATOR=VALUE, e.g. stage=won or amount__gte=1000")
    return name, value


@cli.group()
def jobs() -> None:
    """Scheduled jobs that plugins register, and the job queue."""


@jobs.command("list")
@click.pass_obj
@friendly_errors
def jobs_list(ctx: Context) -> None:
    """List the scheduled jobs with their plugin and interval, then the queue: jobs per state, the latest ones."""
    from core import queue
    from core.db import read_transaction

    runtime = ctx.runtime
    registered = runtime.scheduled_jobs()
    if not registered:
        click.echo("No scheduled jobs are registered.")
    for name, job in sorted(registered.items()):
        when = f"cron {job.cron}" if job.cron else f"every {job.every_seconds:>6} s"
        whose = "core" if job.plugin in runtime.plugins.core_hooks else f"plugin {job.plugin}"
        click.echo(f"{name:<36} {when}   ({whose})")
    runtime.upgrade(ctx.who)
    with read_transaction(runtime.engine) as conn:
        counts, latest = queue.counts(conn), queue.jobs(conn, limit=20)
    if not counts:
        click.echo("\nThe job queue is empty.")
        return
    click.echo("\nQueue: " + "; ".join(f"{q} {s} {n}" for (q, s), n in sorted(counts.items())))
    for row in latest:
        click.echo(_job_line(row))


def _job_line(row) -> str:
    return (f"#{row.id:<8} {row.state:<8} {row.queue:<12} {row.kind:<24} attempt {row.attempts}/{row.max_attempts}"
            f"  run at {row.run_at:%Y-%m-%d %H:%M:%S}" + (f"  error: {row.last_error.splitlines()[0][:80]}" if row.last_error else ""))


@jobs.command("show")
@click.argument("job_id", type=click.IntRange(1))
@click.pass_obj
@friendly_errors
def jobs_show(ctx: Context, job_id: int) -> None:
    """Show the queued job JOB_ID: its state, attempts, payload and last error."""
    import json

    from core import queue
    from core.db import read_transaction

    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    with read_transaction(runtime.engine) as conn:
        row = queue.job_row(conn, job_id)
    if row is None:
        fail(f"there is no job {job_id}; 'tessera jobs list' shows the latest")
    click.echo(_job_line(row))
    click.echo(f"payload: {json.dumps(row.payload, ensure_ascii=False)}")
    if row.key:
        click.echo(f"key: {row.key}")
    if row.last_error:
        click.echo(f"last error: {row.last_error}")


@jobs.command("retry")
@click.argument("job_id", type=click.IntRange(1))
@click.pass_obj
@friendly_errors
def jobs_retry(ctx: Context, job_id: int) -> None:
    """Queue the dead job JOB_ID again, its attempts counted afresh."""
    from core import queue

    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    if not queue.retry(runtime.engine, job_id):
        fail(f"job {job_id} is not a dead job; 'tessera jobs list' shows the jobs and their states")
    click.echo(f"Job {job_id} is queued again.")


@jobs.command("run")
@click.argument("name")
@click.pass_obj
@friendly_errors
def jobs_run(ctx: Context, name: str) -> None:
    """Run the scheduled job NAME once, now."""
    from core.metadata.problems import did_you_mean

    runtime = ctx.runtime
    runtime.upgrade(ctx.who)
    registered = runtime.scheduled_jobs()
    job = registered.get(name)
    if job is None:
        fail(f"there is no scheduled job '{name}'{did_you_mean(name, registered)}; 'tessera jobs list' shows them")
    result = job.run(runtime)
    click.echo(f"Ran {name}: {result if result is not None else 'done'}")


@cli.command("plugins")
@click.pass_obj
@friendly_errors
def plugins_command(ctx: Context) -> None:
    """List the installed plugins: version, enabled, requirements, objects and hooks."""
    plugins = ctx.plugins or ctx.runtime.plugins
    contributed = _objects_by_plugin(ctx)
    if not plugins.plugins:
        click.echo("No plugins are installed.")
    for plugin in plugins.plugins:
        info = plugin.info
        state = "enabled" if plugin.enabled else "disabled"
        click.echo(f"{info.name} {info.version}  [{state}]  {info.label.get('en', '')}")
        click.echo(f"  from:      {plugin.distribution or plugin.file}")
        click.echo(f"  requires:  {', '.join(info.requires) or '-'}; Tessera {info.tessera or 'any'}")
        objects, extended = contributed.get(info.name, ([], []))
        click.echo(f"  objects:   {', '.join(objects) or '-'}")
        click.echo(f"  extends:   {', '.join(extended) or '-'}")
        click.echo(f"  hooks:     {', '.join(plugin.hooks(plugins.manager)) or '-'}")


def _objects_by_plugin(ctx: Context) -> dict[str, tuple[list[str], list[str]]]:
    """Objects each plugin defines and objects it extends, from its metadata."""
    from core.metadata.files import documents_from

    result: dict[str, tuple[list[str], list[str]]] = {}
    runtime = ctx.runtime
    docs = list(runtime.defined_documents())
    for plugin in runtime.plugins.plugins:
        if not plugin.enabled and plugin.folder is not None:  # not loaded: read its files for the listing only
            for path in sorted((plugin.folder / "metadata").glob("*.json")):
                docs += documents_from(read_json(path), str(path), f"plugin:{plugin.info.name}", runtime.registry.names())
    for doc in docs:
        if not doc.layer.startswith("plugin:"):
            continue
        objects, extended = result.setdefault(doc.layer.split(":", 1)[1], ([], []))
        if doc.kind == "object":
            objects.append(doc.body["name"])
        elif doc.kind == "extension" and doc.body["object"] not in extended:
            extended.append(doc.body["object"])
    return result


if __name__ == "__main__":  # pragma: no cover
    main()
