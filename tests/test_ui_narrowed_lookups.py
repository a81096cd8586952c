"""A lookup narrowed by another field of its form, as the layout's ``narrow_by`` says: a ticket's contact among
the contacts of the ticket's customer. Through real HTTP on SQLite and PostgreSQL, with the service plugin's layouts.
"""

from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from access_world import build_world
from core.api.app import create_app
from core.metadata.problems import MetadataError
from core.records import Actor
from test_ui_pages import signed_in

SYSTEM = Actor.system()
HTMX = {"HX-Request": "true"}


@pytest.fixture
def crm(make_runtime):
    return build_world(make_runtime(plugins=("sales", "service")))


@pytest.fixture
def people(crm):
    """Two customers, each with a contact named Chen; Zhou works for the second only."""
    records = crm.runtime.records
    north = records.create(SYSTEM, "account", {"name": "North Mill"})["id"]
    south = records.create(SYSTEM, "account", {"name": "South Mill"})["id"]
    made = {"north": north, "south": south}
    for key, name, account in (("chen_north", "Chen", north), ("chen_south", "Chen", south), ("zhou", "Zhou", south)):
        made[key] = records.create(SYSTEM, "contact", {"last_name": name, "account": account})["id"]
    return made


@pytest.fixture
def root(crm):
    with TestClient(create_app(crm.runtime)) as client:
        yield client, signed_in(client, "root")


def offered(client: TestClient, **params) -> list[int]:
    answer = client.get("/r/contact/options", params={"field": "contact", "from": "ticket", **params}, headers=HTMX)
    assert answer.status_code == 200
    return [int(i) for i in re.findall(r'data-id="(\d+)"', answer.text)]


def new_ticket(client: TestClient, csrf: str, **fields):
    return client.post("/r/ticket/new", data={"_csrf_token": csrf, "subject": "Pump leaks", **fields}, follow_redirects=False)


def test_the_contact_search_sends_the_customer_and_offers_only_its_contacts(root, people):
    client, _csrf = root
    form = client.get("/r/ticket/new").text
    search = re.search(r'<input type="search" id="field-contact"[^>]*>', form, re.S).group(0)
    assert "hx-include=\"[data-record-form] [name='customer']\"" in search
    assert "data-record-form" in form
    assert set(offered(client, _contact="Chen", customer=str(people["north"]))) == {people["chen_north"]}
    assert set(offered(client, _contact="Chen")) == {people["chen_north"], people["chen_south"]}  # no customer chosen yet
    assert set(offered(client, _contact="", customer=str(people["south"]))) == {people["chen_south"], people["zhou"]}


def test_an_inline_edit_narrows_by_the_customer_the_ticket_holds(root, crm, people):
    client, _csrf = root
    ticket = crm.runtime.records.create(SYSTEM, "ticket", {"subject": "Noise", "customer": people["south"]})
    assert set(offered(client, _contact="Chen", record=str(ticket["id"]))) == {people["chen_south"]}


def test_typed_text_is_resolved_among_the_customers_contacts(root, crm, people):
    client, csrf = root
    made = new_ticket(client, csrf, customer=str(people["north"]), _customer="North Mill", contact="", _contact="chen")
    assert made.status_code == 303, made.text[:2000]
    ticket = crm.runtime.records.get(SYSTEM, "ticket", int(made.headers["location"].rsplit("/", 1)[1]))
    assert ticket["contact"]["id"] == people["chen_north"]


@pytest.mark.parametrize("chosen", [False, True])
def test_a_contact_of_another_customer_is_refused_beside_the_field(root, crm, people, chosen):
    client, csrf = root
    refused = new_ticket(client, csrf, customer=str(people["north"]), _customer="North Mill",
                         contact=str(people["zhou"]) if chosen else "", _contact="Zhou")
    assert refused.status_code == 422
    error = re.search(r'id="field-contact-error">([^<]*)<', refused.text).group(1)
    assert error == "&#39;Zhou&#39; is not one of the contacts of the chosen customer"
    assert crm.runtime.records.list(SYSTEM, "ticket", {"subject": "Pump leaks"}).items == []


def test_the_equipment_is_narrowed_by_the_customer_too(root, crm, people):
    client, csrf = root
    records = crm.runtime.records
    records.create(SYSTEM, "equipment", {"serial_number": "P-1", "customer": people["south"]})
    refused = new_ticket(client, csrf, customer=str(people["north"]), _customer="North Mill", equipment="", _equipment="P-1")
    assert refused.status_code == 422
    error = re.search(r'id="field-equipment-error">([^<]*)<', refused.text).group(1)
    assert error == "&#39;P-1&#39; is not one of the equipment of the chosen customer"


@pytest.mark.parametrize("narrow_by, where, message", [
    ({"contactt": {"account": "customer"}}, "/layouts/0/narrow_by/contactt", "'contactt' is not a lookup field of 'ticket'"),
    ({"subject": {"account": "customer"}}, "/layouts/0/narrow_by/subject", "'subject' is not a lookup field of 'ticket'"),
    ({"contact": {"acount": "customer"}}, "/layouts/0/narrow_by/contact/acount", "'acount' is not a field of 'contact'"),
    ({"contact": {"account": "custome"}}, "/layouts/0/narrow_by/contact/account", "'custome' is not a field of 'ticket'"),
    ({"contact": {"account": "subject"}}, "/layouts/0/narrow_by/contact/account", "do not hold the same kind of value"),
    ({"contact": {}}, "/layouts/0/narrow_by/contact", ""),
])
def test_a_narrowing_naming_a_wrong_field_is_refused_with_where(crm, narrow_by, where, message):
    layout = {"object": "ticket", "kind": "form", "narrow_by": narrow_by, "sections": [{"label": {"en": "A"}, "fields": ["subject"]}]}
    with pytest.raises(MetadataError) as refused:
        crm.runtime.import_changeset({"format": "tessera-changeset/1", "layouts": [layout]}, "test", "test")
    assert any(p.pointer == where and message in p.message for p in refused.value.problems), refused.value.problems
