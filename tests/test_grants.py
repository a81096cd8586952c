"""Who may hand out admin and customizer, and the last active admin, on every path: the records API, merge,
imports, mass update, the Setup pages, the metadata API and changesets, the command line.

People come from access_world.py (root: the only admin; cora: a customizer; alice: a rep), with
ursula, who may create, change and delete users, roles and teams but is neither admin nor
customizer.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD, build_world
from core.api.app import create_app
from core.auth import Accounts
from core.hookspecs import hookimpl
from core.plugins import PluginInfo
from core.records import Actor, Forbidden, Refused
from core.validation import RecordValidationError
from helpers import label
from test_ui_pages import signed_in

SYSTEM = Actor.system()
EVERYTHING = {"read": "all", "create": "all", "update": "all", "delete": "all"}
USER_MANAGER = {"name": "user_manager", "label": label("User manager", "用户管理员"),
                "objects": {"user": EVERYTHING, "role": EVERYTHING, "team": EVERYTHING}}
TESSERA = str(Path(sys.executable).with_name("tessera"))


@pytest.fixture
def api(api):
    """The API of access_world.py, with ursula the user manager."""
    runtime = api.world.runtime
    runtime.import_changeset({"format": "tessera-changeset/1", "permission_sets": [USER_MANAGER]}, "test", "test")
    user, _ = Accounts(runtime).add_user("ursula", PASSWORD, "user_manager")
    api.world.users["ursula"] = user["id"]
    return api


def role_of(api, permission_set: str) -> int:
    return api.get("root", f"/api/records/role?permission_set={permission_set}").json()["items"][0]["id"]


def change(api, who: str, object_name: str, record_id: int, changes: dict):
    version = api.world.runtime.records.get(SYSTEM, object_name, record_id)["version"]
    return api.patch(who, f"/api/records/{object_name}/{record_id}", json=changes, headers={"If-Match": f'"{version}"'})


def versions(api, object_name: str, *ids: int) -> dict[int, int]:
    return {i: api.world.runtime.records.get(SYSTEM, object_name, i)["version"] for i in ids}


def me(api, who: str) -> dict:
    return api.get(who, "/api/auth/me").json()


def admins(api) -> list[str]:
    users = api.world.runtime.records.each(SYSTEM, "user", {"sort": "username"})
    admin_roles = {r["id"] for r in api.world.runtime.records.each(SYSTEM, "role", {"permission_set": "admin"})}
    return [u["username"] for u in users if u["active"] is not False and (u.get("role") or {}).get("id") in admin_roles]


# --- giving and taking customizer and admin -------------------------------------------------------------


def test_a_user_manager_cannot_reach_customizer_through_a_role_or_a_user(api):
    customizer_role, own_role = role_of(api, "customizer"), role_of(api, "user_manager")
    ursula = api.world.users["ursula"]
    assert api.post("ursula", "/api/records/role", json={"name": "Helper", "permission_set": "customizer"}).status_code == 403
    assert change(api, "ursula", "role", own_role, {"permission_set": "customizer"}).status_code == 403
    assert change(api, "ursula", "user", ursula, {"role": customizer_role}).status_code == 403
    made = api.post("ursula", "/api/records/user", json={"username": "sneak", "role": customizer_role})
    assert made.status_code == 403 and "customizer" in made.json()["message"]
    merged = api.post("ursula", "/api/records/role/merge", json={"survivor": customizer_role, "merged": [own_role]})
    assert merged.status_code == 422 and "role records cannot be merged" in merged.json()["message"]
    with pytest.raises(Forbidden, match="customizer"):  # the record service's own merge, which plugins may call, holds too
        api.world.runtime.records.merge(Actor(ursula, "ursula", "user_manager"), "role",
                                        customizer_role, [own_role], {}, versions(api, "role", customizer_role, own_role))
    assert me(api, "ursula")["customizer"] is False and me(api, "ursula")["permission_set"] == "user_manager"
    plain = api.post("ursula", "/api/records/role", json={"name": "Viewers", "permission_set": "viewer"})
    assert plain.status_code == 201  # a role that grants nothing privileged is hers to make
    assert change(api, "ursula", "user", api.world.users["alice"], {"role": plain.json()["id"]}).status_code == 200


def test_a_user_manager_cannot_take_customizer_or_admin_away_either(api):
    cora, root = api.world.users["cora"], api.world.users["root"]
    viewers = api.post("root", "/api/records/role", json={"name": "Viewers", "permission_set": "viewer"}).json()["id"]
    assert change(api, "ursula", "user", cora, {"role": viewers}).status_code == 403
    assert change(api, "ursula", "user", cora, {"active": False}).status_code == 403
    assert api.delete("ursula", f"/api/records/user/{cora}").status_code == 403
    assert change(api, "ursula", "role", role_of(api, "customizer"), {"permission_set": "viewer"}).status_code == 403
    assert change(api, "ursula", "user", root, {"active": False}).status_code == 403
    assert me(api, "cora")["customizer"] is True and me(api, "root")["admin"] is True
    assert change(api, "cora", "user", cora, {"full_name": "Cora C."}).status_code == 403  # her set gives no user rights


def test_a_restored_admin_needs_an_admin_to_restore_them(api):
    runtime = api.world.runtime
    second = Accounts(runtime).add_user("root2", PASSWORD, "admin")[0]["id"]
    runtime.records.delete(SYSTEM, "user", second)
    assert api.post("ursula", f"/api/records/user/{second}/restore").status_code == 403
    assert api.post("root", f"/api/records/user/{second}/restore").status_code == 200
    assert admins(api) == ["root", "root2"]


def test_an_import_cannot_give_customizer_and_reports_the_row(api):
    content = b"Username,Role\nsneak,Customizer\nfine,\n"
    mapping = {"columns": {"Username": "username", "Role": "role"}}
    files = {"file": ("users.csv", content, "text/csv"), "mapping": (None, json.dumps(mapping)), "dry_run": (None, "false")}
    started = api.post("ursula", "/api/imports/user", files=files)
    assert started.status_code == 202, started.text
    assert api.world.runtime.imports.wait(started.json()["id"], 120)
    job = api.get("ursula", f"/api/imports/jobs/{started.json()['id']}").json()
    assert job["created"] == 1 and job["rejected"] == 1
    assert job["rejections"][0]["row"] == 2 and "customizer" in job["rejections"][0]["reason"]
    assert [u["username"] for u in api.world.runtime.records.each(SYSTEM, "user", {"username__in": "sneak,fine"})] == ["fine"]


def test_a_customizer_cannot_make_an_admin_through_a_changeset_or_a_set(api):
    changeset = {"format": "tessera-changeset/1", "permission_sets": [
        {"name": "boss", "label": label("Boss", "老板"), "admin": True}]}
    assert api.post("cora", "/api/meta/changeset", json=changeset).status_code == 403
    override = {"format": "tessera-changeset/1", "permission_sets": [{"name": "customizer", "label": label("C", "配"), "admin": True}]}
    assert api.post("cora", "/api/meta/changeset", json=override).status_code == 403
    demote_admins = {"format": "tessera-changeset/1", "permission_sets": [{"name": "admin", "label": label("A", "管")}]}
    assert api.post("cora", "/api/meta/changeset", json=demote_admins).status_code == 403
    names = [s["name"] for s in api.get("root", "/api/meta/roles").json()["items"]]
    assert "boss" not in names and me(api, "cora")["admin"] is False and me(api, "root")["admin"] is True
    ok = {"format": "tessera-changeset/1", "permission_sets": [{"name": "helper", "label": label("Helper", "助手"), "customizer": True}]}
    assert api.post("cora", "/api/meta/changeset", json=ok).status_code == 200  # a customizer may make customizers


def test_setup_adds_a_user_only_with_a_role_its_user_may_give(world):
    runtime = world.runtime
    with TestClient(create_app(runtime)) as client:
        csrf = signed_in(client, "cora")
        runtime.import_changeset({"format": "tessera-changeset/1", "permission_sets": [
            {"name": "customizer", "label": label("Customizer", "配置员"), "customizer": True,
             "objects": {"user": EVERYTHING, "team": EVERYTHING}}]}, "test", "test")
        form = {"_csrf_token": csrf, "password": "a long enough password", "password_again": "a long enough password"}
        refused = client.post("/setup/users", data={**form, "username": "boss", "role": "admin", "teams": "Board"})
        assert refused.status_code == 422 and "only an admin may give" in refused.text
        assert not runtime.records.list(SYSTEM, "user", {"username": "boss"}).items
        assert not runtime.records.list(SYSTEM, "team", {"name": "Board"}).items  # nothing of the refused user stays
        added = client.post("/setup/users", data={**form, "username": "helper", "role": "customizer"})
        assert added.status_code == 200, added.text[-2000:]


def test_setup_creates_a_role_and_its_permission_set_together_or_not_at_all(world):
    runtime = world.runtime
    with TestClient(create_app(runtime)) as client:
        csrf = signed_in(client, "root")
        clash = client.post("/setup/roles", data={"_csrf_token": csrf, "name": "rep_two", "label_en": "Rep"})  # a role 'Rep' exists
        assert clash.status_code == 422 and "name" in clash.text
        assert "rep_two" not in runtime.current_metadata().permission_sets
        made = client.post("/setup/roles", data={"_csrf_token": csrf, "name": "rep_two", "label_en": "Second rep"})
        assert made.status_code == 200 and "/setup/roles/rep_two" in str(made.url)
        [role] = runtime.records.list(SYSTEM, "role", {"permission_set": "rep_two"}).items
        assert role["name"] == "Second rep" and "rep_two" in runtime.current_metadata().permission_sets
        again = client.post("/setup/roles", data={"_csrf_token": csrf, "name": "rep_two", "label_en": "Third rep"})
        assert again.status_code == 422 and "already exists" in again.text


# --- the last active admin --------------------------------------------------------------------------------


def test_the_last_admin_cannot_delete_deactivate_or_demote_themself(api):
    root, admin_role = api.world.users["root"], role_of(api, "admin")
    deleted = api.delete("root", f"/api/records/user/{root}")
    assert deleted.status_code == 409 and "'root' is the last active admin" in deleted.json()["message"]
    inactive = change(api, "root", "user", root, {"active": False})
    assert inactive.status_code == 422 and inactive.json()["errors"][0]["field"] == "active"
    demoted = change(api, "root", "user", root, {"role": role_of(api, "rep")})
    assert demoted.status_code == 422 and demoted.json()["errors"][0]["field"] == "role"
    role_changed = change(api, "root", "role", admin_role, {"permission_set": "rep"})
    assert role_changed.status_code == 422 and role_changed.json()["errors"][0]["field"] == "permission_set"
    assert api.delete("root", f"/api/records/role/{admin_role}").status_code == 409
    assert me(api, "root")["admin"] is True and admins(api) == ["root"]  # the token still works


def test_with_two_admins_one_may_go_then_the_other_stays(api):
    second = Accounts(api.world.runtime).add_user("root2", PASSWORD, "admin")[0]["id"]
    assert change(api, "root", "user", second, {"active": False}).status_code == 200
    assert change(api, "root", "user", second, {"active": True}).status_code == 200
    assert api.delete("root2", f"/api/records/user/{api.world.users['root']}").status_code == 204
    refused = api.delete("root2", f"/api/records/user/{second}")
    assert refused.status_code == 409 and "'root2' is the last active admin" in refused.json()["message"]
    assert admins(api) == ["root2"]


def test_merging_away_the_last_admin_or_their_role_is_refused(api):
    """Merging users and roles is closed to the API and the UI; the record service's merge, which plugins may call, holds too."""
    records, root, alice = api.world.runtime.records, api.world.users["root"], api.world.users["alice"]
    assert api.post("root", "/api/records/user/merge", json={"survivor": alice, "merged": [root]}).status_code == 422
    with pytest.raises(Refused, match="'root' is the last active admin"):
        records.merge(SYSTEM, "user", alice, [root], {}, versions(api, "user", alice, root))
    rep, admin = role_of(api, "rep"), role_of(api, "admin")
    with pytest.raises(Refused, match="last active admin"):
        records.merge(SYSTEM, "role", rep, [admin], {}, versions(api, "role", rep, admin))
    assert admins(api) == ["root"]


