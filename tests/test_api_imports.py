"""Imports and exports through the REST API: real HTTP requests to the ASGI app, real files, both databases.

Uploads are multipart/form-data; a run is an ``import.run`` job of the job queue, which the
tests run to its end with ``runtime.imports.wait`` (in the test's thread: the test app runs no
worker). Every bad input must answer a 4xx in the
documented error shape and leave the data, the jobs and the uploads folder as they were.
"""

from __future__ import annotations

import csv
import io
import json
import threading

import openpyxl
import pytest
from litestar.testing import TestClient

from core import audit
from core.api.app import create_app
from core.api.imports import MAX_IMPORT_BYTES
from core.db import read_transaction
from core.imports import describe_job
from core.imports.background import job_upload, real_run_options, recent_jobs
from core.records import Actor

CSV = (b"Company,Staff,Sector\n"
       b"Acme,12,technology\n"
       b"Beta,many,finance\n"
       b"Alice Industries,5,technology\n")
MAPPING = {"columns": {"Company": "name", "Staff": "employees", "Sector": "industry"}}
UPDATE_BY_NAME = [{"match": ["name"], "then": "update"}]


def upload(api, who, content=CSV, filename="accounts.csv", object_name="account", **fields):
    files = {"file": (filename, content, "text/csv")} if content is not None else {}
    parts = {name: (None, value if isinstance(value, str) else json.dumps(value)) for name, value in fields.items()}
    return api.post(who, f"/api/imports/{object_name}", files={**files, **parts})


def finished(api, who, response) -> dict:
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert api.world.runtime.imports.wait(job_id, 120)
    answer = api.get(who, f"/api/imports/jobs/{job_id}")
    assert answer.status_code == 200, answer.text
    return answer.json()


def accounts(api) -> dict[str, dict]:
    return {r["name"]: r for r in api.world.runtime.records.each(Actor.system(), "account", {})}


def uploads_kept(api) -> list:
    folder = api.world.runtime.settings.files_path() / "imports"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def audit_rows(api, event: str) -> list[dict]:
    with read_transaction(api.world.runtime.engine) as conn:
        return audit.read(conn, event)


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


# --- a dry run, then the real run -------------------------------------------------------------------------


def test_a_dry_run_checks_the_file_and_run_imports_what_it_checked(api):
    before = accounts(api)
    started = upload(api, "root", mapping=MAPPING, duplicates=UPDATE_BY_NAME, batch_size="1")
    assert started.headers["location"] == f"/api/imports/jobs/{started.json()['id']}"
    checked = finished(api, "root", started)
    assert checked["dry_run"] is True and checked["status"] == "done" and checked["progress"] == 1.0
    assert {k: checked[k] for k in ("created", "updated", "skipped", "rejected")} == {"created": 1, "updated": 1, "skipped": 0, "rejected": 1}
    assert checked["file"] == "accounts.csv" and checked["last_row"] == 4
    assert checked["columns"] == [{"column": "Company", "field": "name"}, {"column": "Staff", "field": "employees"},
                                  {"column": "Sector", "field": "industry"}]
    [rejection] = checked["rejections"]
    assert rejection["row"] == 3 and "employees (column 'Staff')" in rejection["reason"]
    assert accounts(api) == before  # a dry run writes nothing

    rejected = api.get("root", checked["links"]["rejected"])
    assert rejected.status_code == 200 and rejected.headers["content-type"].startswith("text/csv")
    header, row = read_csv(rejected.text)
    assert header == ["Company", "Staff", "Sector", "reason"] and row[:3] == ["Beta", "many", "finance"] and "employees" in row[3]

    ran = api.post("root", checked["links"]["run"])
    assert ran.status_code == 202 and ran.headers["location"] == f"/api/imports/jobs/{ran.json()['id']}"
    imported = finished(api, "root", ran)
    assert imported["dry_run"] is False and imported["status"] == "done" and "run" not in imported["links"]
    assert {k: imported[k] for k in ("created", "updated", "skipped", "rejected")} == {"created": 1, "updated": 1, "skipped": 0, "rejected": 1}
    after = accounts(api)
    assert after["Acme"]["employees"] == 12 and after["Acme"]["industry"] == "technology"
    assert after["Alice Industries"]["employees"] == 5 and "Beta" not in after
    assert describe_job(api.world.runtime.engine, imported["id"])["settings"]["mapping"]["batch_size"] == 1  # the same settings

    again = api.post("root", checked["links"]["run"])
    assert again.status_code == 409 and f"job {imported['id']}" in again.json()["message"]
    not_a_check = api.post("root", f"/api/imports/jobs/{imported['id']}/run")
    assert not_a_check.status_code == 409 and "not a dry run" in not_a_check.json()["message"]
    assert len(accounts(api)) == len(before) + 1

    rows = audit_rows(api, "import")
    assert [(r["detail"]["job"], r["detail"]["dry_run"], r["object"], r["username"]) for r in rows] == [
        (imported["id"], False, "account", "root"), (checked["id"], True, "account", "root")]
    assert rows[0]["detail"]["checked_by"] == checked["id"] and rows[0]["detail"]["file"] == "accounts.csv"


