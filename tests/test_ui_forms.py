"""Record forms through real HTTP, with the four industry plugins: layouts that plugins add sections to,
fields added in Setup, every field of a form edited and stored; lookups saved by the text in their
box and shown by name; refusals shown where they can be acted on.

People come from access_world.py (root: admin; alice: a rep, who reads her own accounts only).
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD, build_world
from core.api.app import create_app
from core.records import Actor
from test_ui_pages import _confirmation, signed_in

PLUGINS = ("sales", "marketing", "service", "manufacturing_bom")
SYSTEM = Actor.system()


@pytest.fixture
def crm(make_runtime):
    return build_world(make_runtime(plugins=PLUGINS))


@pytest.fixture
def ui(crm):
    with TestClient(create_app(crm.runtime)) as client:
        yield client


@pytest.fixture
def root(ui):
    return ui, signed_in(ui, "root")


@pytest.fixture
def api(crm):
    """A client without the browser's cookies, as an integrator's script is, with root's bearer token."""
    with TestClient(create_app(crm.runtime)) as client:
        answer = client.post("/api/auth/token", json={"username": "root", "password": PASSWORD, "name": "forms test"})
        client.headers["Authorization"] = f"Bearer {answer.json()['token']}"
        yield client


def extended_base_objects(runtime) -> list[str]:
    """The built-in objects a plugin extends (with fields or layout sections), and the ones a CRM user edits most."""
    extended = {d.body["object"] for d in runtime.defined_documents() if d.kind == "extension" and d.layer.startswith("plugin:")}
    base = {d.body["name"] for d in runtime.defined_documents() if d.kind == "object" and d.layer == "base"}
    return sorted((extended | {"account", "contact", "product"}) & base)


# --- reading a form as a browser does -------------------------------------------------------------