def test_an_admin_permission_set_cannot_stop_granting_admin_to_the_last_admin(api):
    runtime, root = api.world.runtime, api.world.users["root"]
    superuser = {"label": label("Superuser", "超级用户"), "admin": True}
    assert api.put("root", "/api/meta/roles/superuser", json=superuser).status_code == 200
    role = api.post("root", "/api/records/role", json={"name": "Superusers", "permission_set": "superuser"}).json()["id"]
    assert change(api, "root", "user", root, {"role": role}).status_code == 200
    plain = api.put("root", "/api/meta/roles/superuser", json={"label": superuser["label"]})
    assert plain.status_code == 422 and "last active admin" in plain.json()["message"]
    assert plain.json()["errors"][0]["pointer"] == "/permission_sets/superuser/admin"
    assert api.delete("root", "/api/meta/roles/superuser").status_code == 422
    with pytest.raises(Exception, match="last active admin"):  # the command line's import is held to it too
        runtime.import_changeset({"format": "tessera-changeset/1", "permission_sets": [{"name": "superuser", "label": superuser["label"]}]},
                                 "cli", "cli")
    assert me(api, "root")["admin"] is True


def test_mass_update_and_import_cannot_deactivate_the_last_admin(api):
    root = api.world.users["root"]
    with TestClient(create_app(api.world.runtime)) as client:
        csrf = signed_in(client, "root")
        listed = client.get("/r/user?limit=50").text
        shown = re.findall(r'name="shown" value="(\d+:\d+)"', listed)
        result = client.post("/r/user/mass", data={"_csrf_token": csrf, "action": "update", "field": "active", "_set": "1",
                                                   "value": "false", "confirmed": "1", "id": [str(root)], "shown": shown})
        assert result.status_code == 200 and "0 changed." in result.text and "last active admin" in result.text
    content = b"Username,Active\nroot,false\n"
    mapping = {"columns": {"Username": "username", "Active": "active"}}
    files = {"file": ("users.csv", content, "text/csv"), "mapping": (None, json.dumps(mapping)), "dry_run": (None, "false"),
             "duplicates": (None, json.dumps([{"match": ["username"], "then": "update"}]))}
    started = api.post("root", "/api/imports/user", files=files)
    assert api.world.runtime.imports.wait(started.json()["id"], 120)
    job = api.get("root", f"/api/imports/jobs/{started.json()['id']}").json()
    assert job["updated"] == 0 and job["rejected"] == 1 and "last active admin" in job["rejections"][0]["reason"]
    assert admins(api) == ["root"]


