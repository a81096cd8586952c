"""Plugins: found through the ``tessera`` entry point group, checked, ordered, registered.

A plugin is a module (usually a package) that declares ``PLUGIN = PluginInfo(...)`` and
implements hooks from core/hookspecs.py. Built-in plugins are declared as entry points
in pyproject.toml exactly like a partner's; core never imports plugins/ itself.

The manager is built per application by ``load_plugins`` (never at import time). Any
problem while loading stops start-up with a PluginError that names the plugin and its
file: a module that fails to import, a missing or mismatched requirement, an unknown
(misspelt) hook, a dependency cycle.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterable

import pluggy
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from core import __version__, hookspecs
from core.hookspecs import PROJECT
from core.words import Sentence

ENTRY_POINT_GROUP = "tessera"


@dataclass(frozen=True)
class PluginInfo:
    """What a plugin declares about itself (module attribute ``PLUGIN``).

    ``requires``: other plugins it needs, as requirement strings (``"sales"``,
    ``"sales>=0.2"``). ``tessera``: the Tessera versions it works with (``">=0.1,<1"``).
    ``hookspecs``: hooks this plugin offers to others; they implement them with
    ``@hookimpl(optionalhook=True)`` so that they still load when this plugin is absent.
    ``record_objects``: the objects whose record hooks (validate, before_*, after_*) this
    plugin implements; the core then never calls them for other objects, so a plugin
    costs nothing on the records it does not care about.
    """

    name: str
    version: str
    label: dict = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    tessera: str = ""
    description: str = ""
    hookspecs: Any = None  # a module or class of hooks this plugin calls for others to implement
    record_objects: tuple[str, ...] | None = None  # objects its record hooks concern (None: every object)


@dataclass(frozen=True)
class AutomationAction:
    name: str
    label: dict
    run: Callable[..., Any]
    plugin: str = ""


@dataclass(frozen=True)
class ScheduledJob:
    """A plugin's job run by itself: every ``every_seconds``, or at the times of ``cron`` (five fields, UTC; give
    ``every_seconds=0`` then)."""

    name: str
    every_seconds: int
    run: Callable[..., Any]
    plugin: str = ""
    cron: str | None = None


@dataclass(frozen=True)
class JobKind:
    """Jobs a plugin enqueues (``core.queue.enqueue(conn, name, payload)``) and runs: ``run(runtime, job)``."""

    name: str
    run: Callable[..., Any]
    plugin: str = ""


@dataclass(frozen=True)
class DashboardWidget:
    name: str
    label: dict
    render: Callable[..., Any]
    plugin: str = ""


@dataclass
class RecordEvent:
    """What record hooks receive.

    ``values``: the record's values as the API shows them (before-hooks may change them;
    for updates, only the changed fields). ``previous``: the stored record (updates and
    deletes). ``record``: the stored record after the write (after-hooks). ``changes``:
    field -> (old, new) (after_update). ``records``: record access in the same
    transaction. ``actor``: who is acting. ``meta``: the metadata in effect (objects,
    fields, picklist values with their ``properties``). ``hooks``: the hook relay, to
    call hooks other plugins implement. ``now``: the UTC time the write is stamped with
    (``created_at``/``updated_at``), so times a plugin derives agree with the record's.
    """

    object: str
    actor: Any
    records: Any
    values: dict = field(default_factory=dict)
    previous: dict | None = None
    record: dict | None = None
    changes: dict = field(default_factory=dict)
    meta: Any = None
    hooks: Any = None
    now: Any = None


class Refusal(Exception):
    """Raised by a record hook to refuse a write; the user is shown why.

    ``Refusal("plain English", field=...)`` shows that text in every language. With a ``code``
    the plugin declared in ``tessera_words`` (``Refusal(code="fleet.plate_taken", field="plate",
    params={"plate": plate})``), the user reads it in their own language, the values of
    ``params`` put into the wording unchanged; ``message`` is then only the English used when
    no wording is found.
    """

    def __init__(self, message: str = "", field: str = "", code: str = "", params: dict | None = None) -> None:
        super().__init__(message or code)
        self.message, self.field, self.code, self.params = message, field, code, dict(params or {})


class PluginError(Exception):
    """A plugin cannot be loaded; start-up stops with this message."""


@dataclass
class Plugin:
    info: PluginInfo
    module: ModuleType
    file: str
    enabled: bool
    distribution: str = ""

    @property
    def folder(self) -> Path | None:
        """The plugin package's folder (metadata/, templates/ and static/ are found there)."""
        return Path(self.file).parent if self.file.endswith(".py") else None

    def hooks(self, manager: pluggy.PluginManager) -> list[str]:
        if not self.enabled:
            return sorted(n for n in dir(self.module) if n.startswith("tessera_") and callable(getattr(self.module, n)))
        return sorted(h.name for h in manager.get_hookcallers(self.module) or [])