def test_a_run_waits_while_a_run_of_the_same_check_is_being_started_and_then_is_refused(api):
    checked = finished(api, "root", upload(api, "root", mapping=MAPPING))
    answers = []
    with api.world.runtime.imports.starting(checked["id"]):  # what a first call holds while it starts the run
        second = threading.Thread(target=lambda: answers.append(api.post("root", checked["links"]["run"])))
        second.start()
        second.join(1.0)
        assert second.is_alive() and answers == []
        first = api.world.runtime.imports.start(Actor.system(), "account", job_upload(api.world.runtime, checked["id"]),
                                                 real_run_options(api.world.runtime, checked["id"]))
    second.join(60)
    [refused] = answers
    assert refused.status_code == 409 and f"by job {first}" in refused.json()["message"]


def test_a_run_is_refused_while_another_process_imports_the_same_file(api):
    from core.imports import jobs

    checked = finished(api, "root", upload(api, "root", mapping=MAPPING))
    fingerprint = jobs.load(api.world.runtime.engine, checked["id"]).fingerprint
    elsewhere = jobs.start(api.world.runtime.engine, "account", "/elsewhere/accounts.csv", fingerprint, {}, False, 4, None, Actor.system())
    before = accounts(api)
    refused = api.post("root", checked["links"]["run"])
    assert refused.status_code == 409 and refused.json()["error"] == "refused"
    assert f"import job {elsewhere.id} is importing this file right now" in refused.json()["message"]
    assert accounts(api) == before


def import_runs(api) -> list:
    import sqlalchemy as sa  # noqa: PLC0415

    from core.coretables import job as job_table  # noqa: PLC0415

    with read_transaction(api.world.runtime.engine) as conn:
        return conn.execute(sa.select(job_table).where(job_table.c.kind == "import.run").order_by(job_table.c.id)).all()


def test_a_run_is_a_queue_job_enqueued_with_its_import_and_running_it_again_imports_nothing_twice(api):
    import sqlalchemy as sa  # noqa: PLC0415

    from core import queue  # noqa: PLC0415
    from core.coretables import job as job_table  # noqa: PLC0415
    from core.db import write_transaction  # noqa: PLC0415
    from core.scheduler import JobRunner  # noqa: PLC0415

    earlier = accounts(api)
    started = upload(api, "root", mapping=MAPPING, duplicates=UPDATE_BY_NAME, options={"dry_run": False})
    job_id = started.json()["id"]
    [run] = import_runs(api)
    assert (run.queue, run.state, run.payload["import"], run.payload["object"]) == ("imports", "queued", job_id, "account")
    assert api.get("root", f"/api/imports/jobs/{job_id}").json()["status"] == "running" and accounts(api) == earlier
    imported = finished(api, "root", started)
    assert (imported["status"], imported["created"], imported["updated"], imported["rejected"]) == ("done", 1, 1, 1)
    before = accounts(api)
    assert set(before) - set(earlier) == {"Acme"} and [r.state for r in import_runs(api)] == ["done"]

    with write_transaction(api.world.runtime.engine) as conn:  # its worker stopped before marking it done: it runs again
        conn.execute(sa.update(job_table).where(job_table.c.id == run.id).values(state="queued", run_at=queue.now(), finished_at=None))
    assert JobRunner(api.world.runtime, queues=["imports"]).run_until_idle() == 1
    assert accounts(api) == before and finished(api, "root", started)["created"] == 1