class FormControls(HTMLParser):
    """The controls of the page's record form, in document order: what a browser would submit."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[dict] = []
        self.ids: list[str] = []
        self._in_form = False
        self._select: dict | None = None
        self._textarea: dict | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"])
        if tag == "form" and a.get("method") == "post" and ("/edit" in a.get("action", "") or a.get("action", "").endswith("/new")):
            self._in_form = True
        if not self._in_form:
            return
        if tag == "input" and "name" in a:
            self.controls.append({"tag": "input", "type": a.get("type", "text"), "name": a["name"], "value": a.get("value", ""),
                                  "checked": "checked" in a, "disabled": "disabled" in a})
        elif tag == "select":
            self._select = {"tag": "select", "name": a.get("name"), "multiple": "multiple" in a, "options": [], "selected": []}
            self.controls.append(self._select)
        elif tag == "option" and self._select is not None:
            self._select["options"].append(a.get("value", ""))
            if "selected" in a:
                self._select["selected"].append(a.get("value", ""))
        elif tag == "textarea":
            self._textarea = {"tag": "textarea", "name": a.get("name"), "value": ""}
            self.controls.append(self._textarea)

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea["value"] += data


def read_form(html: str) -> FormControls:
    parser = FormControls()
    parser.feed(html)
    return parser


def submission(controls: list[dict], changed: dict[str, object]) -> list[tuple[str, str]]:
    """What the browser posts, with the first control of each name in ``changed`` set to its new value (a list for many)."""
    pairs, done = [], set()
    for c in controls:
        name = c["name"]
        if not name or c.get("disabled"):
            continue
        mine = name in changed and name not in done
        if mine:
            done.add(name)
        if c["tag"] == "select":
            chosen = (changed[name] if isinstance(changed[name], list) else [changed[name]]) if mine else c["selected"]
            if not c["multiple"] and not chosen and c["options"]:
                chosen = [c["options"][0]]
            pairs += [(name, str(v)) for v in chosen]
        elif c["tag"] == "input" and c["type"] == "checkbox":
            if (changed[name] if mine else c["checked"]):
                pairs.append((name, "on"))
        else:
            pairs.append((name, str(changed[name]) if mine else c["value"]))
    return pairs


def post_pairs(client: TestClient, path: str, pairs: list[tuple[str, str]]):
    """Post the pairs in order, a name repeated as a browser repeats it."""
    return client.post(path, content=urlencode(pairs), headers={"Content-Type": "application/x-www-form-urlencoded"},
                       follow_redirects=False)


# --- new values for every kind of field ------------------------------------------------------------


def other_record(runtime, target: str, current) -> dict | None:
    """A record of ``target`` other than the current one, made if there is none."""
    current_id = current.get("id") if isinstance(current, dict) else current
    for found in runtime.records.list(SYSTEM, target, {"limit": 5}).items:
        if found["id"] != current_id:
            return found
    return make_record(runtime, target)


def make_record(runtime, object_name: str) -> dict:
    obj = runtime.current_metadata().object(object_name)
    values = {}
    for fdef in obj.active_fields():
        if fdef.required and not fdef.spec.get("default") and fdef.type.name != "autonumber":
            values[fdef.name] = new_value(runtime, fdef, None, [])
    return runtime.records.create(SYSTEM, object_name, values)


def new_value(runtime, fdef, current, options: list[str]):
    """A valid value for the field that differs from ``current``."""
    kind = fdef.type.name
    if kind in ("picklist",):
        return next(v for v in (options or [o["value"] for o in fdef.spec["values"]]) if v and v != current)
    if kind == "multi_picklist":
        values = options or [o["value"] for o in fdef.spec["values"]]
        return [v for v in values if v not in (current or [])][:1] or values[:1]
    if kind == "boolean":
        return not current
    if kind in ("integer", "decimal", "currency", "percent"):
        low, high = fdef.spec.get("min", 0), fdef.spec.get("max", 90)
        return int(min(max(low, 7 if current != 7 else 8), high))
    if kind == "date":
        return "2027-05-06"
    if kind == "datetime":
        return "2027-05-06T10:30"
    if kind == "email":
        return "edited@example.com"
    if kind == "url":
        return "https://example.com/edited"
    if kind == "phone":
        return "+86 571 8888 0000"
    if kind == "lookup":
        return other_record(runtime, fdef.spec["target"], current)["id"]
    if kind == "many_to_many":
        return [other_record(runtime, fdef.spec["target"], None)["id"]]
    return f"Edited {fdef.name}"[: fdef.spec.get("max_length", 255)]


def stored_as_sent(fdef, stored, sent) -> bool:
    kind = fdef.type.name
    if kind == "lookup":
        return isinstance(stored, dict) and stored.get("id") == sent
    if kind == "many_to_many":
        return sorted(link["id"] for link in stored or []) == sorted(sent)
    if kind == "multi_picklist":
        return sorted(stored or []) == sorted(sent)
    if kind in ("integer", "decimal", "currency", "percent"):
        return stored is not None and float(stored) == float(sent)
    if kind == "boolean":
        return bool(stored) == sent
    if kind == "datetime":
        return str(stored or "")[:16] == sent
    return stored == sent


def repeated(items) -> list:
    return sorted(item for item, n in Counter(items).items() if n > 1)


def section_problems(layout: dict) -> list[str]:
    problems = []
    labels = [str(sorted((s.get("label") or {}).items())) for s in layout.get("sections", [])]
    if repeated(labels):
        problems.append(f"{layout['kind']}: sections {repeated(labels)} twice")
    fields = [n for s in layout.get("sections", []) for n in s["fields"]]
    for key, names in (("sections", fields), ("columns", layout.get("columns", [])), ("card_fields", layout.get("card_fields", []))):
        if repeated(names):
            problems.append(f"{layout['kind']} {key}: {repeated(names)} twice")
    return problems


def detail_sections(html: str) -> list[tuple[str, list[str]]]:
    """(section title, field titles) of a detail page's field sections."""
    found = []
    for block in re.findall(r'<section class="fields">(.*?)</section>', html, re.S):
        title = re.search(r"<h2>(.*?)</h2>", block, re.S).group(1).strip()
        found.append((title, [t.strip() for t in re.findall(r"<dt>(.*?)</dt>", block, re.S)]))
    return found


