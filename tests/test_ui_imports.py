"""The import wizard over real HTTP: upload, map, check (a dry run), run, the result and the rejected rows.

People come from access_world.py: mike (a manager: creates accounts), alice and bob (reps),
vera (a viewer: creates nothing). The file is the Maven CRM sample's accounts.csv, dirt
and all: five of its sectors are not industries of ours until the mapping says what they
are. Background runs are awaited with ``runtime.imports.wait``, never with sleeps.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from litestar.testing import TestClient
from test_ui_pages import signed_in

from core.api.app import create_app
from core.coretables import import_job
from core.imports import ImportOptions, describe_job, jobs, read_mapping, run_import
from core.records import Actor

DATA = Path(__file__).resolve().parent / "data" / "maven_crm"
ACCOUNTS = (DATA / "accounts.csv").read_bytes()
HX = {"HX-Request": "true"}
SECTORS = "technolgy = technology\nsoftware = technology\nentertainment = other\nmarketing = services\nemployment = services"
UNKNOWN_SECTORS = {"technolgy", "software", "entertainment", "marketing", "employment"}
SYSTEM = Actor.system()


@pytest.fixture
def ui(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client


def person(world, name: str):
    client = TestClient(create_app(world.runtime))
    client.__enter__()
    return client, signed_in(client, name)


@pytest.fixture
def people(world):
    opened = {}

    def get(name: str):
        if name not in opened:
            opened[name] = person(world, name)
        return opened[name]

    yield get
    for client, _ in opened.values():
        client.__exit__(None, None, None)


def upload(client, csrf, filename, content, object_name="account", **extra):
    files = {"file": (filename, content, "text/csv")} if filename is not None else None
    data = {"_csrf_token": csrf, "object": object_name, **extra}
    return client.post("/import", data=data, files=files or {"file": ("", b"", "application/octet-stream")}, follow_redirects=False)


def map_url(response) -> str:
    assert response.status_code == 303, response.text[:2000]
    location = response.headers["location"]
    assert re.match(r"^/import/[0-9a-f]{32}/map\?object=\w+", location), location
    return location


def token_of(url: str) -> str:
    return url.split("/")[2]


def form_of(html: str) -> dict[str, list[str]]:
    """The mapping form's inputs as the browser would send them (selected options, texts, hidden inputs)."""
    form = html.split('id="import-mapping"', 1)[1].split("</form>", 1)[0]
    data: dict[str, list[str]] = {}
    for name, value in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form):
        data.setdefault(name, []).append(_unescape(value))
    for name, value in re.findall(r'<input id="[^"]+" name="([^"]+)" value="([^"]*)"', form):
        data.setdefault(name, []).append(_unescape(value))
    outside = re.findall(r'<select id="[^"]+" name="[^"]+" form="import-mapping">.*?</select>', html, re.S)  # encoding, sheet
    for select in re.finditer(r'<select id="[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', form + "".join(outside), re.S):
        chosen = re.findall(r'<option value="([^"]*)" selected', select.group(2))
        if chosen or "multiple" not in select.group(0):
            data[select.group(1)] = chosen or [re.search(r'<option value="([^"]*)"', select.group(2)).group(1)]
    for name, text in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        data[name] = [_unescape(text)]
    return data


def _unescape(text: str) -> str:
    return text.replace("&#34;", '"').replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def choose(data: dict, **columns) -> dict:
    """Set columns' choices by column name: field, or (field, {"match"|"values"|"also": ...})."""
    names = data["column"]
    for column, choice in columns.items():
        index = names.index(column)
        field, extra = (choice, {}) if isinstance(choice, str) else choice
        data[f"c{index}"] = [field]
        for key, value in extra.items():
            data[f"c{index}_{key}"] = [value]
    return data


def check(client, url: str, data: dict):
    return client.post(url.split("?")[0].replace("/map", "/check"), data=data, follow_redirects=False)


def job_id_of(response) -> int:
    assert response.status_code == 303, response.text[:3000]
    return int(re.match(r"^/import/jobs/(\d+)$", response.headers["location"]).group(1))


def finished(world, client, job_id: int):
    assert world.runtime.imports.wait(job_id, 120)
    page = client.get(f"/import/jobs/{job_id}")
    assert page.status_code == 200, page.text[:2000]
    return page


