"""Record forms through real HTTP, with the four industry plugins: layouts that plugins add sections to,
fields added in Setup, every field of a form edited and stored.

People come from access_world.py (root: admin; alice: a rep).
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD, build_world
from core.api.app import create_app
from core.records import Actor
from test_ui_pages import signed_in

PLUGINS = ("sales", "marketing", "service", "manufacturing_bom")
SYSTEM = Actor.system()


@pytest.fixture
def crm(make_runtime):
    return build_world(make_runtime(plugins=PLUGINS))


@pytest.fixture
def ui(crm):
    with TestClient(create_app(crm.runtime, deliver_webhooks=False)) as client:
        yield client


@pytest.fixture
def root(ui):
    return ui, signed_in(ui, "root")


@pytest.fixture
def api(crm):
    """A client without the browser's cookies, as an integrator's script is, with root's bearer token."""
    with TestClient(create_app(crm.runtime, deliver_webhooks=False)) as client:
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
    body = "&".join(f"{_q(k)}={_q(v)}" for k, v in pairs)
    return client.post(path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}, follow_redirects=False)


def _q(text: str) -> str:
    from urllib.parse import quote_plus

    return quote_plus(text)


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