# --- defect class: layouts with plugins' sections ----------------------------------------------------


def test_fields_added_in_setup_never_double_a_section_or_a_field_and_every_field_edits(root, crm):
    client, csrf = root
    runtime = crm.runtime
    objects = extended_base_objects(runtime)
    assert {"account", "contact", "product"} <= set(objects)
    for name in objects:
        for label in ("Visit Note", "Visit Rating"):
            added = client.post(f"/setup/objects/{name}/fields",
                                data={"_csrf_token": csrf, "label_en": label, "label_zh": label, "type": "text",
                                      "in_form": "on", "in_list": "on"})
            assert added.status_code == 200, (name, added.text[:2000])
    meta = runtime.current_metadata()
    for name in objects:
        layouts = [layout for layout in meta.layouts.values() if layout["object"] == name]
        assert [p for layout in layouts for p in section_problems(layout)] == [], name
        assert "visit_note" in meta.layouts[f"{name}:list:default"]["columns"]

        form = client.get(f"/r/{name}/new").text
        controls = read_form(form)
        assert repeated(c["name"] for c in controls.controls if c["name"] != "_csrf_token") == [], name
        assert repeated(controls.ids) == [], name
        assert 'name="visit_note"' in form and 'name="visit_rating"' in form

        record = make_record(runtime, name)
        detail = detail_sections(client.get(f"/r/{name}/{record['id']}").text)
        assert repeated(title for title, _ in detail) == [], name
        assert repeated(f for _, fields in detail for f in fields) == [], name

        edit_every_field(client, runtime, name, record)


def edit_every_field(client: TestClient, runtime, name: str, record: dict) -> None:
    """Give each field of the edit form a new value, save, and find every one of them stored."""
    obj = runtime.current_metadata().object(name)
    path = f"/r/{name}/{record['id']}/edit"
    controls = read_form(client.get(path).text).controls
    changed, sent = {}, {}
    for c in controls:
        fdef = obj.fields.get(c["name"])
        if fdef is None or c["name"] in changed or c.get("disabled") or (c["tag"] == "input" and c["type"] == "hidden"
                                                                         and fdef.type.name != "lookup"):
            continue
        value = new_value(runtime, fdef, record.get(fdef.name), [o for o in c.get("options", []) if o])
        changed[fdef.name] = value
        sent[fdef.name] = value
        if fdef.type.name == "lookup":
            target = runtime.current_metadata().object(fdef.spec["target"])
            chosen = runtime.records.get(SYSTEM, target.name, value)
            changed[f"_{fdef.name}"] = chosen.get(target.title_field) or f"#{value}"
        elif fdef.type.name == "many_to_many":
            changed[fdef.name] = ",".join(map(str, value))
    assert sent, f"{name}: no field to edit"
    saved = post_pairs(client, path, submission(controls, changed))
    assert saved.status_code == 303, (name, saved.text[:3000])
    stored = runtime.records.get(SYSTEM, name, record["id"])
    lost = {n: (v, stored.get(n)) for n, v in sent.items() if not stored_as_sent(obj.fields[n], stored.get(n), v)}
    assert lost == {}, name


def test_a_layout_put_back_or_imported_as_it_is_never_doubles_a_plugins_section(root, api, crm):
    client, csrf = root
    runtime = crm.runtime
    for name in extended_base_objects(runtime):
        for layout in api.get(f"/api/meta/layouts?object={name}").json()["items"]:
            for _ in range(2):
                assert api.put("/api/meta/layouts", json=layout).status_code == 200
    exported = client.get("/setup/config/export").text
    for _ in range(2):
        applied = client.post("/setup/config", data={"_csrf_token": csrf, "action": "apply", "changeset": exported})
        assert applied.status_code == 200, applied.text[:2000]
    layouts = runtime.current_metadata().layouts.values()
    assert [p for layout in layouts for p in section_problems(layout)] == []
    sales = runtime.current_metadata().layouts["account:form:default"]["sections"]
    assert [s["label"]["en"] for s in sales].count("Sales relationship") == 1