def summary(page) -> str:
    """The job's section as text, for assertion messages."""
    section = page.text.split('id="import-job"', 1)[-1].split("</section>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section))[:3000]


def count(page, key: str) -> int:
    return int(re.search(rf'<div data-count="{key}"><strong>(\d+)</strong>', page.text).group(1))


def accounts_named(world) -> dict[str, dict]:
    return {a["name"]: a for a in world.runtime.records.each(SYSTEM, "account")}


def test_upload_map_check_run_and_import_the_fixed_rejected_rows_again(world, people):
    client, csrf = people("mike")
    listing = client.get("/r/account")
    assert 'href="/import?object=account"' in listing.text  # the list's Import button

    form = client.get("/import?object=account")
    assert form.status_code == 200 and 'value="account" selected' in form.text
    url = map_url(upload(client, csrf, "accounts.csv", ACCOUNTS))
    page = client.get(url)
    assert page.status_code == 200 and "accounts.csv" in page.text
    data = form_of(page.text)
    names = data["column"]
    assert names == ["account", "sector", "year_established", "revenue", "employees", "office_location", "subsidiary_of"]
    # the automatic mapping of mapping.py: the object's own name means its title field; names and labels match
    assert data[f"c{names.index('account')}"] == ["name"]
    assert data[f"c{names.index('employees')}"] == ["employees"]
    assert data[f"c{names.index('year_established')}"] == ["year_established"]
    assert data[f"c{names.index('sector')}"] == [""]
    assert "Acme Corporation" in page.text  # examples from the first rows

    choose(data, sector="industry", revenue="annual_revenue", office_location="billing_country",
           subsidiary_of=("parent_account", {"match": "name"}))
    dry = job_id_of(check(client, url, data))
    result = finished(world, client, dry)
    assert 'data-status="done"' in result.text and "hx-trigger" not in result.text.split("<main")[1]  # a finished job is not polled
    assert "Check done: nothing was written." in result.text
    assert (count(result, "created"), count(result, "rejected")) == (85 - 37, 37)
    assert len(accounts_named(world)) == 4  # nothing written by the check
    rejected_table = result.text.split('id="rejected-rows"', 1)[1].split("</table>", 1)[0]
    assert "<td>2</td><td>industry" in rejected_table and "technolgy" in rejected_table and "industry" in rejected_table
    assert 'action="/import/jobs/%d/run"' % dry in result.text

    # the fragment the bar polls: the job's section alone
    fragment = client.get(f"/import/jobs/{dry}", headers=HX)
    assert "<html" not in fragment.text and 'id="import-job"' in fragment.text

    run = client.post(f"/import/jobs/{dry}/run", data={"_csrf_token": csrf}, follow_redirects=False)
    real = job_id_of(run)
    done = finished(world, client, real)
    again = client.post(f"/import/jobs/{dry}/run", data={"_csrf_token": csrf}, follow_redirects=False)
    assert again.status_code == 409 and f"imported already, by import {real}" in again.text  # never twice
    checked = client.get(f"/import/jobs/{dry}")
    assert f'href="/import/jobs/{real}" id="real-run"' in checked.text and 'id="run-import"' not in checked.text
    assert "Import done." in done.text and 'href="/r/account"' in done.text
    assert (count(done, "created"), count(done, "rejected")) == (48, 37)
    stored = accounts_named(world)
    assert len(stored) == 4 + 48
    assert stored["Betasoloin"]["industry"] == "medical" and stored["Betasoloin"]["owner"]["label"] == "Mike"
    assert "Acme Corporation" not in stored  # 'technolgy'

    download = client.get(f"/import/jobs/{real}/rejected.csv")
    assert download.status_code == 200 and download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"] and "accounts-rejected.csv" in download.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(rows) == 37 and list(rows[0]) == names + ["reason"]
    assert {r["sector"] for r in rows} == UNKNOWN_SECTORS and all(r["reason"].startswith("industry") for r in rows)

    # fix: import the rejected rows again, telling what the sectors are; the reason column is left out
    url = map_url(upload(client, csrf, "accounts.rejected.csv", download.content))
    page = client.get(url)
    data = form_of(page.text)
    assert data[f"c{data['column'].index('reason')}"] == [""], data
    choose(data, sector=("industry", {"values": SECTORS}), revenue="annual_revenue", office_location="billing_country",
           subsidiary_of=("parent_account", {"match": "name"}))
    data["keys"], data["then"] = ["name"], ["skip"]
    second = finished(world, client, job_id_of(check(client, url, data)))
    assert (count(second, "created"), count(second, "rejected")) == (37, 0), summary(second)
    checked = job_id_of(check(client, url, data))
    finished(world, client, checked)
    fixed = finished(world, client, job_id_of(client.post(f"/import/jobs/{checked}/run", data={"_csrf_token": csrf}, follow_redirects=False)))
    assert (count(fixed, "created"), count(fixed, "skipped"), count(fixed, "rejected")) == (37, 0, 0)
    stored = accounts_named(world)
    assert len(stored) == 4 + 85
    assert stored["Acme Corporation"]["industry"] == "technology"
    assert stored["Cheers"]["parent_account"]["label"] == "Massive Dynamic"


def test_the_mapping_downloads_as_the_cli_takes_it_and_gives_the_same_outcome(world, people, tmp_path):
    client, csrf = people("mike")
    url = map_url(upload(client, csrf, "accounts.csv", ACCOUNTS))
    page = client.get(url)
    data = choose(form_of(page.text), sector=("industry", {"values": SECTORS, "also": "description"}),
                  revenue="annual_revenue", subsidiary_of=("parent_account", {"match": "name"}))
    data["date_formats"] = ["DD/MM/YYYY"]
    data["keys"], data["then"] = ["name"], ["update"]
    download = client.post(url.split("?")[0].replace("/map", "/mapping.json"), data=data)
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    mapping = read_mapping(download.text, "download")
    assert mapping["format"] == "tessera-import-mapping/1" and mapping["object"] == "account"
    assert mapping["columns"]["sector"] == [{"field": "industry", "values": {"technolgy": "technology", "software": "technology",
                                                                             "entertainment": "other", "marketing": "services",
                                                                             "employment": "services"}},
                                            {"field": "description"}]
    assert mapping["columns"]["subsidiary_of"] == {"field": "parent_account", "match": "name"}
    assert mapping["columns"]["office_location"] is None and mapping["columns"]["account"] == "name"
    assert mapping["duplicates"] == [{"match": ["name"], "then": "update"}] and mapping["date_formats"] == ["DD/MM/YYYY"]

    ui_check = finished(world, client, job_id_of(check(client, url, data)))
    (tmp_path / "accounts.csv").write_bytes(ACCOUNTS)
    cli = run_import(world.runtime, world.actor("mike"), "account", tmp_path / "accounts.csv",
                     ImportOptions(mapping=mapping, dry_run=True, rejected_path=tmp_path / "r.csv"))
    assert (count(ui_check, "created"), count(ui_check, "updated"), count(ui_check, "rejected")) == (cli.created, cli.updated, cli.rejected) == (85, 0, 0)
    from_job = client.get(f"/import/jobs/{job_id_of(check(client, url, data))}/mapping.json")
    assert json.loads(from_job.text)["columns"] == mapping["columns"]

    # "Change the mapping" brings the form back as it was checked
    again = client.get(f"{url}&job={ui_check.url.path.rsplit('/', 1)[1]}")
    kept = form_of(again.text)
    sector = kept["column"].index("sector")
    assert kept[f"c{sector}"] == ["industry"] and kept[f"c{sector}_also"] == ["description"]
    assert "technolgy = technology" in kept[f"c{sector}_values"][0] and kept["keys"] == ["name"] and kept["date_formats"] == ["DD/MM/YYYY"]


def test_the_column_options_follow_the_field_chosen(world, people):
    client, csrf = people("mike")
    url = map_url(upload(client, csrf, "accounts.csv", ACCOUNTS))
    token = token_of(url)
    lookup = client.get(f"/import/{token}/column?object=account&i=6&c6=parent_account", headers=HX)
    assert lookup.status_code == 200 and "<html" not in lookup.text
    assert 'name="c6_match"' in lookup.text and '<option value="name" selected' in lookup.text and '<option value="id"' in lookup.text
    picklist = client.get(f"/import/{token}/column?object=account&i=1&c1=industry", headers=HX)
    hint = re.search(r'<small class="warning">([^<]+)</small>', picklist.text).group(1)
    assert all(sector in hint for sector in UNKNOWN_SECTORS) and "medical" not in hint
    mapped = client.get(f"/import/{token}/column?object=account&i=1&c1=industry&c1_values=technolgy%3Dtechnology", headers=HX)
    assert "technolgy" not in re.search(r'<small class="warning">([^<]+)</small>', mapped.text).group(1)
    assert 'name="c1_match"' not in picklist.text
    # without JavaScript: "Update the options" draws the form again with what was chosen
    data = choose(form_of(client.get(url).text), subsidiary_of="parent_account")
    redrawn = client.post(url.split("?")[0], data=data)
    assert redrawn.status_code == 200 and 'name="c6_match"' in redrawn.text


def test_a_gbk_csv_and_an_xlsx_file_just_work(world, people, tmp_path):
    client, csrf = people("mike")
    gbk = "客户名称,员工人数,行业\n杭州茶业,12,零售\n西湖科技,30,technology\n".encode("gbk")
    url = map_url(upload(client, csrf, "客户.csv", gbk))
    page = client.get(url)
    assert "杭州茶业" in page.text
    data = form_of(page.text)
    assert data["column"] == ["客户名称", "员工人数", "行业"] and data["c0"] == ["name"] and data["c1"] == ["employees"]
    job = finished(world, client, job_id_of(check(client, url, data)))
    assert (count(job, "created"), count(job, "rejected")) == (2, 0)

    import openpyxl

    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["nothing here"])
    sheet = book.create_sheet("Accounts")
    sheet.append(["Account Name", "Employees"])
    sheet.append(["Sheet Co", 7])
    book.save(tmp_path / "book.xlsx")
    url = map_url(upload(client, csrf, "book.xlsx", (tmp_path / "book.xlsx").read_bytes()))
    first = client.get(url)
    assert '<option value="Accounts"' in first.text and "nothing here" in first.text
    switched = form_of(first.text)
    assert switched["column"] == ["nothing here"] and switched["sheet"] == ["Notes"]
    switched["sheet"] = ["Accounts"]  # "Read the file again" with another sheet
    data = form_of(client.post(url.split("?")[0], data=switched).text)
    assert data["column"] == ["Account Name", "Employees"] and data["sheet"] == ["Accounts"] and data["c0"] == ["name"]
    job = finished(world, client, job_id_of(check(client, url, data)))
    run = finished(world, client, job_id_of(client.post(f"/import/jobs/{int(job.url.path.rsplit('/', 1)[1])}/run",
                                                         data={"_csrf_token": csrf}, follow_redirects=False)))
    assert count(run, "created") == 1 and accounts_named(world)["Sheet Co"]["employees"] == 7