def test_a_run_whose_worker_stopped_is_taken_over_when_its_lease_runs_out(api):
    import datetime as dt  # noqa: PLC0415

    import sqlalchemy as sa  # noqa: PLC0415

    from core import queue  # noqa: PLC0415
    from core.coretables import import_job  # noqa: PLC0415
    from core.db import write_transaction  # noqa: PLC0415
    from core.scheduler import JobRunner  # noqa: PLC0415

    runtime = api.world.runtime
    earlier = accounts(api)
    started = upload(api, "root", mapping=MAPPING, options={"dry_run": False})
    job_id = started.json()["id"]
    [taken] = queue.claim(runtime.engine, "a worker that stops", ["imports"], lease=dt.timedelta(0))
    assert taken.payload["import"] == job_id
    job = api.get("root", f"/api/imports/jobs/{job_id}").json()
    assert job["status"] == "running" and accounts(api) == earlier
    with write_transaction(runtime.engine) as conn:  # nobody moved the import on since it stopped
        conn.execute(sa.update(import_job).where(import_job.c.id == job_id).values(updated_at=queue.now() - dt.timedelta(minutes=3)))
    assert JobRunner(runtime, queues=["imports"]).run_until_idle() == 1
    [run] = import_runs(api)
    assert (run.state, run.attempts) == ("done", 2)
    assert finished(api, "root", started)["status"] == "done" and set(accounts(api)) - set(earlier) == {"Acme"}