def test_a_layout_placing_a_field_twice_shows_it_once(root, api, crm):
    client, _csrf = root
    layout = {"object": "account", "kind": "form", "sections": [
        {"label": {"en": "Main"}, "fields": ["name", "phone", "name"]},
        {"label": {"en": "Again"}, "fields": ["phone", "lifecycle_stage"]},
        {"label": {"en": "Only repeats"}, "fields": ["name"]}]}
    assert api.put("/api/meta/layouts", json=layout).status_code == 200
    sections = crm.runtime.current_metadata().layouts["account:form:default"]["sections"]
    assert [(s["label"]["en"], s["fields"]) for s in sections] == [
        ("Main", ["name", "phone"]), ("Again", ["lifecycle_stage"]), ("Sales relationship", ["tier"])]
    form = read_form(client.get("/r/account/new").text)
    assert repeated(c["name"] for c in form.controls) == [] and repeated(form.ids) == []


# --- defect class: a lookup's typed text ---------------------------------------------------------------


@pytest.fixture
def alice(ui, crm):
    """alice, a rep, reads her own accounts only; these are hers, and Bob Industries is not."""
    owner = crm.users["alice"]
    names = ["Acme", "Acme Trading", "Acme Holdings", "Beta One", "Beta Two", "Gamma Works"]
    made = {name: crm.runtime.records.create(SYSTEM, "account", {"name": name, "owner": owner})["id"] for name in names}
    contact = crm.runtime.records.list(SYSTEM, "contact", {"last_name": "Contact of alice"}).items[0]
    return ui, signed_in(ui, "alice"), {**made, "Alice Industries": crm.accounts["alice"]}, contact


def edit_contact(client, csrf, contact, **fields):
    current = client.get(f"/r/contact/{contact['id']}/edit").text
    version = re.search(r'name="version" value="(\d+)"', current).group(1)
    return client.post(f"/r/contact/{contact['id']}/edit", data={"_csrf_token": csrf, "version": version,
                                                                 "last_name": contact["last_name"], **fields},
                       follow_redirects=False)


def account_of(crm, contact) -> int | None:
    value = crm.runtime.records.get(SYSTEM, "contact", contact["id"]).get("account")
    return value["id"] if value else None


@pytest.mark.parametrize(("typed", "meant"), [
    ("Alice Industries", "Alice Industries"),  # the chosen record's title: kept
    ("alice industries ", "Alice Industries"),
    ("acme", "Acme"),  # exactly one title is the text, ignoring case, though three begin with it
    ("Gamma", "Gamma Works"),  # the one title beginning with it
    ("works", "Gamma Works"),  # the one title containing it
])
def test_a_lookups_changed_text_saves_the_record_it_names(alice, crm, typed, meant):
    client, csrf, accounts, contact = alice
    saved = edit_contact(client, csrf, contact, account=str(accounts["Alice Industries"]), _account=typed)
    assert saved.status_code == 303, saved.text[:2000]
    assert account_of(crm, contact) == accounts[meant]


@pytest.mark.parametrize(("typed", "message"), [
    ("Zzz", "no account called &#39;Zzz&#39;"),
    ("Bob Industries", "no account called &#39;Bob Industries&#39;"),  # not alice's to read: as if it did not exist
    ("Acm", "3 accounts match &#39;Acm&#39;; choose one from the list"),
    ("Beta", "2 accounts match &#39;Beta&#39;; choose one from the list"),
])
def test_a_lookups_text_naming_no_single_record_is_refused_beside_it(alice, crm, typed, message):
    client, csrf, accounts, contact = alice
    refused = edit_contact(client, csrf, contact, account=str(accounts["Alice Industries"]), _account=typed, title="Buyer")
    assert refused.status_code == 422
    error = re.search(r'id="field-account-error">([^<]*)<', refused.text)
    assert error and error.group(1) == message
    assert f'name="_account" value="{typed}"' in refused.text and 'value="Buyer"' in refused.text  # what was typed stays
    assert "Bob Industries" not in refused.text.replace(f'value="{typed}"', "").replace(message, "")
    assert account_of(crm, contact) == accounts["Alice Industries"]
    assert crm.runtime.records.get(SYSTEM, "contact", contact["id"]).get("title") != "Buyer"