def test_a_file_beyond_the_apps_usual_body_limit_uploads(world, people):
    client, csrf = people("mike")
    big = b"name,employees\n" + b"".join(b"Big Co %06d,%d\n" % (i, i % 500) for i in range(200_000))
    assert len(big) > 3 * 1024 * 1024  # the API's requests stop at 2 MiB; the upload takes up to 1 GiB
    page = client.get(map_url(upload(client, csrf, "big.csv", big)))
    assert "Big Co 000000" in page.text and "first 2000 rows" in page.text


def test_an_upload_needs_the_forms_csrf_token(world, people):
    client, _csrf = people("mike")
    refused = client.post("/import", data={"object": "account"}, files={"file": ("a.csv", b"name\nX\n", "text/csv")})
    assert refused.status_code == 403 and not (world.runtime.settings.files_path() / "imports").exists()


def test_bad_files_get_a_message_on_the_form_and_nothing_is_kept(world, people):
    client, csrf = people("mike")
    folder = world.runtime.settings.files_path() / "imports"
    cases = [
        (None, b"", "Choose a CSV or XLSX file to import."),
        ("empty.csv", b"", "The file is empty"),
        ("notes.pdf", b"%PDF-1.4", "is not a CSV or XLSX file"),
        ("broken.xlsx", b"PK\x03\x04 not really a workbook", "not a readable XLSX file"),
        ("binary.csv", b"name\n\xff\xfe\xfa\x80\x81\n", "neither UTF-8 nor GBK"),
        ("nul.csv", b"na\x00me\nAcme\n", "row 1, column 1: the column name holds a NUL character"),
        ("header.csv", b"name," + b"y" * 200_000 + b"\nAcme,1\n", "row 1, column 2: the column name has 200,000 characters"),
    ]
    for filename, content, message in cases:
        response = upload(client, csrf, filename, content)
        assert response.status_code == 400, (filename, response.status_code)
        assert message in response.text, (filename, response.text[:3000])
        assert 'value="account" selected' in response.text  # the form kept its choice
        assert '/tmp/' not in response.text and str(folder) not in response.text  # the server's folders are not shown
    kept = [p for p in folder.iterdir() if p.is_dir() and any(f.stat().st_size for f in p.iterdir())] if folder.exists() else []
    assert kept == []
    assert len(accounts_named(world)) == 4
    assert upload(client, csrf, "a.csv", b"name\nX\n", object_name="nothing").status_code == 404


