"""Building a workflow rule in the Setup editor in a real Chromium: choosing the object and the field of a condition
redraws the form with what they offer, an action is added as a card; the saved rule runs on a matching record from the
job queue, and the run shows in the record's "Rule runs" section."""

from __future__ import annotations

import re

from playwright.sync_api import expect
from test_ui_browser import page, server, sign_in  # noqa: F401 - fixtures

from core import scheduler


def redrawn(page, act) -> None:
    """Do something that redraws the editor (choosing an object, a field, an operator; adding a row or a card), and wait
    for the form to come back before going on, as a person waits for it."""
    with page.expect_response(lambda r: r.url.endswith("/setup/workflow-rules/editor")):
        act()
    expect(page.locator("#rule-form.htmx-request")).to_have_count(0)


def test_an_implementer_builds_a_rule_and_sees_its_run_on_the_record(page, world):  # noqa: F811
    sign_in(page, "root")
    page.goto("/setup/workflow-rules")
    page.get_by_role("button", name="New workflow rule").click()
    page.get_by_label("Name in the API").fill("big_revenue")
    redrawn(page, lambda: page.locator("#rule-object").select_option("account"))
    trigger = page.locator("#t-on")
    expect(trigger).to_be_visible()  # the object chosen, the form offers the trigger and the condition
    page.get_by_label("Label in English").fill("Big revenue")
    page.get_by_label("Label in Chinese").fill("大额收入")
    redrawn(page, lambda: page.get_by_role("button", name="Add a condition").click())
    field = page.locator("#c-0-field")
    redrawn(page, lambda: field.select_option("annual_revenue"))
    operator = page.locator("#c-0-op")
    expect(operator.locator("option[value=gte]")).to_have_count(1)  # a number field offers comparisons
    expect(operator.locator("option[value=startswith]")).to_have_count(0)
    redrawn(page, lambda: operator.select_option("gte"))
    page.locator("#c-0-value").fill("1000000")
    page.locator("#new-action").select_option("set_fields")
    redrawn(page, lambda: page.get_by_role("button", name="Add", exact=True).click())
    card = page.locator("#a-0")
    expect(card).to_contain_text("Set fields")
    redrawn(page, lambda: page.locator("#a-0-v-0-field").select_option("description"))
    page.locator("#a-0-v-0-value").fill("A big one")
    expect(page.locator("#c-0-value")).to_have_value("1000000")  # redrawing the form kept what was typed
    page.locator("#rule-save").click()
    expect(page).to_have_url(re.compile(r"/setup/workflow-rules/big_revenue\?done="))
    expect(page.locator("#rule-definition")).to_contain_text("Annual Revenue is at least 1000000")

    mike = world.actors["mike"]
    made = world.runtime.records.create(mike, "account", {"name": "Huge Co", "annual_revenue": 5000000})
    scheduler.JobRunner(world.runtime).run_until_idle()
    sign_in(page, "mike")
    page.goto(f"/r/account/{made['id']}")
    runs = page.locator("#rule-runs")
    expect(runs).to_be_visible()
    runs.locator("summary").click()
    expect(runs.locator("tr.run-done")).to_contain_text("Big revenue")
    expect(page.locator("#record-head")).not_to_contain_text("Big revenue")  # not a button rule
    assert world.runtime.records.get(mike, "account", made["id"])["description"] == "A big one"