@dataclass
class PluginSet:
    """The plugins of one application and their pluggy manager.

    ``words``: the wordings the plugins declare (``tessera_words``), code -> {"en": ..., "zh-CN": ...}.
    """

    manager: pluggy.PluginManager
    plugins: list[Plugin]
    _callers: dict = field(default_factory=dict)
    words: dict = field(default_factory=dict)
    core_hooks: dict = field(default_factory=dict)  # core's own hook modules: name -> the objects their record hooks concern

    def sentence(self, refusal: Refusal) -> Sentence | str:
        """What a Refusal says: its code and params with the declaring plugin's wording, or its plain text."""
        if not refusal.code:
            return refusal.message
        return Sentence(refusal.code, refusal.params, self.words.get(refusal.code), refusal.message or refusal.code)

    def caller(self, hook_name: str, object_name: str):
        """The record hook's implementations that concern ``object_name``, or None if there are none.

        Cached per hook and object; registering another plugin invalidates the cache.
        """
        key = (hook_name, object_name, len(self.manager.get_plugins()))
        if key not in self._callers:
            relay = getattr(self.manager.hook, hook_name)
            impls = relay.get_hookimpls()
            excluded = [impl.plugin for impl in impls if not self._concerns(impl.plugin_name, object_name)]
            if len(excluded) == len(impls):
                self._callers[key] = None
            elif excluded:
                self._callers[key] = self.manager.subset_hook_caller(hook_name, excluded)
            else:
                self._callers[key] = relay
        return self._callers[key]

    def _concerns(self, plugin_name: str, object_name: str) -> bool:
        plugin = self.get(plugin_name)
        wanted = plugin.info.record_objects if plugin is not None else self.core_hooks.get(plugin_name)
        return wanted is None or object_name in wanted

    @property
    def hook(self):
        return self.manager.hook

    @property
    def enabled(self) -> list[Plugin]:
        return [p for p in self.plugins if p.enabled]

    def get(self, name: str) -> Plugin | None:
        return next((p for p in self.plugins if p.info.name == name), None)


def discover() -> list[EntryPoint]:
    return sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


def load_plugins(enabled: Iterable[str] | None = None, disabled: Iterable[str] = (), extra: Iterable[ModuleType] = ()) -> PluginSet:
    """Build the plugin manager for one application.

    ``enabled``: if given, only these plugins are enabled; ``disabled``: plugins to leave
    out. ``extra``: modules registered as if they had entry points (used by tests).
    """
    candidates = [_load_entry_point(ep) for ep in discover()]
    installed = {p.module for p in candidates}
    candidates += [_describe(m, m.__name__, "") for m in extra if m not in installed]
    _refuse_duplicates(candidates)
    enabled_names = set(enabled) if enabled is not None else None
    unknown = (set(enabled_names or ()) | set(disabled)) - {p.info.name for p in candidates}
    if unknown:
        raise PluginError(f"no plugin named {', '.join(sorted(unknown))} is installed (installed: {', '.join(p.info.name for p in candidates) or 'none'})")
    for plugin in candidates:
        plugin.enabled = (enabled_names is None or plugin.info.name in enabled_names) and plugin.info.name not in set(disabled)
    active = [p for p in candidates if p.enabled]
    for plugin in active:
        _check_tessera_version(plugin)
        _check_requirements(plugin, {p.info.name: p for p in active}, {p.info.name: p for p in candidates})
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(hookspecs)
    for plugin in active:
        if plugin.info.hookspecs is not None:
            manager.add_hookspecs(plugin.info.hookspecs)
    for plugin in _in_dependency_order(active):
        try:
            manager.register(plugin.module, name=plugin.info.name)
        except Exception as exc:  # a broken hookimpl signature, say
            raise PluginError(f"plugin '{plugin.info.name}' ({plugin.file}) cannot be registered: {exc}") from None
    core_hooks = _register_core_hooks(manager)
    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        name = manager.get_name(exc.plugin) if exc.plugin is not None else "?"
        plugin = next((p for p in active if p.info.name == name), None)
        where = f" ({plugin.file})" if plugin else ""
        raise PluginError(f"plugin '{name}'{where}: {exc}; check the hook's name against docs/plugins.md") from None
    ordered = _in_dependency_order(active) + [p for p in candidates if not p.enabled]
    return PluginSet(manager, ordered, words=_declared_words(manager, {p.info.name: p for p in active}), core_hooks=core_hooks)


def _register_core_hooks(manager: pluggy.PluginManager) -> dict[str, tuple[str, ...]]:
    """Core's own hook modules, registered after the plugins' in every application, whichever plugins are enabled;
    they are listed as no plugin: record hooks for ``@mentions`` in activities (core/mentions.py) and the scheduled
    job reminding of overdue tasks (core/reminders.py). Name -> the objects their record hooks concern."""
    from core import mentions, reminders  # noqa: PLC0415 - they use the record service, which imports this module

    manager.register(mentions, name=mentions.NAME)
    manager.register(reminders, name=reminders.NAME)
    return {mentions.NAME: mentions.OBJECTS, reminders.NAME: reminders.OBJECTS}