def test_a_cell_over_the_csv_limit_and_a_damaged_rejected_rows_file_still_show_the_job_anywhere(world, people, make_runtime):
    client, csrf = people("mike")
    url = map_url(upload(client, csrf, "long.csv", ("name,industry\nShort Ltd,retail\nLong Ltd," + "x" * 200_000 + "\n").encode()))
    page = client.get(url)
    assert page.status_code == 200 and "x" * 300 not in page.text  # the examples show the start of a long cell
    dry = job_id_of(check(client, url, form_of(page.text)))
    assert world.runtime.imports.wait(dry, 120)
    limit = csv.field_size_limit(131_072)  # the csv module's limit in a new process
    try:
        with TestClient(create_app(make_runtime(upgrade=False))) as other:
            signed_in(other, "mike")
            shown = other.get(f"/import/jobs/{dry}")
            assert shown.status_code == 200 and (count(shown, "created"), count(shown, "rejected")) == (1, 1)
            rejected_table = shown.text.split('id="rejected-rows"', 1)[1].split("</table>", 1)[0]
            assert "the cell has 200,000 characters" in rejected_table and "x" * 199 + "…" in rejected_table
            assert "x" * 300 not in rejected_table
            world.runtime.imports.rejected_file(dry).write_bytes(b"name,reason\n\xff\xfe broken\n")
            damaged = other.get(f"/import/jobs/{dry}")
            assert damaged.status_code == 200 and "The rejected rows cannot be shown: their file cannot be read." in damaged.text
    finally:
        csv.field_size_limit(limit)


