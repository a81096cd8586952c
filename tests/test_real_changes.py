"""History and conflict warnings hold real changes only: a value spelled another way is the same value.

A form sends "" for an empty text the database holds as NULL, [] for an empty many-to-many, a
lookup as its id; an API client sends 1234.5 for 1234.50 or a time in another offset. None of
these is a change: the record service (core/sameness.py) writes nothing for them, so the
version stays, no history row is written and no conflict warning lists them. Checked through
the record service, the REST API and the web form (as a browser sends it), on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD
from core.api.app import create_app
from core.auth import Accounts
from core.coretables import field_history
from core.records import Actor, Conflict
from helpers import changeset, label

EVERY_KIND = {
    "name": "gadget",
    "label": label("Gadget"),
    "title_field": "title",
    "fields": [
        {"name": "title", "type": "text", "label": label("Title"), "required": True},
        {"name": "nickname", "type": "text", "label": label("Nickname")},
        {"name": "notes", "type": "long_text", "label": label("Notes")},
        {"name": "email", "type": "email", "label": label("E-mail")},
        {"name": "phone", "type": "phone", "label": label("Phone")},
        {"name": "site", "type": "url", "label": label("Site")},
        {"name": "units", "type": "integer", "label": label("Count")},
        {"name": "measure", "type": "decimal", "label": label("Measure"), "scale": 3},
        {"name": "amount", "type": "currency", "label": label("Amount")},
        {"name": "ratio", "type": "percent", "label": label("Ratio")},
        {"name": "flag", "type": "boolean", "label": label("Flag")},
        {"name": "day", "type": "date", "label": label("Day")},
        {"name": "at", "type": "datetime", "label": label("At")},
        {"name": "kind", "type": "picklist", "label": label("Kind"), "values": [{"value": "a", "label": label("A")}, {"value": "b", "label": label("B")}]},
        {"name": "tags", "type": "multi_picklist", "label": label("Tags"), "values": [{"value": "x", "label": label("X")}, {"value": "y", "label": label("Y")}]},
        {"name": "account", "type": "lookup", "label": label("Account"), "target": "account"},
        {"name": "contacts", "type": "many_to_many", "label": label("Contacts"), "target": "contact", "through_fields": [
            {"name": "role", "type": "picklist", "label": label("Role"),
             "values": [{"value": "buyer", "label": label("Buyer")}, {"value": "user", "label": label("User")}]}]},
        {"name": "watchers", "type": "many_to_many", "label": label("Watchers"), "target": "contact"},
        {"name": "extra", "type": "json", "label": label("Extra")},
    ],
}

SYSTEM = Actor.system()


@pytest.fixture
def gadgets(runtime):
    runtime.import_changeset(changeset(EVERY_KIND), "test", "tester")
    records = runtime.records
    account = records.create(SYSTEM, "account", {"name": "Acme"})["id"]
    li, wu = (records.create(SYSTEM, "contact", {"last_name": n})["id"] for n in ("Li", "Wu"))
    made = records.create(SYSTEM, "gadget", {
        "title": "Alpha", "units": 12, "measure": "2.500", "amount": "1234.50", "ratio": 12.5, "flag": True, "day": "2026-02-28",
        "at": "2026-03-01T09:30:00Z", "kind": "a", "tags": ["x", "y"], "account": account,
        "contacts": [{"id": li, "role": "buyer"}, wu], "extra": {"b": 1, "a": [1, 2]},
    })
    return runtime, made, account, (li, wu)


def same_values(account: int, people: tuple[int, int]) -> dict:
    """Every field of the gadget above, spelled otherwise than it was written, or blank where it holds nothing."""
    li, wu = people
    return {
        "title": "Alpha", "nickname": "   ", "notes": "", "email": "", "phone": "", "site": "",
        "units": "12", "measure": 2.5, "amount": 1234.5, "ratio": "12.50", "flag": True,
        "day": "2026-02-28", "at": "2026-03-01T17:30:00+08:00", "kind": "a", "tags": ["y", "x"],
        "account": {"id": account}, "contacts": [wu, li], "watchers": [], "extra": {"a": [1, 2], "b": 1},
    }


def history(runtime, object_name: str, record_id: int) -> list[tuple]:
    return [(h["field"], h["old"], h["new"]) for h in runtime.records.history(SYSTEM, object_name, record_id)]


def test_values_spelled_otherwise_or_blank_are_no_change(gadgets):
    runtime, made, account, people = gadgets

    same = runtime.records.update(SYSTEM, "gadget", made["id"], same_values(account, people), version=1)

    assert same["version"] == 1 and history(runtime, "gadget", made["id"]) == []
    assert same["contacts"] == made["contacts"]  # the links given by id alone keep their role
    assert runtime.records.get(SYSTEM, "gadget", made["id"]) == made


def test_blank_values_beside_a_real_change_leave_only_the_real_change(gadgets):
    runtime, made, account, people = gadgets

    changed = runtime.records.update(SYSTEM, "gadget", made["id"], {**same_values(account, people), "nickname": "Al", "units": 13}, version=1)

    assert changed["version"] == 2
    assert sorted(history(runtime, "gadget", made["id"])) == [("nickname", None, "Al"), ("units", 12, 13)]


def test_an_empty_value_for_an_empty_field_of_every_kind_is_no_change(runtime):
    runtime.import_changeset(changeset(EVERY_KIND), "test", "tester")
    bare = runtime.records.create(SYSTEM, "gadget", {"title": "Bare"})
    blanks = {"nickname": "", "notes": " \n ", "email": "", "phone": "", "site": "", "units": "", "measure": None, "amount": "",
              "ratio": None, "flag": False, "day": "", "at": "", "kind": "", "tags": [], "account": "", "contacts": [], "watchers": None,
              "extra": ""}

    same = runtime.records.update(SYSTEM, "gadget", bare["id"], blanks, version=1)

    assert same["version"] == 1 and history(runtime, "gadget", bare["id"]) == []


def test_a_batch_update_compares_values_as_a_single_update_does(gadgets):
    runtime, made, account, people = gadgets
    plain = {k: v for k, v in same_values(account, people).items() if k not in ("contacts", "watchers")}  # the batch's own statements

    with runtime.records.bulk(SYSTEM, "gadget") as writer:
        assert writer.update_many([(made["id"], plain)]) == {}

    assert runtime.records.get(SYSTEM, "gadget", made["id"])["version"] == 1 and history(runtime, "gadget", made["id"]) == []


def test_a_link_keeps_its_role_unless_one_is_given(gadgets):
    runtime, made, _account, (li, wu) = gadgets

    runtime.records.update(SYSTEM, "gadget", made["id"], {"contacts": [li, {"id": wu, "role": "user"}]}, version=1)
    cleared = runtime.records.update(SYSTEM, "gadget", made["id"], {"contacts": [{"id": li, "role": None}, wu]}, version=2)

    assert [(c["id"], c["role"]) for c in cleared["contacts"]] == [(li, None), (wu, "user")]
    assert [(old, new) for _field, old, new in history(runtime, "gadget", made["id"])] == [
        ([{"id": li, "role": "buyer"}, {"id": wu, "role": None}], [{"id": li, "role": "buyer"}, {"id": wu, "role": "user"}]),
        ([{"id": li, "role": "buyer"}, {"id": wu, "role": "user"}], [{"id": li, "role": None}, {"id": wu, "role": "user"}]),
    ]


def test_a_conflict_warning_lists_only_real_changes(gadgets):
    runtime, made, account, people = gadgets
    runtime.records.update(SYSTEM, "gadget", made["id"], {**same_values(account, people), "phone": "+86 21 5555"}, version=1)

    with pytest.raises(Conflict) as stale:
        runtime.records.update(SYSTEM, "gadget", made["id"], {"nickname": "Mine"}, version=1)

    assert [(c["field"], c["old"], c["new"]) for c in stale.value.changes] == [("phone", None, "+86 21 5555")]


def test_entries_that_changed_nothing_kept_from_earlier_versions_are_left_out(gadgets):
    """Earlier versions wrote "(empty) -> (empty)" entries; history and conflict warnings no longer show them."""
    runtime, made, _account, _people = gadgets
    runtime.records.update(SYSTEM, "gadget", made["id"], {"nickname": "Al"}, version=1)
    now, account = dt.datetime.now(dt.timezone.utc), made["account"]["id"]
    no_change = [("notes", None, ""), ("watchers", None, []), ("account", account, {"id": account}), ("amount", 1234.5, "1234.50"),
                 ("at", "2026-03-01T09:30:00Z", "2026-03-01T17:30:00+08:00")]
    with runtime.writing() as (conn, _schema):
        conn.execute(field_history.insert(), [
            dict(object="gadget", record_id=made["id"], field=name, old_value=old, new_value=new, record_version=2, changed_at=now,
                 changed_by=None, changed_by_name="an earlier version") for name, old, new in no_change])

    assert history(runtime, "gadget", made["id"]) == [("nickname", None, "Al")]
    with pytest.raises(Conflict) as stale:
        runtime.records.update(SYSTEM, "gadget", made["id"], {"nickname": "Mine"}, version=1)
    assert [c["field"] for c in stale.value.changes] == ["nickname"]


# --- through the REST API ----------------------------------------------------------------------


def test_a_patch_of_equal_values_keeps_the_version_and_records_nothing(api, world):
    account = world.accounts["alice"]
    same = {"name": "Alice Industries", "phone": "", "industry": "", "annual_revenue": "1000.00", "description": "  ",
            "owner": {"id": world.users["alice"]}, "parent_account": None}

    answer = api.patch("root", f"/api/records/account/{account}", json=same, headers={"If-Match": '"1"'})

    assert answer.status_code == 200 and answer.headers["etag"] == '"1"' and answer.json()["version"] == 1
    assert api.get("root", f"/api/records/account/{account}/history").json()["items"] == []
    changed = api.patch("root", f"/api/records/account/{account}", json={**same, "phone": "+1 555"}, headers={"If-Match": '"1"'})
    assert changed.status_code == 200 and changed.headers["etag"] == '"2"'
    stale = api.patch("root", f"/api/records/account/{account}", json=same, headers={"If-Match": '"1"'})
    assert stale.status_code == 409 and [c["field"] for c in stale.json()["changes"]] == ["phone"]
    assert [h["field"] for h in api.get("root", f"/api/records/account/{account}/history").json()["items"]] == ["phone"]


# --- through the form, as a browser sends it ---------------------------------------------------


class _Form(HTMLParser):
    """The fields a browser sends when the form posting to ``action`` is submitted as it was drawn."""

    def __init__(self, action: str) -> None:
        super().__init__(convert_charrefs=True)
        self.action, self.inside, self.pairs = action, False, []
        self._select: dict | None = None
        self._option: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.inside = a.get("action") == self.action
        if not self.inside:
            return
        if tag == "input" and "name" in a and "disabled" not in a:
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.pairs.append((a["name"], a.get("value", "on")))
            elif kind not in ("submit", "button"):
                self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "select" and "name" in a:
            self._select = {"name": a["name"], "multiple": "multiple" in a, "options": []}
        elif tag == "option" and self._select is not None:
            self._option = {"value": a.get("value"), "selected": "selected" in a, "text": ""}
            self._select["options"].append(self._option)
        elif tag == "textarea" and "name" in a:
            self._textarea = {"name": a["name"], "text": ""}

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["text"] += data
        elif self._option is not None:
            self._option["text"] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.inside = False
        elif tag == "select" and self._select is not None:
            options = self._select["options"]
            chosen = [o for o in options if o["selected"]] or ([] if self._select["multiple"] else options[:1])
            self.pairs += [(self._select["name"], o["value"] if o["value"] is not None else o["text"]) for o in chosen]
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            text = self._textarea["text"].removeprefix("\n")  # as the HTML parser of a browser drops it
            self.pairs.append((self._textarea["name"], text.replace("\r\n", "\n").replace("\n", "\r\n")))  # sent as CRLF
            self._textarea = None
        elif tag == "option":
            self._option = None


def sent_as_drawn(page_html: str, action: str) -> dict[str, list[str]]:
    form = _Form(action)
    form.feed(page_html)
    sent: dict[str, list[str]] = {}
    for name, value in form.pairs:
        sent.setdefault(name, []).append(value)
    assert sent, f"no form posting to {action}"
    return sent


def signed_in(client: TestClient, username: str) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    assert client.post("/login", data={"username": username, "password": PASSWORD, "_csrf_token": csrf}).status_code == 200


def save_untouched(client: TestClient, object_name: str, record_id: int):
    edit = client.get(f"/r/{object_name}/{record_id}/edit")
    assert edit.status_code == 200
    return client.post(f"/r/{object_name}/{record_id}/edit", data=sent_as_drawn(edit.text, f"/r/{object_name}/{record_id}/edit"),
                       follow_redirects=False)


def test_saving_an_untouched_form_writes_nothing_and_says_so(world):
    runtime, records = world.runtime, world.runtime.records
    account = records.create(SYSTEM, "account", {"name": "Sparse Ltd", "annual_revenue": "2500.50", "employees": 0,
                                                 "description": "First line\nsecond line", "parent_account": world.accounts["mike"],
                                                 "owner": world.users["mike"]})["id"]
    with TestClient(create_app(runtime)) as client:
        signed_in(client, "mike")

        saved = save_untouched(client, "account", account)

        assert saved.status_code == 303 and saved.headers["location"].startswith(f"/r/account/{account}?notice=")
        assert "Nothing to save: no value was changed." in client.get(saved.headers["location"]).text
    assert records.get(SYSTEM, "account", account)["version"] == 1
    assert history(runtime, "account", account) == []


@pytest.fixture
def deals(make_runtime):
    runtime = make_runtime(plugins=("sales",))
    Accounts(runtime).add_user("root", PASSWORD, "admin", [], full_name="Root")
    return runtime


def test_saving_an_untouched_deal_keeps_its_contact_roles_and_writes_nothing(deals):
    records = deals.records
    account = records.create(SYSTEM, "account", {"name": "Buyer Co"})["id"]
    ann, bo = (records.create(SYSTEM, "contact", {"last_name": n, "account": account})["id"] for n in ("Ann", "Bo"))
    deal = records.create(SYSTEM, "opportunity", {"name": "Line 4", "account": account, "close_date": "2026-09-30", "amount": "125000.00",
                                                   "contacts": [{"id": ann, "role": "decision_maker"}, {"id": bo, "role": "influencer"}]})
    with TestClient(create_app(deals)) as client:
        signed_in(client, "root")

        saved = save_untouched(client, "opportunity", deal["id"])

        assert saved.status_code == 303 and "notice=" in saved.headers["location"]
    after = records.get(SYSTEM, "opportunity", deal["id"])
    assert after["version"] == deal["version"] and after["contacts"] == deal["contacts"]
    assert history(deals, "opportunity", deal["id"]) == []


def test_the_form_shows_a_time_with_its_seconds_so_that_sending_it_back_changes_nothing(runtime):
    runtime.import_changeset(changeset(EVERY_KIND), "test", "tester")
    Accounts(runtime).add_user("root", PASSWORD, "admin", [], full_name="Root")
    gadget = runtime.records.create(SYSTEM, "gadget", {"title": "Timed", "at": "2026-03-01T09:30:15.250Z", "notes": "\nstarts on a new line"})
    with TestClient(create_app(runtime)) as client:
        signed_in(client, "root")
        form = client.get(f"/r/gadget/{gadget['id']}/edit").text
        assert 'value="2026-03-01T09:30:15.25" step=any' in form

        saved = save_untouched(client, "gadget", gadget["id"])

        assert saved.status_code == 303 and "notice=" in saved.headers["location"]
    assert history(runtime, "gadget", gadget["id"]) == []