def test_a_cleared_lookup_clears_the_value(alice, crm):
    client, csrf, accounts, contact = alice
    cleared = edit_contact(client, csrf, contact, account=str(accounts["Alice Industries"]), _account="")
    assert cleared.status_code == 303 and account_of(crm, contact) is None


def test_a_lookup_typed_without_javascript_is_found_by_its_text(alice, crm):
    client, csrf, accounts, _contact = alice
    made = client.post("/r/contact/new", data={"_csrf_token": csrf, "last_name": "Typed", "account": "", "_account": "Beta Two"},
                       follow_redirects=False)
    assert made.status_code == 303
    new_id = int(made.headers["location"].rsplit("/", 1)[1])
    assert crm.runtime.records.get(SYSTEM, "contact", new_id)["account"]["id"] == accounts["Beta Two"]


def test_a_required_lookup_says_required_when_cleared_and_no_match_when_mistyped(root, crm):
    client, csrf = root
    base = {"_csrf_token": csrf, "name": "Tower C", "stage": "prospecting", "close_date": "2027-06-30"}
    cleared = client.post("/r/opportunity/new", data={**base, "account": "", "_account": ""})
    assert cleared.status_code == 422
    assert re.search(r'id="field-account-error">([^<]*)<', cleared.text).group(1) == "is required"
    mistyped = client.post("/r/opportunity/new", data={**base, "account": "", "_account": "Alice Industriez"})
    assert mistyped.status_code == 422
    assert re.search(r'id="field-account-error">([^<]*)<', mistyped.text).group(1) == "no account called &#39;Alice Industriez&#39;"
    assert crm.runtime.records.list(SYSTEM, "opportunity", {"name": "Tower C"}).items == []


# --- defect class: a lookup's title on a form drawn again ------------------------------------------------


def test_lookups_show_titles_after_a_refused_save_and_never_a_title_the_user_may_not_read(alice, crm):
    client, csrf, accounts, _contact = alice
    refused = client.post("/r/contact/new", data={"_csrf_token": csrf, "last_name": "", "account": str(accounts["Gamma Works"]),
                                                  "_account": "Gamma Works"})
    assert refused.status_code == 422 and 'id="field-last_name-error"' in refused.text
    assert 'name="_account" value="Gamma Works"' in refused.text
    assert f'name="account" value="{accounts["Gamma Works"]}"' in refused.text
    bob = crm.accounts["bob"]
    hidden = client.post("/r/contact/new", data={"_csrf_token": csrf, "last_name": "", "account": str(bob)})
    assert hidden.status_code == 422
    assert f'name="_account" value="#{bob}"' in hidden.text and "Bob Industries" not in hidden.text
    preset = client.get(f"/r/contact/new?account={accounts['Acme']}")
    assert 'name="_account" value="Acme"' in preset.text


# --- defect class: a refusal no field on the form shows ---------------------------------------------------


def test_a_refusal_naming_a_field_off_the_form_is_shown_at_the_top(root, crm):
    client, csrf = root
    lead = crm.runtime.records.create(SYSTEM, "lead", {"last_name": "Lin", "company": "Lin Tea", "status": "new"})
    form = client.get(f"/r/lead/{lead['id']}/edit").text
    assert 'name="converted_account"' not in form
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    refused = client.post(f"/r/lead/{lead['id']}/edit", data={"_csrf_token": csrf, "version": version, "last_name": "Lin",
                                                               "company": "Lin Tea", "status": "converted"})
    assert refused.status_code == 422
    top = re.findall(r'<p class="error" role="alert">([^<]*)</p>', refused.text)
    assert any("a converted lead needs the account it became" in p and p.startswith("Converted Account") for p in top), top
    assert "Please correct the fields marked below." not in refused.text  # no field below is marked
    assert crm.runtime.records.get(SYSTEM, "lead", lead["id"])["status"] == "new"