def test_mappings_the_engine_refuses_are_shown_with_each_problem(world, people):
    client, csrf = people("mike")
    url = map_url(upload(client, csrf, "accounts.csv", ACCOUNTS))
    page = client.get(url)
    base = form_of(page.text)

    unknown = check(client, url, choose(dict(base), sector="industri"))
    assert unknown.status_code == 400 and "&#39;industri&#39; is not a field of account" in unknown.text
    assert "did you mean" in unknown.text and 'id="import-mapping"' in unknown.text
    kept = form_of(unknown.text)
    assert kept["c0"] == ["name"]  # the rest of the form as it was

    twice = check(client, url, choose(dict(base), revenue="employees"))
    assert twice.status_code == 400 and "both fill the field" in twice.text

    key = dict(base, keys=["account_number"], then=["update"])
    refused = check(client, url, key)
    assert refused.status_code == 400 and "duplicate rule 1: account_number is not filled by any column" in refused.text

    bad_values = check(client, url, choose(dict(base), sector=("industry", {"values": "technolgy technology"})))
    assert bad_values.status_code == 400 and "line 1" in bad_values.text

    lookup = check(client, url, choose(dict(base), subsidiary_of=("parent_account", {"match": "nope"})))
    assert lookup.status_code == 400 and "finds account records by &#39;nope&#39;" in lookup.text
    with world.runtime.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM tessera_import_job").scalar() == 0
    assert len(accounts_named(world)) == 4