def test_the_command_line_keeps_the_last_admin_too(database_url, tmp_path):
    def run(*args, stdin=None):
        return subprocess.run([TESSERA, "--database", database_url, *args], capture_output=True, text=True, input=stdin, timeout=300,
                              cwd=tmp_path)

    assert run("user", "add", "boss", "--role", "admin", "--password-stdin", stdin="a long enough secret\n").returncode == 0
    made = run("user", "add", "helper", "--role", "customizer", "--password-stdin", stdin="a long enough secret\n")
    assert made.returncode == 2 and "there is no role or permission set 'customizer'" in made.stderr
    rows = tmp_path / "users.csv"
    rows.write_text("username,active\nboss,false\n", encoding="utf-8")
    imported = run("import", "user", str(rows), "--key", "username")
    assert imported.returncode == 1 and "last active admin" in (imported.stdout + imported.stderr)
    changeset = tmp_path / "no-admins.json"
    changeset.write_text(json.dumps({"format": "tessera-changeset/1", "permission_sets": [{"name": "admin", "label": label("A", "管")}]}))
    refused = run("metadata", "import", str(changeset))
    assert refused.returncode == 2 and "'boss' is the last active admin" in refused.stderr and "Traceback" not in refused.stderr


# --- two demotions at once --------------------------------------------------------------------------------


