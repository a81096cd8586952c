"""The application runtime: settings, database, field types and metadata caches.

One Runtime per application (never a module global). Tables and validators are caches
of metadata: each unit of work reads the metadata version in its own transaction and
rebuilds the caches when another process has changed the metadata since.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

from sqlalchemy import Connection, text

from core import grants, group_totals, search
from core.db import checkpoint, make_engine, read_statements, read_transaction, write_transaction
from core.fieldtypes import FieldTypeRegistry
from core import formulas
from core.formulas import hide_unreadable
from core.metadata import store
from core.metadata.files import base_documents, documents_from, read_json
from core.metadata.model import CUSTOM_LAYER, SYSTEM_FIELDS, Doc, FieldDef, MetadataSet, build
from core.metadata.problems import MetadataError, Problem, pointer
from core.metadata.store import CustomConfig
from core.migrate import upgrade_core
from core.permissions import TRUSTED, Access, Memberships, row_condition
from core.plugins import AutomationAction, DashboardWidget, JobKind, PluginError, PluginSet, ScheduledJob, load_plugins
from core.schema_sync import Change, record, sync
from core.settings import Settings
from core.tables import SchemaTables, build_tables
from core.validation import OWNER_FIELD_SPEC, RecordValidator

PG_METADATA_LOCK = 7_420_001
SYSTEM_FIELD_SPECS = {
    "id": {"name": "id", "type": "integer", "label": {"en": "ID", "zh-CN": "编号"}},
    "version": {"name": "version", "type": "integer", "label": {"en": "Version", "zh-CN": "版本"}},
    "created_at": {"name": "created_at", "type": "datetime", "label": {"en": "Created at", "zh-CN": "创建时间"}},
    "created_by": {"name": "created_by", "type": "lookup", "target": "user", "label": {"en": "Created by", "zh-CN": "创建人"}},
    "updated_at": {"name": "updated_at", "type": "datetime", "label": {"en": "Updated at", "zh-CN": "更新时间"}},
    "updated_by": {"name": "updated_by", "type": "lookup", "target": "user", "label": {"en": "Updated by", "zh-CN": "更新人"}},
    "owner": OWNER_FIELD_SPEC,
    "deleted_at": {"name": "deleted_at", "type": "datetime", "label": {"en": "Deleted at", "zh-CN": "删除时间"}},
}
assert tuple(SYSTEM_FIELD_SPECS) == SYSTEM_FIELDS


@dataclass
class Schema:
    """Everything derived from one metadata version."""

    version: int
    meta: MetadataSet
    tables: SchemaTables
    registry: FieldTypeRegistry
    _validators: dict[str, RecordValidator] = field(default_factory=dict)
    _system_fields: dict[str, dict[str, FieldDef]] = field(default_factory=dict)
    _access: dict[str, Access] = field(default_factory=dict)
    _queryable: dict[tuple[str, str], dict[str, FieldDef]] = field(default_factory=dict)
    _memo: dict[tuple, object] = field(default_factory=dict)

    def memo(self, key: tuple, build: Callable[[], object]) -> object:
        """A value derived from this metadata version (a prepared statement, say), built on first use."""
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]

    def access(self, actor) -> Access:
        """What ``actor`` may do under this metadata version (trusted code: everything)."""
        name = actor.permission_set
        if name is None:
            return TRUSTED
        access = self._access.get(name)
        if access is None:
            access = Access.from_permission_set(name, self.meta.permission_sets.get(name))
            access = self._access[name] = hide_unreadable(access, self.meta)
        return access

    @functools.cached_property
    def memberships(self) -> Memberships:
        return Memberships(self.tables.objects["user"].junctions["teams"])

    def row_condition(self, access: Access, object_name: str, operation: str):
        """The permission condition on the object's table, built once per set, object and operation."""
        return self.memo(("condition", access.name, object_name, operation),
                         lambda: row_condition(access, self.memberships, object_name, self.tables.table(object_name), operation))

    def queryable(self, object_name: str, access: Access) -> dict[str, FieldDef]:
        """The fields a list query may filter and sort on: the visible ones and the system fields."""
        key = (object_name, access.name)
        fields = self._queryable.get(key)
        if fields is None:
            obj = self.meta.object(object_name)
            fields = {f.name: f for f in obj.active_fields() if access.visible(object_name, f.name)}
            fields.update(self.system_fields(object_name))
            self._queryable[key] = fields
        return fields

    def validator(self, object_name: str) -> RecordValidator:
        validator = self._validators.get(object_name)
        if validator is None:
            obj = self.meta.object(object_name)
            validator = RecordValidator(obj, self.system_fields(object_name)["owner"])
            self._validators[object_name] = validator
        return validator

    def system_fields(self, object_name: str) -> dict[str, FieldDef]:
        """System columns as field definitions, so they can be filtered and sorted."""
        fields = self._system_fields.get(object_name)
        if fields is None:
            fields = {
                name: FieldDef(name, self.registry[spec["type"]], spec, object_name, False, "system")
                for name, spec in SYSTEM_FIELD_SPECS.items()
            }
            self._system_fields[object_name] = fields
        return fields