def test_who_may_import_and_whose_jobs_they_see(world, people):
    vera, vera_csrf = people("vera")
    assert 'href="/import"' not in vera.get("/").text  # the menu offers importing only to who may create
    assert 'href="/import"' in people("alice")[0].get("/").text
    refused = vera.get("/import")
    assert refused.status_code == 403 and "may not create records" in refused.text
    assert vera.get("/import?object=account").status_code == 403
    response = upload(vera, vera_csrf, "accounts.csv", ACCOUNTS)
    assert response.status_code == 403 and "Your role may not create Accounts." in response.text
    assert 'href="/import?object=account"' not in vera.get("/r/account").text  # no Import button

    alice, alice_csrf = people("alice")
    url = map_url(upload(alice, alice_csrf, "accounts.csv", ACCOUNTS))
    page = alice.get(url)
    assert "account_number" not in page.text  # hidden from her role
    assert '<option value="annual_revenue"' not in page.text  # she may read it, not change it
    data = choose(form_of(page.text), sector="industry")  # rows with a sector we do not have are rejected
    job = job_id_of(check(alice, url, data))
    finished(world, alice, job)

    bob, bob_csrf = people("bob")
    assert bob.get(f"/import/jobs/{job}").status_code == 404
    assert bob.get(f"/import/jobs/{job}", headers=HX).status_code == 404
    assert bob.get(f"/import/jobs/{job}/rejected.csv").status_code == 404
    assert bob.get(f"/import/jobs/{job}/mapping.json").status_code == 404
    assert bob.post(f"/import/jobs/{job}/run", data={"_csrf_token": bob_csrf}).status_code == 404
    assert bob.get(url).status_code == 404  # nor her upload
    assert bob.post(url.split("?")[0].replace("/map", "/check"), data={**data, "_csrf_token": bob_csrf}).status_code == 404
    assert bob.get("/import/0123456789abcdef0123456789abcdef/map?object=account").status_code == 404
    root, _ = people("root")
    assert root.get(f"/import/jobs/{job}").status_code == 200  # an admin sees everyone's
    assert alice.get(f"/import/jobs/{job}/rejected.csv").status_code == 200


def test_a_running_job_polls_itself_and_only_a_finished_check_runs(world, people, tmp_path):
    client, csrf = people("mike")
    job = jobs.start(world.runtime.engine, "account", str(tmp_path / "slow.csv"), "0" * 64, {}, True, 1000, None, world.actor("mike"))
    page = client.get(f"/import/jobs/{job.id}")
    assert page.status_code == 200 and 'hx-trigger="every 1s"' in page.text and 'id="import-progress"' in page.text
    fragment = client.get(f"/import/jobs/{job.id}", headers=HX)
    assert "<html" not in fragment.text and f'hx-get="/import/jobs/{job.id}"' in fragment.text
    refused = client.post(f"/import/jobs/{job.id}/run", data={"_csrf_token": csrf})
    assert refused.status_code == 409 and "Only a finished check can be run." in refused.text
    with world.runtime.engine.begin() as conn:  # no process has moved it on for ten minutes: its server stopped
        conn.execute(sa.update(import_job).where(import_job.c.id == job.id)
                     .values(updated_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)))
    stalled = client.get(f"/import/jobs/{job.id}", headers=HX)
    assert "hx-trigger" not in stalled.text and "has not moved for a while" in stalled.text
    jobs.finish(world.runtime.engine, job, "done")
    over = client.get(f"/import/jobs/{job.id}", headers=HX)
    assert "hx-trigger" not in over.text and 'value="100"' in over.text