class Meeting:
    """Holds each user update in its before-hook until two have arrived, so both run side by side."""

    PLUGIN = PluginInfo(name="meeting", version="1.0.0", label={"en": "Meeting"}, tessera=">=0.1", record_objects=("user",))
    barrier = threading.Barrier(2, timeout=10)

    @staticmethod
    @hookimpl
    def tessera_before_update(event):
        if "active" in event.values:
            try:
                Meeting.barrier.wait()
            except threading.BrokenBarrierError:
                pass  # SQLite lets one writer in at a time: the other waits at BEGIN, not here


def test_two_admins_deactivating_each_other_at_once_leave_one(make_runtime, database_url):
    import types

    meeting = types.ModuleType("meeting")
    meeting.PLUGIN, meeting.tessera_before_update = Meeting.PLUGIN, Meeting.tessera_before_update
    Meeting.barrier = threading.Barrier(2, timeout=10 if database_url.startswith("postgresql") else 0.5)
    runtime = make_runtime(plugins=("meeting",), extra_plugins=[meeting])
    world = build_world(runtime)
    second = Accounts(runtime).add_user("root2", PASSWORD, "admin")[0]["id"]
    outcomes: dict[str, str] = {}

    def deactivate(name: str, user_id: int) -> None:
        try:
            runtime.records.update(SYSTEM, "user", user_id, {"active": False}, version=runtime.records.get(SYSTEM, "user", user_id)["version"])
            outcomes[name] = "done"
        except RecordValidationError as exc:
            outcomes[name] = exc.errors[0].message

    threads = [threading.Thread(target=deactivate, args=(n, i)) for n, i in (("root", world.users["root"]), ("root2", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    refused = [message for message in outcomes.values() if message != "done"]
    assert len(outcomes) == 2 and len(refused) == 1 and "last active admin" in refused[0], outcomes
    active = [u["username"] for u in runtime.records.each(SYSTEM, "user", {"active": "true", "username__in": "root,root2"})]
    assert len(active) == 1
