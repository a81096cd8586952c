"""Roles and their permission sets: the one service the API, the Setup pages and the command line use for them.

A permission set (metadata) says what its holders may do; a role (a record of the object
``role``) names one set, and users are given roles. This service lists the sets, creates a
role with its set, changes and removes sets, and finds (or makes) the role a new user is
given. Whoever acts, the rules of core/grants.py apply: only an admin hands out ``admin``,
only an admin or a customizer ``customizer``, and no change leaves the database without an
active admin. The same rules hold in the record service (for role and user records written
through any other path) and in every metadata change (for changesets).

Changing permission sets is configuration: it needs an admin or a customizer, like every
other metadata change. A role made together with its permission set commits with it, in
one transaction.
"""

from __future__ import annotations

from typing import Any

from core import grants
from core.audit import Who
from core.metadata.problems import MetadataError, Problem, did_you_mean
from core.metadata.service import FORMAT, MetadataService
from core.metadata.store import CustomConfig
from core.permissions import ADMIN_SET, Access
from core.records import Actor, TransactionRecords
from core.runtime import Runtime
from core.schema_sync import Change
from core.words import sentence

SET_EXAMPLE = "send a permission set: {\"label\": {...}, \"objects\": {\"account\": {\"read\": \"team\"}}, \"fields\": {...}}"


class RoleError(ValueError):
    """A role that cannot be found or made as asked; the message says why."""


def _refuse(source: str, message: str, at: str = "") -> MetadataError:
    return MetadataError([Problem(source, at, message)])


def _label(body: dict, name: str) -> str:
    label = body.get("label")
    return (label.get("en") if isinstance(label, dict) else None) or name


