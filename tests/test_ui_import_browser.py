"""The import wizard in a real browser: the Maven CRM sample's accounts.csv, uploaded, mapped, checked, imported,
its rejected rows downloaded, fixed and imported again.

The server is test_ui_browser.py's (uvicorn on 127.0.0.1 over the test's database) and the
browser the one Chromium the session shares (conftest.py), driven by Playwright. So that the progress bar is seen
while the import runs, whatever the machine's speed, a small plugin made here holds the
real run's batch until the test has watched the page poll; then the bar goes to done.
Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import csv
import re
import threading
import types
from pathlib import Path

from access_world import PASSWORD
from playwright.sync_api import expect
from test_ui_browser import serving, shot, sign_in

from core.auth import Accounts
from core.hookspecs import hookimpl
from core.plugins import PluginInfo
from core.records import Actor

DATA = Path(__file__).resolve().parent / "data" / "maven_crm"
SECTORS = "technolgy = technology\nsoftware = technology\nentertainment = other\nmarketing = services\nemployment = services"
ARMED, HELD, RELEASED = threading.Event(), threading.Event(), threading.Event()


def _gate() -> types.ModuleType:
    """A plugin whose record validator, once armed, waits on the first valid row of the file until released."""
    module = types.ModuleType("import_gate")
    module.PLUGIN = PluginInfo(name="import_gate", version="1.0.0", label={"en": "Import gate"}, tessera=">=0.1",
                               record_objects=("account",))

    @hookimpl
    def tessera_validate_record(event):
        if ARMED.is_set() and event.values.get("name") == "Betasoloin":
            HELD.set()
            RELEASED.wait(60)
        return []

    module.tessera_validate_record = tessera_validate_record
    return module


GATE = _gate()


def map_accounts(tab, values: str | None = None) -> None:
    """The mapping an implementer chooses for the Maven accounts (the rest is the automatic mapping)."""
    expect(tab.get_by_label("Field for the column account")).to_have_value("name")  # the object's own name: its title field
    expect(tab.get_by_label("Field for the column employees")).to_have_value("employees")
    tab.get_by_label("Field for the column sector").select_option("industry")
    sector = tab.locator("#options-1")
    expect(sector).to_contain_text("Not values of this picklist")  # htmx brought the field's options
    expect(sector).to_contain_text("technolgy")
    if values is not None:
        sector.get_by_label("One per line: text in the file = value").fill(values)
    tab.get_by_label("Field for the column revenue").select_option("annual_revenue")
    tab.get_by_label("Field for the column office_location").select_option("billing_country")
    tab.get_by_label("Field for the column subsidiary_of").select_option("parent_account")
    expect(tab.locator("#options-6").get_by_label("Find the record by")).to_have_value("name")


def counted(tab, key: str):
    return tab.locator(f'[data-count="{key}"] strong')


def test_import_the_maven_accounts_watch_the_bar_and_import_the_fixed_rejected_rows(browser, make_runtime, request, tmp_path):
    ARMED.clear(), HELD.clear(), RELEASED.clear()
    runtime = make_runtime(plugins=("import_gate",), extra_plugins=(GATE,))
    Accounts(runtime).add_user("ines", PASSWORD, "admin", full_name="Ines Implementer")
    with serving(runtime) as base:
        context = browser.new_context(base_url=base, viewport={"width": 1440, "height": 1000}, locale="en-US", accept_downloads=True)
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        try:
            sign_in(tab, "ines")
            tab.goto("/r/account")
            tab.get_by_role("button", name="Import", exact=True).click()
            expect(tab.get_by_label("Import into")).to_have_value("account")
            tab.get_by_label("File (CSV or XLSX)").set_input_files(DATA / "accounts.csv")
            tab.get_by_role("button", name="Upload and map the columns").click()
            expect(tab.get_by_role("heading", name="Map the columns of accounts.csv")).to_be_visible()
            map_accounts(tab)
            shot(tab, "import-map", request)

            tab.get_by_role("button", name="Check the import").click()
            expect(tab.locator("#import-state")).to_contain_text("Check done: nothing was written.", timeout=60_000)
            expect(counted(tab, "created")).to_have_text("48")
            expect(counted(tab, "rejected")).to_have_text("37")
            expect(tab.locator("#rejected-rows")).to_contain_text("technolgy")
            assert runtime.records.list(Actor.system(), "account", {}).items == []
            shot(tab, "import-check", request)

            ARMED.set()
            tab.get_by_role("button", name="Run the import").click()
            expect(tab.locator("#import-job")).to_have_attribute("data-status", "running")
            assert HELD.wait(30), "the run did not reach its first batch"
            with tab.expect_request(lambda r: re.search(r"/import/jobs/\d+$", r.url) is not None and r.headers.get("hx-request") == "true"):
                pass  # the bar asks again while the batch is held
            expect(tab.locator("#import-state")).to_contain_text("Importing")
            shot(tab, "import-running", request)
            ARMED.clear()
            RELEASED.set()
            expect(tab.locator("#import-progress")).to_have_attribute("value", "100", timeout=60_000)
            expect(tab.locator("#import-state")).to_contain_text("Import done.")
            expect(counted(tab, "created")).to_have_text("48")
            expect(counted(tab, "rejected")).to_have_text("37")
            shot(tab, "import-done", request)

            with tab.expect_download() as downloading:
                tab.get_by_role("button", name="Download the rejected rows (CSV)").click()
            download = downloading.value
            assert download.suggested_filename == "accounts-rejected.csv"
            fixed = tmp_path / "accounts.rejected.csv"
            download.save_as(fixed)
            with fixed.open(encoding="utf-8-sig", newline="") as file:
                rows = list(csv.DictReader(file))
            assert len(rows) == 37 and list(rows[0])[-1] == "reason" and rows[0]["reason"].startswith("industry")

            tab.get_by_role("button", name="Import another file").click()
            tab.get_by_label("File (CSV or XLSX)").set_input_files(fixed)
            tab.get_by_role("button", name="Upload and map the columns").click()
            expect(tab.get_by_label("Field for the column reason")).to_have_value("")  # not a field: left out
            map_accounts(tab, SECTORS)
            tab.get_by_role("button", name="Check the import").click()
            expect(tab.locator("#import-state")).to_contain_text("Check done", timeout=60_000)
            expect(counted(tab, "rejected")).to_have_text("0")
            tab.get_by_role("button", name="Run the import").click()
            expect(tab.locator("#import-state")).to_contain_text("Import done.", timeout=60_000)
            expect(counted(tab, "created")).to_have_text("37")
            tab.get_by_role("button", name="Open the list").click()
            tab.get_by_label("Search", exact=True).fill("Acme")
            expect(tab.locator("#records")).to_contain_text("Acme Corporation")
            stored = {a["name"]: a for a in runtime.records.each(Actor.system(), "account")}
            assert len(stored) == 85 and stored["Acme Corporation"]["industry"] == "technology"
            assert stored["Cheers"]["parent_account"]["label"] == "Massive Dynamic"
        finally:
            RELEASED.set()
            context.close()
