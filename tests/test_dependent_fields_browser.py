"""Dependent picklists and conditional fields on the record form, in a real browser (Playwright driving Debian's
Chromium against a real server on the test's database), in English and Chinese: choosing a country narrows the city
select, and a field shows, and becomes required, as the values its conditions read change."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from access_world import PASSWORD, build_world
from test_dependent_fields import with_fields
from test_ui_browser import serving


@pytest.fixture
def world(make_runtime):
    world = build_world(make_runtime(plugins=("sales",)))
    with_fields(world.runtime, section=["country", "city", "vat_number", "review_on"])
    return world


@pytest.fixture
def server(world):
    with serving(world.runtime) as base:
        yield base


@pytest.mark.parametrize(("locale", "words"), [
    ("en-US", {"country": "Country", "city": "City", "cn": "China", "fr": "France", "beijing": "Beijing", "vat": "VAT number"}),
    ("zh-CN", {"country": "国家", "city": "城市", "cn": "中国", "fr": "法国", "beijing": "北京", "vat": "增值税号"}),
])
def test_the_form_narrows_and_shows_fields_as_values_change(browser, server, locale, words):
    context = browser.new_context(base_url=server, viewport={"width": 1360, "height": 900}, locale=locale)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        page.goto("/login")
        page.locator("input[name=username]").fill("root")
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form button[type=submit]").click()
        expect(page).to_have_url(re.compile(r"/$"))
        page.goto("/r/account/new")
        city = page.get_by_label(words["city"], exact=True)
        expect(city.locator("option")).to_have_count(1)  # no country: no city to choose
        vat = page.locator("[data-field=vat_number]")
        expect(vat).to_be_hidden()
        page.get_by_label(words["country"], exact=True).select_option(label=words["cn"])
        expect(page.get_by_label(words["city"], exact=True).locator("option")).to_have_count(3)
        page.get_by_label(words["city"], exact=True).select_option(label=words["beijing"])
        expect(vat).to_be_hidden()
        page.get_by_label(words["country"], exact=True).select_option(label=words["fr"])
        expect(page.get_by_label(words["city"], exact=True).locator("option")).to_have_count(1)
        expect(vat).to_be_visible()
        expect(page.get_by_label(words["vat"])).to_be_editable()
        expect(page.locator("[data-field=vat_number].required")).to_have_count(0)
        page.locator("#field-annual_revenue").fill("5000")
        page.locator("#field-annual_revenue").dispatch_event("change")
        expect(page.locator("[data-field=vat_number].required")).to_have_count(1)
    finally:
        context.close()