def _declared_words(manager: pluggy.PluginManager, active: dict[str, Plugin]) -> dict[str, dict]:
    """Every plugin's ``tessera_words``, checked: each wording has an English text; no code is declared twice."""
    words: dict[str, dict] = {}
    owners: dict[str, str] = {}
    for impl in manager.hook.tessera_words.get_hookimpls():
        plugin = active.get(impl.plugin_name)
        where = f"plugin '{impl.plugin_name}'" + (f" ({plugin.file})" if plugin else "")
        for code, wording in (impl.function() or {}).items():
            if not isinstance(wording, dict) or not isinstance(wording.get("en"), str):
                raise PluginError(f"{where}: tessera_words() gives '{code}' no English wording; give {{\"en\": ..., \"zh-CN\": ...}}")
            if code in owners:
                raise PluginError(f"{where}: tessera_words() declares '{code}', which plugin '{owners[code]}' declares too")
            words[code], owners[code] = dict(wording), impl.plugin_name
    return words


def _load_entry_point(ep: EntryPoint) -> Plugin:
    dist = ep.dist.name if ep.dist is not None else ""
    try:
        module = ep.load()
    except Exception as exc:
        where = f" from the package '{dist}'" if dist else ""
        raise PluginError(f"plugin '{ep.name}' ({ep.value}{where}) failed to load: {type(exc).__name__}: {exc}") from None
    if not isinstance(module, ModuleType):
        module = importlib.import_module(ep.module)
    return _describe(module, ep.name, dist)


def _describe(module: ModuleType, entry_name: str, dist: str) -> Plugin:
    file = inspect.getfile(module) if hasattr(module, "__file__") else entry_name
    info = getattr(module, "PLUGIN", None)
    if not isinstance(info, PluginInfo):
        raise PluginError(f"plugin '{entry_name}' ({file}) does not declare PLUGIN = PluginInfo(name=..., version=...)")
    if info.name != entry_name and dist:
        raise PluginError(f"plugin '{entry_name}' ({file}) declares the name '{info.name}'; the entry point and PLUGIN.name must agree")
    try:
        Version(info.version)
    except InvalidVersion:
        raise PluginError(f"plugin '{info.name}' ({file}): '{info.version}' is not a version number") from None
    return Plugin(info, module, file, True, dist)


def _refuse_duplicates(plugins: list[Plugin]) -> None:
    seen: dict[str, Plugin] = {}
    for plugin in plugins:
        other = seen.get(plugin.info.name)
        if other is not None and other.module is not plugin.module:
            raise PluginError(f"two plugins are named '{plugin.info.name}': {other.file} and {plugin.file}")
        seen[plugin.info.name] = plugin


def _check_tessera_version(plugin: Plugin) -> None:
    if not plugin.info.tessera:
        return
    try:
        accepted = SpecifierSet(plugin.info.tessera)
    except InvalidSpecifier:
        raise PluginError(f"plugin '{plugin.info.name}' ({plugin.file}): '{plugin.info.tessera}' is not a version range") from None
    if Version(__version__) not in accepted:
        raise PluginError(
            f"plugin '{plugin.info.name}' {plugin.info.version} ({plugin.file}) needs Tessera {plugin.info.tessera}; this is Tessera {__version__}"
        )


def _requirements(plugin: Plugin) -> list[Requirement]:
    result = []
    for text in plugin.info.requires:
        try:
            result.append(Requirement(text))
        except InvalidRequirement:
            raise PluginError(f"plugin '{plugin.info.name}' ({plugin.file}): '{text}' is not a requirement like 'sales' or 'sales>=0.2'") from None
    return result


def _check_requirements(plugin: Plugin, active: dict[str, Plugin], installed: dict[str, Plugin]) -> None:
    for requirement in _requirements(plugin):
        needed = active.get(requirement.name)
        if needed is None:
            state = "is disabled" if requirement.name in installed else "is not installed"
            raise PluginError(f"plugin '{plugin.info.name}' ({plugin.file}) requires the plugin '{requirement.name}', which {state}")
        if requirement.specifier and Version(needed.info.version) not in requirement.specifier:
            raise PluginError(
                f"plugin '{plugin.info.name}' ({plugin.file}) requires '{requirement}', but '{needed.info.name}' is version {needed.info.version} ({needed.file})"
            )


def _in_dependency_order(plugins: list[Plugin]) -> list[Plugin]:
    by_name = {p.info.name: p for p in plugins}
    ordered: list[Plugin] = []
    visiting: list[str] = []

    def visit(plugin: Plugin) -> None:
        if plugin in ordered:
            return
        if plugin.info.name in visiting:
            cycle = " -> ".join(visiting[visiting.index(plugin.info.name):] + [plugin.info.name])
            raise PluginError(f"plugins require each other in a cycle: {cycle}")
        visiting.append(plugin.info.name)
        for requirement in _requirements(plugin):
            if requirement.name in by_name:
                visit(by_name[requirement.name])
        visiting.pop()
        ordered.append(plugin)

    for plugin in sorted(plugins, key=lambda p: p.info.name):
        visit(plugin)
    return ordered