def test_a_second_click_while_the_run_goes_shows_that_run(world, people):
    client, csrf = people("mike")
    url = map_url(upload(client, csrf, "accounts.csv", ACCOUNTS))
    checked = job_id_of(check(client, url, form_of(client.get(url).text)))
    finished(world, client, checked)
    source = describe_job(world.runtime.engine, checked)["source"]  # a real run of the same file, going on
    going = jobs.start(world.runtime.engine, "account", source, "0" * 64, {}, False, 85, None, world.actor("mike"))
    again = client.post(f"/import/jobs/{checked}/run", data={"_csrf_token": csrf}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == f"/import/jobs/{going.id}"


def test_a_run_that_stopped_resumes_after_its_last_batch(world, people):
    client, csrf = people("mike")
    url = map_url(upload(client, csrf, "accounts.csv", ACCOUNTS))
    data = choose(form_of(client.get(url).text), sector=("industry", {"values": SECTORS}))
    checked = job_id_of(check(client, url, data))
    finished(world, client, checked)
    ran = job_id_of(client.post(f"/import/jobs/{checked}/run", data={"_csrf_token": csrf}, follow_redirects=False))
    finished(world, client, ran)
    stopped = jobs.load(world.runtime.engine, ran)
    jobs.finish(world.runtime.engine, stopped, "failed", "the server stopped")
    page = client.get(f"/import/jobs/{ran}")
    assert "the server stopped" in page.text and 'id="resume-import"' in page.text
    resumed = job_id_of(client.post(f"/import/jobs/{ran}/run", data={"_csrf_token": csrf}, follow_redirects=False))
    assert resumed == ran  # the same job, going on after its last completed batch
    done = finished(world, client, resumed)
    assert "Import done." in done.text and count(done, "created") == 85 and len(accounts_named(world)) == 4 + 85


def test_the_wizard_speaks_chinese(world, people):
    client, csrf = people("mike")
    client.post("/language", data={"_csrf_token": csrf, "language": "zh-CN", "next": "/"})
    form = client.get("/import?object=account")
    assert "导入" in form.text
    url = map_url(upload(client, csrf, "accounts.csv", ACCOUNTS))
    page = client.get(url)
    assert "文件中的列" in page.text and "检查导入" in page.text


def wizard(runtime, client, csrf, object_name, filename, columns, keys=(), then="update", content=None):
    """Upload, map (the automatic mapping corrected by ``columns``), check, run: the check's and the run's pages."""
    url = map_url(upload(client, csrf, filename, content if content is not None else (DATA / filename).read_bytes(), object_name))
    data = choose(form_of(client.get(url).text), **columns)
    if keys:
        data["keys"], data["then"] = list(keys), [then]
    checked = job_id_of(check(client, url, data))
    assert runtime.imports.wait(checked, 300)
    dry = client.get(f"/import/jobs/{checked}")
    ran = job_id_of(client.post(f"/import/jobs/{checked}/run", data={"_csrf_token": csrf}, follow_redirects=False))
    assert runtime.imports.wait(ran, 300)
    done = client.get(f"/import/jobs/{ran}")
    assert "Import done." in done.text, summary(done)
    return dry, done, ran


def test_the_maven_crm_sample_goes_through_the_wizard_into_the_sales_objects(make_runtime, tmp_path):
    """tests/test_imports_maven.py's import, mapped in the wizard instead of a mapping file: the same outcome."""
    from access_world import PASSWORD
    from test_imports_maven import OPPORTUNITY_FIELDS, STAGES, changeset

    from core.auth import Accounts

    runtime = make_runtime(plugins=("sales",))
    runtime.import_changeset(changeset(extensions=[OPPORTUNITY_FIELDS]), "maven.json", "test")
    Accounts(runtime).add_user("ines", PASSWORD, "admin", full_name="Ines Implementer")
    with TestClient(create_app(runtime)) as client:
        csrf = signed_in(client, "ines")
        _dry, products, _ = wizard(runtime, client, csrf, "product", "products.csv", {"sales_price": "unit_price"})
        assert (count(products, "created"), count(products, "rejected")) == (7, 0)
        _dry, managers, _ = wizard(runtime, client, csrf, "user", "sales_teams.csv",
                                   {"sales_agent": "", "manager": "username", "regional_office": ""}, ["username"], "skip")
        assert (count(managers, "created"), count(managers, "skipped")) == (6, 29)
        _dry, agents, _ = wizard(runtime, client, csrf, "user", "sales_teams.csv",
                                 {"sales_agent": ("username", {"also": "full_name"}), "regional_office": ""})
        assert (count(agents, "created"), count(agents, "rejected")) == (35, 0)
        _dry, accounts, _ = wizard(runtime, client, csrf, "account", "accounts.csv", {
            "sector": ("industry", {"values": SECTORS}), "revenue": "annual_revenue", "office_location": "billing_country",
            "subsidiary_of": "parent_account"})
        assert (count(accounts, "created"), count(accounts, "rejected")) == (85, 0) and "Warnings" not in accounts.text

        stages = "\n".join(f"{text} = {value}" for text, value in STAGES.items())
        pipeline = {"opportunity_id": ("source_id", {"also": "name"}), "sales_agent": "owner",
                    "product": ("product", {"values": "GTXPro = GTX Pro"}), "deal_stage": ("stage", {"values": stages}),
                    "close_value": "amount"}
        cli_mapping = {"columns": {
            "opportunity_id": ["source_id", "name"], "sales_agent": "owner", "product": {"field": "product", "values": {"GTXPro": "GTX Pro"}},
            "deal_stage": {"field": "stage", "values": STAGES}, "close_value": "amount"}}
        cli = run_import(runtime, Actor.system(), "opportunity", DATA / "sales_pipeline.csv", ImportOptions(
            mapping=cli_mapping, duplicates=[{"match": ["source_id"], "then": "update"}], dry_run=True, rejected_path=tmp_path / "cli.csv"))
        dry, done, ran = wizard(runtime, client, csrf, "opportunity", "sales_pipeline.csv", pipeline, ["source_id"], "update")
        assert (count(dry, "created"), count(dry, "rejected")) == (cli.created, cli.rejected)
        assert (count(done, "created"), count(done, "rejected")) == (cli.created, cli.rejected)
        assert cli.created + cli.rejected == 8800 and cli.rejected > 0

        rejected = list(csv.DictReader(io.StringIO(client.get(f"/import/jobs/{ran}/rejected.csv").content.decode("utf-8-sig"))))
        assert len(rejected) == cli.rejected and list(rejected[0])[-1] == "reason"
        for row in rejected:  # each reason is true of its row
            assert ("account: is required" in row["reason"]) == (row["account"] == "")
            assert ("close_date: is required" in row["reason"]) == (row["close_date"] == "")
        sample = runtime.records.list(SYSTEM, "opportunity", {"source_id": "Z063OYW0"}).items[0]
        assert sample["product"]["label"] == "GTX Pro" and sample["owner"]["label"] == "Darcel Schlecht"
        assert sample["name"] == "Z063OYW0" and sample["stage"] == "closed_won" and sample["account"]["label"] == "Isdom"


def test_uploads_unused_for_the_retention_days_are_removed_but_not_while_a_run_goes(world, people):
    client, csrf = people("mike")
    folder = world.runtime.settings.files_path() / "imports"
    old_url, going_url = map_url(upload(client, csrf, "old.csv", ACCOUNTS)), map_url(upload(client, csrf, "going.csv", ACCOUNTS))
    going_source = next((folder / token_of(going_url)).glob("going.csv"))
    jobs.start(world.runtime.engine, "account", str(going_source), "0" * 64, {}, False, 85, None, world.actor("mike"))
    eight_days_ago = dt.datetime.now().timestamp() - 8 * 86_400
    for token in (token_of(old_url), token_of(going_url)):
        for path in [*(folder / token).rglob("*"), folder / token]:
            os.utime(path, (eight_days_ago, eight_days_ago))
    with world.runtime.engine.begin() as conn:  # the going run last reported progress an hour ago: it is still running
        conn.execute(sa.update(import_job).values(updated_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)))

    fresh_url = map_url(upload(client, csrf, "fresh.csv", ACCOUNTS))  # each upload removes the stale ones

    assert not (folder / token_of(old_url)).exists() and not (folder / f"{token_of(old_url)}.owner").exists()
    assert (folder / token_of(going_url)).is_dir() and (folder / token_of(fresh_url)).is_dir()
    gone = client.get(old_url)
    assert gone.status_code in (404, 410) and "upload it again" in gone.text
    assert client.get(fresh_url).status_code == 200


def test_a_many_to_many_column_finds_its_records_by_a_chosen_field(make_runtime):
    from access_world import PASSWORD

    from core.auth import Accounts

    runtime = make_runtime(plugins=("sales",))
    Accounts(runtime).add_user("ines", PASSWORD, "admin", full_name="Ines Implementer")
    with TestClient(create_app(runtime)) as client:
        csrf = signed_in(client, "ines")
        url = map_url(upload(client, csrf, "deals.csv", b"Name,Contact Roles\nBig deal,Lee; Chen\n", object_name="opportunity"))
        assert '<option value="contacts" selected' in client.get(url).text  # mapped by its label
        links = client.get(f"/import/{token_of(url)}/column?object=opportunity&i=1&c1=contacts", headers=HX)
    assert links.status_code == 200 and 'name="c1_match"' in links.text
    assert '<option value="full_name" selected' in links.text and '<option value="email"' in links.text
    assert "separate them with ;" in links.text