def test_an_xlsx_file_imports_at_once_with_the_options_as_one_json_part(api, tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    sheet = book.create_sheet("Data")
    sheet.append(["Name", "Employees", "Website"])
    sheet.append(["Gamma", 40, "https://gamma.example"])
    sheet.append(["Delta", 7, None])
    path = tmp_path / "accounts.xlsx"
    book.save(path)
    started = upload(api, "alice", path.read_bytes(), "accounts.xlsx", options={"dry_run": False, "sheet": "Data"})
    job = finished(api, "alice", started)
    assert job["status"] == "done" and job["dry_run"] is False and job["created"] == 2 and job["rejected"] == 0
    assert job["rows_total"] == 2 and "run" not in job["links"]
    made = accounts(api)
    assert made["Gamma"]["employees"] == 40 and made["Gamma"]["owner"]["label"] == "Alice" and made["Delta"]["website"] is None
    none_rejected = api.get("alice", job["links"]["rejected"])
    assert none_rejected.status_code == 404 and f"import job {job['id']} rejected no rows" in none_rejected.json()["message"]
    assert not list((api.world.runtime.settings.files_path() / "imports").rglob("*.rejected.csv"))


def test_the_run_of_a_dry_run_reads_the_same_sheet_and_encoding(api, tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["Not", "this", "sheet"])
    book.create_sheet("Data").append(["Name", "Employees"])
    book["Data"].append(["Epsilon", 3])
    book.save(tmp_path / "two-sheets.xlsx")
    checked = finished(api, "root", upload(api, "root", (tmp_path / "two-sheets.xlsx").read_bytes(), "two-sheets.xlsx", sheet="Data"))
    assert (checked["created"], checked["ignored"]) == (1, [])
    assert finished(api, "root", api.post("root", checked["links"]["run"]))["created"] == 1 and accounts(api)["Epsilon"]["employees"] == 3

    gbk = "客户名称,员工人数\n华为,100\n".encode("gbk")
    checked = finished(api, "root", upload(api, "root", gbk, "gbk.csv"))
    assert checked["created"] == 1 and checked["rejected"] == 0, checked
    assert finished(api, "root", api.post("root", checked["links"]["run"]))["created"] == 1 and "华为" in accounts(api)


def test_another_process_shows_the_job_with_its_rejections_from_the_file(api, second_runtime):
    job = finished(api, "alice", upload(api, "alice", mapping=MAPPING))
    with TestClient(create_app(second_runtime)) as other:
        shown = other.get(f"/api/imports/jobs/{job['id']}", headers=api.headers("alice")).json()
    assert shown["rejected"] == 1 and shown["rejections"] == [{"row": None, "reason": job["rejections"][0]["reason"]}]
    assert shown["columns"] == job["columns"] and shown["ignored"] is None and shown["status"] == "done"


def test_a_file_that_fails_half_way_is_a_failed_job_that_cannot_be_run(api):
    rows = b"".join(b"Company %d,%d\n" % (n, n) for n in range(600))
    undecodable = upload(api, "root", b"Name,Employees\n" + rows + b"Broken \xff\xfe row,1\n", encoding="utf-8")
    assert undecodable.status_code == 422  # found before the job starts, at its exact line
    assert undecodable.json()["message"].startswith("accounts.csv: line 602: byte 9402 is not utf-8 text; name its encoding")
    content = b"Name,Employees\n" + rows + b'"open quote,1\n' + b"y" * (10 * 2**20 + 10) + b"\n"
    job = finished(api, "root", upload(api, "root", content))
    assert job["status"] == "failed" and job["message"].startswith("accounts.csv: row 602: a cell is longer than")
    assert str(api.world.runtime.settings.files_path().absolute()) not in job["message"]
    refused = api.post("root", job["links"]["run"])
    assert refused.status_code == 409 and "did not finish" in refused.json()["message"]


def test_the_job_list_is_mine_newest_first_and_paged(api):
    ids = [finished(api, "alice", upload(api, "alice"))["id"] for _ in range(3)]
    bobs = finished(api, "bob", upload(api, "bob"))["id"]
    first = api.get("alice", "/api/imports/jobs?limit=2").json()
    assert [j["id"] for j in first["items"]] == ids[:0:-1] and first["has_more"] is True and first["limit"] == 2
    rest = api.get("alice", "/api/imports/jobs?limit=2&offset=2").json()
    assert [j["id"] for j in rest["items"]] == ids[:1] and rest["has_more"] is False
    assert [j["id"] for j in api.get("root", "/api/imports/jobs").json()["items"]] == [bobs, *ids[::-1]]
    bad = api.get("alice", "/api/imports/jobs?limit=0")
    assert bad.status_code == 400 and bad.json()["errors"][0]["parameter"] == "limit"


# --- no stored file breaks a listing -------------------------------------------------------------------------------

CSV_DEFAULT_LIMIT = 131_072  # the csv module's cell limit in a process that has not raised it


@pytest.fixture
def fresh_csv_limit():
    """Put back the csv module's limit (process-wide) that a test lowers to what a new process has."""
    before = csv.field_size_limit()
    yield
    csv.field_size_limit(before)


def test_a_cell_over_the_csv_limit_rejects_its_row_and_every_process_lists_the_job(api, second_runtime, fresh_csv_limit):
    content = ("Company,Staff\nAcme,12\n" + "x" * 200_000 + ",5\nBeta,7\n").encode()
    job = finished(api, "alice", upload(api, "alice", content, mapping={"columns": {"Company": "name", "Staff": "employees"}}, dry_run="false"))
    reason = "column 'Company' (column 1): the cell has 200,000 characters; a cell may have at most 131,072"
    assert (job["status"], job["created"], job["rejected"], job["rejections"]) == ("done", 2, 1, [{"row": 3, "reason": reason}])
    assert {"Acme", "Beta"} <= set(accounts(api))
    csv.field_size_limit(CSV_DEFAULT_LIMIT)  # as in another process, or this one after a restart
    with TestClient(create_app(second_runtime)) as other:
        for who in ("alice", "root"):
            listed = other.get("/api/imports/jobs", headers=api.headers(who))
            assert listed.status_code == 200, listed.text
            assert [(j["id"], j["rejections"]) for j in listed.json()["items"]] == [(job["id"], [{"row": None, "reason": reason}])]
        rejected = other.get(job["links"]["rejected"], headers=api.headers("alice"))
    assert rejected.status_code == 200 and read_csv(rejected.text)[1] == ["x" * 200_000, "5", reason]


MALFORMED = [
    # (file name, content, words of the refusal)
    ("undecodable.csv", b"Company,Staff\nAcme,1\n\xff\xfe\x80 Beta,2\n", "undecodable.csv: line 3: byte 21 is neither UTF-8 nor GBK"),
    ("binary.csv", bytes(range(256)) * 40, "binary.csv: line 2: byte 128 is neither UTF-8 nor GBK"),
    ("nul.csv", b"Comp\x00any,Staff\nAcme,1\n", "nul.csv: row 1, column 1: the column name holds a NUL character"),
    ("header.csv", ("Company," + "y" * 200_000 + "\nAcme,1\n").encode(), "header.csv: row 1, column 2: the column name has 200,000 characters"),
    ("notazip.xlsx", b"this is not a zip file", "notazip.xlsx: not a readable XLSX file (BadZipFile"),
]


@pytest.mark.parametrize("filename, content, words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_malformed_file_is_refused_when_uploaded_and_when_it_replaces_a_checked_one(api, filename, content, words):
    refused = upload(api, "alice", content, filename=filename)
    assert refused.status_code == 422 and refused.json()["error"] == "invalid_file" and words in refused.json()["message"]
    checked = finished(api, "alice", upload(api, "alice", mapping=MAPPING))
    job_upload(api.world.runtime, checked["id"]).path.write_bytes(content)  # the kept file changed on the server's disk since
    before = accounts(api)
    ran = api.post("alice", checked["links"]["run"])
    assert ran.status_code == 422 and ran.json()["error"] in ("invalid_file", "invalid_mapping"), ran.text
    assert accounts(api) == before
    listed = api.get("alice", "/api/imports/jobs")
    assert listed.status_code == 200 and [j["id"] for j in listed.json()["items"]] == [checked["id"]]


def test_a_damaged_rejected_rows_file_is_a_warning_of_its_job_in_every_listing(api, second_runtime):
    job = finished(api, "alice", upload(api, "alice", mapping=MAPPING))
    api.world.runtime.imports.rejected_file(job["id"]).write_bytes(b"Company,reason\n\xff\xfe broken\n")
    with TestClient(create_app(second_runtime)) as other:
        listed = other.get("/api/imports/jobs", headers=api.headers("alice"))
        shown = other.get(f"/api/imports/jobs/{job['id']}", headers=api.headers("root"))
    assert listed.status_code == 200 and shown.status_code == 200
    [item] = listed.json()["items"]
    assert item["rejected"] == 1 and item["rejections"] == [] and item == shown.json()
    assert item["warnings"][0].startswith("the rejected rows cannot be shown: their file cannot be read (UnicodeDecodeError")


# --- who may ------------------------------------------------------------------------------------------------------


def test_a_role_that_may_not_create_cannot_import_and_nothing_is_kept(api):
    refused = upload(api, "vera", dry_run="true")
    assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
    assert "may not create account records" in refused.json()["message"]
    assert uploads_kept(api) == [] and recent_jobs(api.world.runtime, None, 10) == []
    assert audit_rows(api, "permission.denied")[0]["detail"]["path"] == "/api/imports/account"


def test_nobody_else_sees_or_runs_my_job_but_an_admin(api):
    job = finished(api, "alice", upload(api, "alice"))
    for path in (f"/api/imports/jobs/{job['id']}", f"/api/imports/jobs/{job['id']}/rejected"):
        answer = api.get("bob", path)
        assert answer.status_code == 404 and answer.json()["error"] == "not_found" and f"no import job {job['id']}" in answer.json()["message"]
    assert api.post("bob", f"/api/imports/jobs/{job['id']}/run").status_code == 404
    assert api.get("bob", "/api/imports/jobs").json()["items"] == []
    assert api.get("root", f"/api/imports/jobs/{job['id']}").json()["created_by_name"] == "alice"
    assert api.get("alice", f"/api/imports/jobs/{job['id']}").status_code == 200


# --- bad input: a clear 4xx, nothing written --------------------------------------------------------------------


BAD_UPLOADS = [
    # (what is sent, status, error, words in the message, the part the errors name)
    ({"content": None, "dry_run": "false"}, 400, "bad_request", "no 'file' part", "file"),
    ({"content": b""}, 400, "bad_request", "'accounts.csv' is empty", "file"),
    ({"filename": "accounts.pdf"}, 400, "bad_request", "not a CSV or XLSX file", "file"),
    ({"filename": "accounts.xlsx", "content": b"Name\nAcme\n"}, 422, "invalid_file", "accounts.xlsx: not a readable XLSX file", "file"),
    ({"mapping": {"columns": {"Company": "nmae"}}}, 422, "invalid_mapping", "column 'Company': 'nmae' is not a field of account", "mapping"),
    ({"mapping": {"columns": {"Firm": "name"}}}, 422, "invalid_mapping", "the column 'Firm', which the file does not have", "mapping"),
    ({"mapping": {"object": "contact"}}, 422, "invalid_mapping", "the mapping is for the object 'contact'", "mapping"),
    ({"mapping": {"colums": {}}}, 422, "invalid_mapping", "'colums' was unexpected", "mapping"),
    ({"mapping": "{\"columns\": "}, 400, "invalid_json", "mapping: not valid JSON", "mapping"),
    ({"options": "{dry_run: false"}, 400, "invalid_json", "options: not valid JSON", "options"),
    ({"options": "[1, 2]"}, 400, "bad_request", "must be a JSON object", "options"),
    ({"options": {"dryrun": False}}, 400, "bad_request", "did you mean 'dry_run'", "options"),
    ({"options": {"dry_run": False}, "dry_run": "false"}, 400, "bad_request", "'dry_run' is given twice", "dry_run"),
    ({"dryrun": "false"}, 400, "bad_request", "a part 'dryrun'", "dryrun"),
    ({"dry_run": "maybe"}, 400, "bad_request", "dry_run: 'maybe' is not true or false", "dry_run"),
    ({"batch_size": "0"}, 400, "bad_request", "batch_size: '0' is not a whole number from 1", "batch_size"),
    ({"encoding": "klingon"}, 400, "bad_request", "encoding: 'klingon' is not an encoding", "encoding"),
    ({"content": "Société,Staff\nAcme,1\n".encode(), "encoding": "ascii"}, 422, "invalid_file", "ascii", "file"),
    ({"duplicates": [{"match": ["name"], "then": "merge"}]}, 400, "bad_request", "duplicates/0/then: 'merge' is not one of", "duplicates"),
    ({"duplicates": [{"match": ["email"], "then": "skip"}]}, 422, "invalid_mapping", "duplicate rule 1: email is not filled", "duplicates"),
    ({"object_name": "gizmo"}, 404, "not_found", "gizmo", None),
]


@pytest.mark.parametrize("sent, status, error, words, part", BAD_UPLOADS, ids=[w for _s, _st, _e, w, _p in BAD_UPLOADS])
def test_a_bad_upload_is_refused_with_its_place_named_and_nothing_written(api, sent, status, error, words, part):
    before = accounts(api)
    response = upload(api, "root", **sent)
    body = response.json()
    assert (response.status_code, body["error"]) == (status, error), response.text
    assert body["status"] == status and words in body["message"], body["message"]
    if part is not None:
        assert part in {e["parameter"] for e in body["errors"]}
    assert str(api.world.runtime.settings.files_path().absolute()) not in response.text
    assert accounts(api) == before and uploads_kept(api) == [] and recent_jobs(api.world.runtime, None, 10) == []
    assert audit_rows(api, "import") == []


def test_a_body_that_is_not_a_multipart_form_is_refused(api):
    response = api.post("root", "/api/imports/account", json={"file": "Name\nAcme\n"})
    assert response.status_code == 400 and "multipart/form-data" in response.json()["message"]
    text_file = api.post("root", "/api/imports/account", files={"file": (None, "Name\nAcme\n")})
    assert text_file.status_code == 400 and "is text, not a file" in text_file.json()["message"]
    assert uploads_kept(api) == []


@pytest.mark.parametrize("job_id, status", [("abc", 400), ("0", 400), ("-1", 400), ("99999999999999999999", 400), ("424242", 404)])
def test_a_bad_or_unknown_job_id_is_refused(api, job_id, status):
    for method, path in (("get", f"/api/imports/jobs/{job_id}"), ("get", f"/api/imports/jobs/{job_id}/rejected"),
                         ("post", f"/api/imports/jobs/{job_id}/run")):
        response = getattr(api, method)("alice", path)
        assert response.status_code == status and response.json()["status"] == status
        assert job_id in response.json()["message"]


# --- exports ----------------------------------------------------------------------------------------------------


@pytest.fixture
def formulas(api):
    api.world.runtime.records.create(Actor.system(), "account", {
        "name": "=1+1", "billing_city": "@SUM(A1)", "billing_state": "-2", "employees": 7, "account_number": "SECRET-formula", "owner": api.world.users["alice"]})


def test_the_csv_export_uses_core_exports_with_formulas_inert_and_hidden_fields_absent(api, formulas):
    response = api.get("alice", "/api/export/account?sort=name")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == 'attachment; filename="account.csv"'
    header, *rows = read_csv(response.text)
    assert "account_number" not in header and "SECRET" not in response.text and "annual_revenue" in header
    assert [row[header.index("name")] for row in rows] == ["'=1+1", "Alice Industries"]
    formula = rows[0]
    assert formula[header.index("billing_city")] == "'@SUM(A1)" and formula[header.index("billing_state")] == "'-2"
    assert formula[header.index("employees")] == "7"


def test_the_xlsx_export_is_a_workbook_with_formulas_inert_and_hidden_fields_absent(api, formulas, tmp_path):
    response = api.get("alice", "/api/export/account?format=xlsx&sort=name")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert 'filename="account.xlsx"' in response.headers["content-disposition"]
    (tmp_path / "out.xlsx").write_bytes(response.content)
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx").active
    header, *rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert "account_number" not in header and "annual_revenue" in header
    assert [row[header.index("name")] for row in rows] == ["'=1+1", "Alice Industries"]
    assert rows[0][header.index("employees")] == 7 and rows[0][header.index("billing_state")] == "'-2" and sheet.cell(2, header.index("name") + 1).data_type == "s"
    assert [r["detail"] for r in audit_rows(api, "export")] == [{"format": "xlsx", "query": {"sort": "name"}}]


def test_an_export_for_people_has_labels_in_their_language_and_one_for_imports_keeps_names_and_codes(api, formulas, tmp_path):
    runtime = api.world.runtime
    alice = runtime.records.get(Actor.system(), "account", api.world.accounts["alice"])
    runtime.records.update(Actor.system(), "account", alice["id"], {"account_type": "customer"}, version=alice["version"])
    chinese = read_csv(api.get("alice", "/api/export/account?sort=name&labels=zh-CN").text)
    header, rows = chinese[0], chinese[1:]
    assert "客户名称" in header and "name" not in header and "SECRET" not in str(chinese)
    assert rows[1][header.index("客户类型")] == "正式客户" and rows[1][header.index("客户名称")] == "Alice Industries"
    assert rows[0][header.index("客户名称")] == "'=1+1"  # still inert
    english = read_csv(api.get("alice", "/api/export/account?sort=name&labels=en").text)
    assert english[2][english[0].index("Type")] == "Customer"
    plain = read_csv(api.get("alice", "/api/export/account?sort=name").text)
    assert plain[2][plain[0].index("account_type")] == "customer"
    workbook = api.get("alice", "/api/export/account?sort=name&labels=zh-CN&format=xlsx")
    (tmp_path / "zh.xlsx").write_bytes(workbook.content)
    sheet = [list(r) for r in openpyxl.load_workbook(tmp_path / "zh.xlsx").active.iter_rows(values_only=True)]
    assert sheet[2][sheet[0].index("客户类型")] == "正式客户"
    refused = api.get("alice", "/api/export/account?labels=fr")
    assert refused.status_code == 400 and "labels: 'fr'" in refused.json()["message"]


@pytest.mark.parametrize("query, words", [("colour=red", "colour"), ("format=pdf", "format: 'pdf'"), ("account_number=x", "account_number")])
def test_a_bad_export_is_refused_before_the_download_starts(api, query, words):
    for fmt in ("", "&format=xlsx"):
        response = api.get("alice", f"/api/export/account?{query}{fmt if 'format' not in query else ''}")
        assert response.status_code == 400 and response.json()["error"] == "invalid_query" and words in response.json()["message"]
    assert audit_rows(api, "export") == []


def test_a_browser_session_exports_through_the_list_page_link_and_uploads_with_its_csrf_token(api):
    client = api.client
    client.get("/api/auth/csrf")
    signed_in = client.post("/api/auth/login", json={"username": "alice", "password": "correct horse battery"},
                            headers={"X-CSRFToken": client.cookies.get("csrftoken")})
    assert signed_in.status_code == 200, signed_in.text
    response = client.get("/api/export/account?name__contains=alice")
    assert response.status_code == 200 and [r[1] for r in read_csv(response.text)[1:]] == ["Alice Industries"]
    started = client.post("/api/imports/account", files={"file": ("accounts.csv", CSV)},
                          headers={"X-CSRFToken": client.cookies.get("csrftoken")})
    assert finished(api, "alice", started)["created_by_name"] == "alice"
    assert client.post("/api/imports/account", files={"file": ("accounts.csv", CSV)}).status_code == 403  # no CSRF token


def test_an_upload_over_the_limit_is_refused_with_the_upload_limit_named(api):
    body = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.csv"\r\n\r\nName\r\nAcme\r\n--b--\r\n'
    headers = {"Content-Type": "multipart/form-data; boundary=b", "Content-Length": str(MAX_IMPORT_BYTES + 1)}
    response = api.post("root", "/api/imports/account", content=body, headers=headers)
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert f"at most {MAX_IMPORT_BYTES:,} bytes" in response.json()["message"] and uploads_kept(api) == []