class Runtime:
    def __init__(self, settings: Settings | None = None, plugins: PluginSet | None = None, extra_plugins=()) -> None:
        self.settings = settings or Settings.from_env()
        self.plugins = plugins or load_plugins(self.settings.plugins, self.settings.disabled_plugins, extra_plugins)
        self.registry = self._field_types()
        self.engine = make_engine(self.settings.database_url, echo=self.settings.sql_echo)
        self._base_docs: list[Doc] | None = None
        self._schema: Schema | None = None
        self._lock = threading.Lock()
        from core.records import RecordService  # noqa: PLC0415 - records depends on runtime types
        from core.webhooks import Webhooks  # noqa: PLC0415

        from core.imports.background import BackgroundImports  # noqa: PLC0415

        self.records = RecordService(self)
        self.webhooks = Webhooks(self)
        self.imports = BackgroundImports(self)
        from core import rollups  # noqa: PLC0415 - roll-ups follow the record service's events
        from core.automations import engine as automations  # noqa: PLC0415

        # told of every change inside its transaction (core/records/events.py)
        from core import formulas  # noqa: PLC0415 - so do stored formulas

        from core.reports.cache import ReportCache  # noqa: PLC0415 - reports' results follow the writes too

        self.report_cache = ReportCache()
        from core import stage_history  # noqa: PLC0415 - stage intervals follow the record service's events too

        self.record_subscribers = [functools.partial(rollups.receive, self), functools.partial(formulas.receive, self),
                                   functools.partial(stage_history.receive, self), self.webhooks.receive, self.report_cache.receive,
                                   functools.partial(automations.receive, self)]

    # --- layers -------------------------------------------------------------------------

    def _field_types(self) -> FieldTypeRegistry:
        registry = FieldTypeRegistry()
        for plugin_name, types in self.per_plugin("tessera_field_types"):
            for ftype in types or []:
                try:
                    registry.register(ftype)
                except ValueError:
                    raise PluginError(f"plugin '{plugin_name}' registers the field type '{ftype.name}', which already exists") from None
        return registry

    def per_plugin(self, hook_name: str, **kwargs):
        """(plugin name, result) for each implementation, in load order."""
        for impl in getattr(self.plugins.hook, hook_name).get_hookimpls():  # registration order
            yield impl.plugin_name, impl.function(*[kwargs[a] for a in impl.argnames])

    def automation_actions(self) -> dict[str, AutomationAction]:
        return self._registered("tessera_automation_actions", "automation action")

    def scheduled_jobs(self) -> dict[str, ScheduledJob]:
        """The plugins' scheduled jobs; one whose schedule makes no sense stops start-up (PluginError), naming why."""
        from core.scheduler import schedule_problem  # noqa: PLC0415 - the scheduler runs jobs of this runtime

        found = self._registered("tessera_scheduled_jobs", "scheduled job")
        for job in found.values():
            problem = schedule_problem(job)
            if problem:
                raise PluginError(f"plugin '{job.plugin}' registers the scheduled job '{job.name}' with {problem}")
        return found

    def job_kinds(self) -> dict[str, JobKind]:
        return self._registered("tessera_job_kinds", "job kind")

    def dashboard_widgets(self) -> dict[str, DashboardWidget]:
        return self._registered("tessera_dashboard_widgets", "dashboard widget")

    def _registered(self, hook_name: str, what: str) -> dict:
        """Named things plugins register, each stamped with its plugin; a name used twice stops start-up."""
        found: dict = {}
        for plugin_name, items in self.per_plugin(hook_name):
            for item in items or []:
                if item.name in found:
                    raise PluginError(f"plugin '{plugin_name}' registers the {what} '{item.name}', already registered by plugin '{found[item.name].plugin}'")
                found[item.name] = dataclasses.replace(item, plugin=plugin_name)
        return found

    def defined_documents(self) -> list[Doc]:
        """Base and plugin documents (read once per process)."""
        if self._base_docs is None:
            docs = base_documents(self.registry.names())
            for plugin in self.plugins.enabled:
                docs += self._plugin_files(plugin)
            for plugin_name, data in self.per_plugin("tessera_metadata", runtime=self):
                source = f"plugin {plugin_name}: tessera_metadata()"
                docs += documents_from(list(data or []), source, f"plugin:{plugin_name}", self.registry.names())
            self._base_docs = docs
        return self._base_docs

    def _plugin_files(self, plugin) -> list[Doc]:
        """Metadata found by convention in the plugin package's metadata/ folder."""
        docs, problems = [], []
        if plugin.folder is None:
            return docs
        for path in sorted((plugin.folder / "metadata").glob("*.json")):
            source = f"plugin {plugin.info.name}: {path.relative_to(plugin.folder.parent)}"
            try:
                docs += documents_from(read_json(path, source), source, f"plugin:{plugin.info.name}", self.registry.names())
            except MetadataError as exc:
                problems += exc.problems
        if problems:
            raise MetadataError(problems)
        return docs

    def build_metadata(self, config: CustomConfig) -> MetadataSet:
        return build(self.defined_documents() + config.documents(), self.registry)

    # --- database lifecycle ------------------------------------------------------------------

    def upgrade(self, who: str = "system") -> list[Change]:
        """Migrate core's tables, then sync the metadata-defined tables."""
        upgrade_core(self.engine)
        changes = self.change_metadata(lambda config: config, who, full=True)
        with self.writing() as (conn, schema):
            search.build_once(conn, schema.meta, schema.tables)
            from core import stage_history  # noqa: PLC0415 - it reads the record service's events

            stage_history.fill_missing(conn, schema)
        return changes

    def change_metadata(
        self, transform: Callable[[CustomConfig], CustomConfig], who: str, dry_run: bool = False,
        before_sync: Callable[[Connection, MetadataSet], list[Change]] | None = None, full: bool = False,
        access: Access = TRUSTED, conn: Connection | None = None,
    ) -> list[Change]:
        """Apply a change to the customization layer and the schema in one transaction.

        With ``dry_run`` the whole change runs and is then rolled back, so the returned
        operations are exactly those a real run would apply. ``access``: whose change it is,
        for the rules on privileged permission sets (core/grants.py); ``conn``: a write
        transaction to make the change in (with what else it holds), instead of a new one.
        """
        if conn is not None:
            if dry_run:
                raise ValueError("a dry run needs a transaction of its own")
            return self._change_metadata(conn, transform, who, before_sync, full, access)
        with write_transaction(self.engine) as conn:
            changes = self._change_metadata(conn, transform, who, before_sync, full, access)
            if dry_run:
                conn.get_transaction().rollback()
        return changes

    def _change_metadata(self, conn: Connection, transform: Callable[[CustomConfig], CustomConfig], who: str,
                         before_sync: Callable[[Connection, MetadataSet], list[Change]] | None, full: bool, access: Access) -> list[Change]:
        self._lock_metadata(conn)
        config = store.load_config(conn)
        try:
            old = self.build_metadata(config)
        except MetadataError:
            old = None  # e.g. a plugin was removed; the new metadata decides
        new_config = transform(config)
        new = self.build_metadata(new_config)
        if old is not None:
            self._check_permission_sets(conn, old, new, access)
        changes = before_sync(conn, old) if before_sync else []
        changes += sync(conn, old, new, full=full)
        self._check_references(conn, new, config, new_config)
        beyond = formulas.database_problems(conn, new, build_tables(new))
        if beyond:
            raise MetadataError(beyond)
        reindexed = search.follow_metadata(conn, old, new, lambda: build_tables(new))
        group_totals.follow_metadata(conn, new, {c.object for c in changes})
        for name in sorted({c.object for c in changes if c.operation == "fill_column"} - set(reindexed)):
            search.reindex(conn, new, build_tables(new), name)  # values written into existing rows are found by search
        changed_docs = store.save_config(conn, config, new_config, who)
        if changes or changed_docs or store.current_version(conn) == 0:
            version = store.bump_version(conn)
            record(conn, changes, who, version)
        return changes

    def _check_references(self, conn: Connection, new: MetadataSet, old_config: CustomConfig, config: CustomConfig) -> None:
        """Users, teams, roles and plugins' actions that the rules and approval processes this change stores name exist
        (those stored before are not checked again: a user who left makes their runs fail, logged, not every change)."""
        from core.automations import references  # noqa: PLC0415 - rules read the records' tables

        changed = [doc for doc in config.documents() if doc.kind in references.KINDS
                   and getattr(old_config, store.KIND_TO_ATTR[doc.kind]).get(doc.body["name"]) != doc.body]
        if not changed:
            return
        problems = references.problems(self, conn, build_tables(new), changed, new.permission_sets)
        if problems:
            raise MetadataError(problems)

    def _check_permission_sets(self, conn: Connection, old: MetadataSet, new: MetadataSet, access: Access) -> None:
        """Only who holds a privilege changes a set that gives it; no change leaves the database without an active admin."""
        problem = grants.refused_set_change(old.permission_sets, new.permission_sets, access)
        if problem:
            raise PermissionError(problem)
        lost = [name for name, body in old.permission_sets.items() if grants.level(body) == grants.ADMIN
                and grants.level(new.permission_sets.get(name)) != grants.ADMIN]
        if not lost:
            return
        grants.lock_admins(conn)
        tables = self.schema(conn).tables
        user, role = tables.table("user"), tables.table("role")
        before, after = grants.holders(conn, user, role, old.permission_sets), grants.holders(conn, user, role, new.permission_sets)
        problem = grants.lost_every_admin(before, after)
        if problem:
            raise MetadataError([Problem("permission sets", pointer("permission_sets", lost[0], "admin"), str(problem))])

    def import_changeset(self, data, source: str, who: str, dry_run: bool = False, access: Access = TRUSTED,
                         conn: Connection | None = None) -> list[Change]:
        """Merge a parsed changeset into the customization layer and sync the schema (see ``change_metadata``)."""
        docs = documents_from(data, source, CUSTOM_LAYER, self.registry.names())
        defined = {d.body["name"]: d.source for d in self.defined_documents() if d.kind == "object"}
        return self.change_metadata(lambda config: store.merge_changeset(config, docs, defined), who, dry_run=dry_run,
                                    access=access, conn=conn)

    def current_metadata(self) -> MetadataSet:
        with self.reading() as (_conn, schema):
            return schema.meta

    def _lock_metadata(self, conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_METADATA_LOCK})

    # --- caches -------------------------------------------------------------------------------

    def schema(self, conn: Connection) -> Schema:
        """The Schema for the metadata version visible in ``conn``'s transaction."""
        version = store.current_version(conn)
        schema = self._schema
        if schema is not None and schema.version == version:
            return schema
        with self._lock:
            if self._schema is None or self._schema.version != version:
                meta = self.build_metadata(store.load_config(conn))
                self._schema = Schema(version, meta, build_tables(meta), self.registry)
            return self._schema

    def recent_schema(self) -> Schema:
        """The Schema last built, without checking the version: for reads of core's own columns
        (users' names and roles on every request), which no metadata change can alter."""
        if self._schema is not None:
            return self._schema
        with self.reading() as (_conn, schema):
            return schema

    @contextmanager
    def reading(self, budget: float | None = None) -> Iterator[tuple[Connection, Schema]]:
        """A unit of reads; ``budget``: see ``loop_read_budget``."""
        with read_statements(self.engine, budget) as conn:
            yield conn, self.schema(conn)

    @property
    def loop_read_budget(self) -> float | None:
        """Seconds a read may take on the web server's event loop before it moves to a worker thread; None: it never runs there.

        Only SQLite: its reads are work in this process, which a thread switch would add to.
        PostgreSQL's are waits on the network, which must not hold the loop.
        """
        if self.engine.dialect.name != "sqlite" or not self.settings.loop_read_ms:
            return None
        return self.settings.loop_read_ms / 1000

    @contextmanager
    def writing(self) -> Iterator[tuple[Connection, Schema]]:
        """A unit of writes; the search index follows the records it wrote (core/search.py) before it commits."""
        with write_transaction(self.engine) as conn:
            try:
                schema = self.schema(conn)
                yield conn, schema
                search.flush(conn, schema.meta, schema.tables)
            finally:
                search.forget(conn)
                written = self.report_cache.written_in(conn)
        self.report_cache.written(written)  # again after the commit: see core/reports/cache.py

    def export_config(self) -> dict:
        return self.custom_config().as_changeset()

    def custom_config(self) -> CustomConfig:
        """The customization layer as stored now."""
        with read_transaction(self.engine) as conn:
            return store.load_config(conn)

    def close(self) -> None:
        """Release the database: on SQLite, its write-ahead log goes into the database file first."""
        checkpoint(self.engine)
        self.engine.dispose()