class Roles:
    """Roles and permission sets, for one Runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    # --- reading -------------------------------------------------------------------------------

    def permission_sets(self) -> list[dict]:
        """Every permission set in effect, with ``custom`` true for those the customization layer defines."""
        meta = self.runtime.current_metadata()
        custom = set(self.runtime.custom_config().permission_sets)
        return [{**body, "custom": name in custom} for name, body in sorted(meta.permission_sets.items())]

    # --- changing ------------------------------------------------------------------------------

    def create(self, actor: Actor, who: Who, name: str, body: Any, role_name: str | None = None,
               source: str = "POST /setup/roles") -> tuple[list[Change], dict]:
        """A new permission set and the role record users are given, in one transaction; returns the changes and the role.

        ``role_name``: the role record's name (default: the set's English label).
        """
        body = self._body(body, source)
        with self.runtime.records.transaction(actor, checked=True) as tx:
            access = self._configurer(tx.access)
            self._refuse_built_in(name, source)
            if name in tx.schema.meta.permission_sets:
                raise _refuse(source, f"a permission set '{name}' already exists; change it on its own page", "/name")
            changeset = {"format": FORMAT, "permission_sets": [{**body, "name": name}]}
            changes = MetadataService(self.runtime, access).apply(changeset, who, source, conn=tx.connection)
            role = self._role_for_set(tx, name, body, role_name or _label(body, name))
        return changes, role

    def save(self, actor: Actor, who: Who, name: str, body: Any, source: str | None = None) -> list[Change]:
        """Create or replace the permission set ``name``."""
        source = source or f"PUT /api/meta/roles/{name}"
        access = self._configurer(self.runtime.records.access(actor))
        self._refuse_built_in(name, source)
        body = self._body(body, source)
        return MetadataService(self.runtime, access).apply({"format": FORMAT, "permission_sets": [{**body, "name": name}]}, who, source)

    def remove(self, actor: Actor, who: Who, name: str, source: str | None = None) -> list[Change]:
        """Remove a customized permission set (those of the base and plugins stay); roles naming it then grant nothing."""
        source = source or f"DELETE /api/meta/roles/{name}"
        access = self._configurer(self.runtime.records.access(actor))
        self._refuse_built_in(name, source)
        if name not in self.runtime.custom_config().permission_sets:
            raise _refuse(source, f"there is no customized permission set '{name}'; those defined by the base or a plugin stay")

        def without_set(config: CustomConfig) -> CustomConfig:
            config = config.copy()
            del config.permission_sets[name]
            return config

        return MetadataService(self.runtime, access).transform(without_set, who, source, {"permission_sets": [{"name": name}]})

    # --- giving users a role -----------------------------------------------------------------------

    def role_id(self, tx: TransactionRecords, name: str) -> int:
        """The role ``name`` names: the role called so; else the one using the permission set called ``name``, or
        labelled so in either language (made now, inside ``tx``, if none does, named after the set's label).

        ``tx`` acts as the person giving the role: giving it to a user is checked when the user is written.
        """
        found = self._existing_role(tx, name)
        if found is not None:
            return found
        sets = tx.schema.meta.permission_sets
        set_name = self._permission_set(tx, name)
        return self._role_for_set(tx, set_name, sets[set_name], free_role_name(tx, _label(sets[set_name], set_name), set_name))["id"]

    @staticmethod
    def _permission_set(tx: TransactionRecords, name: str) -> str:
        """The permission set called ``name``, or the one whose label (English or Chinese, any case) it is."""
        sets = tx.schema.meta.permission_sets
        if name in sets:
            return name
        labelled = [key for key, body in sets.items() if name.casefold() in {text.casefold() for text in body.get("label", {}).values()}]
        if len(labelled) == 1:
            return labelled[0]
        if labelled:
            raise RoleError(f"'{name}' is the label of the permission sets {', '.join(sorted(labelled))}; name one of them")
        roles = [r["name"] for r in tx.trusted().each("role", {"sort": "name"})]
        known = sorted(set(roles) | set(sets))
        raise RoleError(f"there is no role or permission set '{name}'{did_you_mean(name, known)}; known: {', '.join(known)}")

    def _existing_role(self, tx: TransactionRecords, name: str) -> int | None:
        for key in ("name", "permission_set"):
            found = tx.trusted().list("role", {key: name, "limit": 1}).items
            if found:
                return found[0]["id"]
        return None

    def _role_for_set(self, tx: TransactionRecords, set_name: str, body: dict, role_name: str) -> dict:
        """The role using the permission set ``set_name`` (whose document is ``body``), made if there is none.

        Admins and customizers make roles as configuration (whatever their record permissions),
        for the sets they may hand out; anyone else needs the right to create role records.
        """
        trusted = tx.trusted()
        existing = trusted.list("role", {"permission_set": set_name, "limit": 1}).items
        if existing:
            return existing[0]
        access = tx.access
        wanted = grants.level(body)
        if not grants.may_grant(access, wanted):
            raise PermissionError(grants.refusal(wanted, sentence("through_role", name=set_name)))
        maker = trusted if access.may_customize else tx
        return maker.create("role", {"name": role_name, "permission_set": set_name})

    # --- rules ---------------------------------------------------------------------------------------

    @staticmethod
    def _configurer(access: Access) -> Access:
        if not access.may_customize:
            raise PermissionError("changing roles and permission sets needs the admin role or a role with the 'customizer' permission")
        return access

    @staticmethod
    def _refuse_built_in(name: str, source: str) -> None:
        if name == ADMIN_SET:
            raise _refuse(source, f"the '{name}' permission set is built in and cannot be changed; make another set instead")

    @staticmethod
    def _body(body: Any, source: str) -> dict:
        if not isinstance(body, dict):
            raise _refuse(source, SET_EXAMPLE)
        return body


def free_role_name(tx: TransactionRecords, label: str, permission_set: str) -> str:
    """A name for a new role using ``permission_set``: its label, or when another role is called so, the label and the set."""
    taken = tx.trusted().list("role", {"name": label, "limit": 1}).items
    return f"{label} ({permission_set})" if taken else label
