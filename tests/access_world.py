"""A small company for permission tests: roles with each scope, two teams, four people, their records.

    East team: alice (rep), bob (rep), mike (manager)        West team: carol (rep)
    vera: a viewer (reads every account, changes nothing)     nora: a user without a role

The rep role hides account.account_number (searchable) and may read but not change
account.annual_revenue.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.auth import Accounts
from core.records import Actor
from helpers import label

PASSWORD = "correct horse battery"

PERMISSION_SETS = [
    {
        "name": "rep", "label": label("Rep", "销售代表"),
        "objects": {
            "account": {"read": "own", "create": "own", "update": "own", "delete": "none"},
            "contact": {"read": "team", "create": "own", "update": "own", "delete": "own"},
            "activity": {"read": "own", "create": "own", "update": "own", "delete": "own"},
        },
        "fields": {"account": {"account_number": "hidden", "annual_revenue": "read"}},
    },
    {
        "name": "manager", "label": label("Manager", "经理"),
        "objects": {
            "account": {"read": "team", "create": "team", "update": "team", "delete": "team"},
            "contact": {"read": "team", "create": "team", "update": "team", "delete": "team"},
        },
    },
    {
        "name": "viewer", "label": label("Viewer", "只读"), "objects": {"account": {"read": "all"}},
    },
    {"name": "customizer", "label": label("Customizer", "配置员"), "customizer": True, "objects": {"account": {"read": "all"}}},
]


@dataclass
class World:
    runtime: object
    actors: dict[str, Actor] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, int] = field(default_factory=dict)  # owner's name -> their account's id

    def actor(self, name: str) -> Actor:
        return self.actors[name]


def build_world(runtime) -> World:
    runtime.import_changeset({"format": "tessera-changeset/1", "permission_sets": PERMISSION_SETS}, "test", "test")
    accounts = Accounts(runtime)
    world = World(runtime)
    people = [("alice", "rep", ["East"]), ("bob", "rep", ["East"]), ("mike", "manager", ["East"]), ("carol", "rep", ["West"]),
              ("vera", "viewer", []), ("cora", "customizer", []), ("nora", None, []), ("root", "admin", [])]
    for name, role, teams in people:
        user, _created = accounts.add_user(name, PASSWORD, role, teams, full_name=name.title())
        world.users[name] = user["id"]
        permission_set = "" if role is None else role
        world.actors[name] = Actor(user["id"], name, permission_set)
    system = Actor.system()
    for name in ("alice", "bob", "mike", "carol"):
        account = runtime.records.create(system, "account", {
            "name": f"{name.title()} Industries", "account_number": f"SECRET-{name}", "annual_revenue": 1000,
            "owner": world.users[name],
        })
        world.accounts[name] = account["id"]
        runtime.records.create(system, "contact", {"last_name": f"Contact of {name}", "account": account["id"], "owner": world.users[name]})
    return world