def test_an_edit_without_a_usable_version_says_why_on_the_form(root, crm):
    client, csrf = root
    account = crm.accounts["alice"]
    for version, why in (("", "must carry the record&#39;s version"), ("abc", "&#39;abc&#39; is not a record version")):
        refused = client.post(f"/r/account/{account}/edit", data={"_csrf_token": csrf, "version": version, "name": "Renamed",
                                                                  "billing_city": "Suzhou"})
        assert refused.status_code == 400 and "<form" in refused.text and why in refused.text
        assert 'value="Suzhou"' in refused.text


def test_every_refusal_of_a_hook_is_shown_on_the_form(make_runtime):
    from fake_plugins import lambda_form_refusals

    world = build_world(make_runtime(plugins=("lambda",), extra_plugins=[lambda_form_refusals]))
    with TestClient(create_app(world.runtime)) as client:
        csrf = signed_in(client, "root")
        account = world.accounts["alice"]
        expected = {"Nowhere": "accounts are not moved to Nowhere",
                    "Elsewhere": "Owner: an account in Elsewhere needs an owner from the export team",
                    "Limbo": "the archive refused the move to Limbo",
                    "Ghost Town": "Contact › Last Name: is required"}
        for city, message in expected.items():
            form = client.get(f"/r/account/{account}/edit").text
            version = re.search(r'name="version" value="(\d+)"', form).group(1)
            refused = client.post(f"/r/account/{account}/edit", data={"_csrf_token": csrf, "version": version,
                                                                      "name": "Alice Industries", "billing_city": city})
            assert refused.status_code == 422, (city, refused.text[:2000])
            assert message in re.findall(r'<p class="error" role="alert">([^<]*)</p>', refused.text), city
            assert f'value="{city}"' in refused.text
            assert world.runtime.records.get(SYSTEM, "account", account).get("billing_city") != city


def test_the_share_pickers_and_the_mass_update_picker_follow_their_text_too(root, crm):
    client, csrf = root
    runtime, account = crm.runtime, crm.accounts["alice"]
    shared = client.post(f"/r/account/{account}/shares", data={"_csrf_token": csrf, "user": str(crm.users["carol"]), "_user": "bob",
                                                               "team": "", "_team": "", "access": "read"}, follow_redirects=False)
    assert shared.status_code == 303
    assert [s["user"]["id"] for s in runtime.records.shares(SYSTEM, "account", account)] == [crm.users["bob"]]
    refused = client.post(f"/r/account/{account}/shares", data={"_csrf_token": csrf, "user": str(crm.users["carol"]), "_user": "nobody",
                                                                "team": "", "_team": "", "access": "read"})
    assert refused.status_code == 422 and "User: no user called &#39;nobody&#39;" in refused.text

    contact = runtime.records.list(SYSTEM, "contact", {"last_name": "Contact of alice"}).items[0]
    asked = client.post("/r/contact/mass", data={"_csrf_token": csrf, "action": "update", "field": "account", "_set": "1",
                                                 "value": str(account), "_value": "Carol Industries", "id": [str(contact["id"])],
                                                 "shown": [f"{contact['id']}:{contact['version']}"]})
    assert asked.status_code == 200 and "Set Account to Carol Industries on 1 contact" in asked.text, asked.text[-3000:]
    assert runtime.records.get(SYSTEM, "contact", contact["id"])["account"]["id"] == account
    moved = client.post("/r/contact/mass", data=_confirmation(asked.text, "contact"))
    assert moved.status_code == 200 and "1 changed." in moved.text, moved.text[-3000:]
    assert runtime.records.get(SYSTEM, "contact", contact["id"])["account"]["id"] == crm.accounts["carol"]
    unknown = client.post("/r/contact/mass", data={"_csrf_token": csrf, "action": "update", "field": "account", "_set": "1",
                                                   "value": str(account), "_value": "Industries", "id": [str(contact["id"])]})
    assert unknown.status_code == 422 and "Account: 4 accounts match &#39;Industries&#39;; choose one from the list" in unknown.text
