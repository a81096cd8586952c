"""Imports and exports: real files in tmp_path, the record service underneath, the CLI run for real."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook

from access_world import build_world
from core.exports import export
from core.hookspecs import hookimpl
from core.imports import ImportFailed, ImportOptions, MappingError, SourceError, describe_job, run_import
from core.plugins import Refusal
from core.records import Actor

TESSERA = str(Path(sys.executable).with_name("tessera"))
SYSTEM = Actor.system()


def write_csv(path: Path, rows: list[list], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as file:
        csv.writer(file).writerows(rows)
    return path


def read_csv(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as file:
        return list(csv.reader(file))


def cli(*args, database: str, cwd: Path):
    return subprocess.run([TESSERA, "--database", database, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=300)


def accounts(runtime) -> dict[str, dict]:
    return {a["name"]: a for a in runtime.records.each(SYSTEM, "account")}


def options(tmp_path: Path, **kwargs) -> ImportOptions:
    return ImportOptions(rejected_path=tmp_path / "rejected.csv", **kwargs)


def test_columns_map_by_name_or_label_in_either_language_and_values_are_transformed(runtime, tmp_path):
    file = write_csv(tmp_path / "accounts.csv", [
        ["客户名称", "Industry", "employees", "Year Established", "annual revenue", "Website", "unknown column"],
        ["  Acme  ", "Technology", "1,200", "1996", "$1,100.04", "https://acme.example", "x"],
        ["Globex", "金融", "12", "2001.0", "7", "", "y"],
        ["Initech", "technolgy", "3", "1990", "1", "", "z"],
    ])
    report = run_import(runtime, SYSTEM, "account", file, options(tmp_path))
    assert report.columns == [("客户名称", "name"), ("Industry", "industry"), ("employees", "employees"),
                              ("Year Established", "year_established"), ("annual revenue", "annual_revenue"), ("Website", "website")]
    assert report.ignored == ["unknown column"]
    assert (report.created, report.rejected) == (2, 1)
    assert report.rejections[0].row == 4
    assert "industry (column 'Industry'): 'technolgy' is not one of the values" in report.rejections[0].reason
    assert "did you mean 'technology'" in report.rejections[0].reason
    stored = accounts(runtime)
    assert stored["Acme"]["industry"] == "technology" and stored["Acme"]["employees"] == 1200
    assert stored["Acme"]["annual_revenue"] == 1100.04
    assert stored["Globex"]["industry"] == "finance" and stored["Globex"]["year_established"] == 2001

    mapping = {"columns": {"Industry": {"field": "industry", "values": {"technolgy": "technology"}}, "unknown column": None}}
    again = run_import(runtime, SYSTEM, "account", file, options(tmp_path, mapping=mapping, duplicates=[{"match": ["name"], "then": "skip"}]))
    assert (again.created, again.skipped, again.rejected) == (1, 2, 0)
    assert accounts(runtime)["Initech"]["industry"] == "technology"


def test_an_import_leaves_the_planner_statistics_of_its_table_fresh(runtime, tmp_path):
    """So that the next list of the imported records is planned on what the table now holds."""
    file = write_csv(tmp_path / "accounts.csv", [["name"], *[[f"Account {i}"] for i in range(50)]])
    assert run_import(runtime, SYSTEM, "account", file, options(tmp_path)).created == 50
    with runtime.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            analyzed = conn.exec_driver_sql("SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'account'").scalar()
        else:
            analyzed = conn.exec_driver_sql("SELECT count(*) FROM pg_stat_user_tables WHERE relname = 'account' "
                                            "AND last_analyze IS NOT NULL").scalar()
    assert analyzed


def test_a_dry_run_reports_every_row_and_writes_nothing(runtime, tmp_path):
    file = write_csv(tmp_path / "contacts.csv", [
        ["last_name", "email", "birthday", "account"],
        ["Li", "li@example.com", "1990-01-31", ""],
        ["", "no-name@example.com", "", ""],
        ["Wang", "not an address", "31/01/1990", "Nowhere Ltd"],
        ["Zhao", "zhao@example.com", "", ""],
    ])
    dry = run_import(runtime, SYSTEM, "contact", file, options(tmp_path, dry_run=True))
    assert (dry.created, dry.updated, dry.skipped, dry.rejected) == (2, 0, 0, 2)
    assert runtime.records.list(SYSTEM, "contact").items == []
    reasons = {r.row: r.reason for r in dry.rejections}
    assert reasons[3] == "last_name: is required"
    assert "account: no account has the name 'Nowhere Ltd'" in reasons[4]
    assert "birthday: '31/01/1990' is not a date in any of the formats YYYY-MM-DD" in reasons[4]
    assert "email: must be an e-mail address" in reasons[4]
    rejected = read_csv(tmp_path / "rejected.csv")
    assert rejected[0] == ["last_name", "email", "birthday", "account", "reason"]
    assert rejected[1][:4] == ["", "no-name@example.com", "", ""] and rejected[1][4] == "last_name: is required"
    job = describe_job(runtime.engine, dry.job_id)
    assert job["dry_run"] and job["status"] == "done" and job["created"] == 2 and job["rejected"] == 2

    run = run_import(runtime, SYSTEM, "contact", file, options(tmp_path))
    assert (run.created, run.rejected) == (2, 2)
    assert sorted(c["last_name"] for c in runtime.records.each(SYSTEM, "contact")) == ["Li", "Zhao"]
    assert len(read_csv(tmp_path / "rejected.csv")) == 3


def test_date_formats_and_lookups_by_name_external_id_and_id(runtime, tmp_path):
    for name, number in (("Acme", "A-1"), ("Twin", "T-1"), ("Twin", "T-2")):
        runtime.records.create(SYSTEM, "account", {"name": name, "account_number": number})
    acme_id = accounts(runtime)["Acme"]["id"]
    file = write_csv(tmp_path / "contacts.csv", [
        ["last_name", "birthday", "by name", "by number", "by id"],
        ["One", "2001-02-03", "Acme", "", ""],
        ["Two", "03/02/2001", "", "T-2", ""],
        ["Three", "2001年2月3日", "", "", str(acme_id)],
        ["Four", "2001/02/03", "Twin", "", ""],
        ["Five", "3.2.2001", "", "", "99999"],
    ])
    mapping = {"columns": {"by name": "account", "by number": {"field": "account", "match": "account_number"},
                           "by id": {"field": "account", "match": "id"}},
               "date_formats": ["DD/MM/YYYY", "%d.%m.%Y"]}
    with pytest.raises(MappingError, match="columns 'by name' and 'by number' both fill the field 'account'"):
        run_import(runtime, SYSTEM, "contact", file, options(tmp_path, mapping=mapping))
    for column in ("by number", "by id"):
        single = {**mapping, "columns": {**{c: None for c in ("by name", "by number", "by id")}, column: mapping["columns"][column]}}
        run_import(runtime, SYSTEM, "contact", file, options(tmp_path, mapping=single))
    mapping["columns"].update({"by number": None, "by id": None})
    report = run_import(runtime, SYSTEM, "contact", file, options(tmp_path, mapping=mapping))
    contacts = {}
    for c in runtime.records.each(SYSTEM, "contact"):
        contacts.setdefault(c["last_name"], []).append(c)
    assert {c["birthday"] for group in contacts.values() for c in group} == {"2001-02-03"}
    assert [c["account"]["label"] for c in contacts["One"] if c.get("account")] == ["Acme"]
    assert [c["account"]["id"] for c in contacts["Three"] if c.get("account")] == [acme_id]
    assert any((c.get("account") or {}).get("label") == "Twin" for c in contacts["Two"])
    assert "account (column 'by name'): 'Twin' is the name of 2 account records" in report.rejections[0].reason
    assert report.rejections[0].row == 5


def test_rows_may_refer_to_rows_later_in_the_same_file(runtime, tmp_path):
    file = write_csv(tmp_path / "accounts.csv", [
        ["name", "parent_account"],
        ["Child", "Parent"],
        ["Grandchild", "Child"],
        ["Orphan", "Missing Parent"],
        ["Other", ""],
        ["Parent", ""],
    ])
    dry = run_import(runtime, SYSTEM, "account", file, options(tmp_path, dry_run=True, batch_size=2))
    assert (dry.created, dry.rejected) == (4, 1)
    report = run_import(runtime, SYSTEM, "account", file, options(tmp_path, batch_size=2))
    assert (report.created, report.rejected, report.warnings) == (4, 1, [])
    assert "no account has the name 'Missing Parent'" in report.rejections[0].reason
    stored = accounts(runtime)
    assert stored["Child"]["parent_account"]["id"] == stored["Parent"]["id"]
    assert stored["Grandchild"]["parent_account"]["id"] == stored["Child"]["id"]
    assert describe_job(runtime.engine, report.job_id)["pending"] == []


def test_upsert_by_a_key_and_duplicates_within_the_file(runtime, tmp_path):
    runtime.records.create(SYSTEM, "contact", {"last_name": "Old", "email": "a@example.com", "title": "CEO"})
    file = write_csv(tmp_path / "contacts.csv", [
        ["email", "last_name", "title"],
        ["a@example.com", "Updated", ""],
        ["b@example.com", "New", "CTO"],
        ["b@example.com", "New again", ""],
        ["c@example.com", "Third", ""],
    ])
    rule = [{"match": ["email"], "then": "update"}]
    dry = run_import(runtime, SYSTEM, "contact", file, options(tmp_path, duplicates=rule, dry_run=True))
    assert (dry.created, dry.updated) == (2, 2)
    report = run_import(runtime, SYSTEM, "contact", file, options(tmp_path, duplicates=rule))
    assert (report.created, report.updated, report.rejected) == (2, 2, 0)
    stored = {c["email"]: c for c in runtime.records.each(SYSTEM, "contact")}
    assert len(stored) == 3
    assert stored["a@example.com"]["last_name"] == "Updated" and stored["a@example.com"]["title"] == "CEO"  # a blank cell changes nothing
    assert stored["b@example.com"]["last_name"] == "New again" and stored["b@example.com"]["title"] == "CTO"

    skip = run_import(runtime, SYSTEM, "contact", file, options(tmp_path, duplicates=[{"match": ["email"], "then": "skip"}]))
    assert (skip.created, skip.skipped) == (0, 4)
    create = run_import(runtime, SYSTEM, "contact", file, options(tmp_path, duplicates=[{"match": ["email"], "then": "create"}]))
    assert create.created == 4
    twice = run_import(runtime, SYSTEM, "contact", file, options(tmp_path, duplicates=rule))
    assert twice.rejected == 4 and "matches 2 contact records by email" in twice.rejections[0].reason
    with pytest.raises(MappingError, match="duplicate rule 1: phone is not filled by any column"):
        run_import(runtime, SYSTEM, "contact", file, options(tmp_path, duplicates=[{"match": ["phone"], "then": "skip"}]))


def test_an_interrupted_run_resumes_after_its_last_batch_without_duplicates(runtime, tmp_path):
    rows = [["name", "employees"]] + [[f"Company {i:03}", "x" if i % 10 == 0 else str(i)] for i in range(1, 101)]
    file = write_csv(tmp_path / "accounts.csv", rows)
    batches = []

    def stop_after_three(report):
        batches.append(report.last_row)
        if len(batches) == 4:  # progress is called once before the first batch, then after each
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_import(runtime, SYSTEM, "account", file, options(tmp_path, batch_size=20), stop_after_three)
    assert batches == [1, 21, 41, 61]
    assert len(accounts(runtime)) == 54  # three batches of 20 rows, 2 of each rejected
    job = describe_job(runtime.engine, 1)
    assert (job["status"], job["next_row"], job["created"], job["rejected"]) == ("interrupted", 62, 54, 6)

    resumed = run_import(runtime, SYSTEM, "account", file, options(tmp_path, batch_size=20))
    assert resumed.job_id == 1 and resumed.resumed_from == 62
    assert (resumed.created, resumed.rejected) == (90, 10)
    assert len(accounts(runtime)) == 90
    rejected = read_csv(tmp_path / "rejected.csv")
    assert [r[0] for r in rejected[1:]] == [f"Company {i:03}" for i in range(10, 101, 10)]
    assert rejected[1][2].startswith("employees: must be a whole number")

    again = run_import(runtime, SYSTEM, "account", file, options(tmp_path, batch_size=20, duplicates=[{"match": ["name"], "then": "skip"}]))
    assert again.job_id != 1 and again.skipped == 90


def test_bad_files_get_a_message_naming_the_place(runtime, tmp_path):
    gbk = write_csv(tmp_path / "gbk.csv", [["客户名称", "行业"], ["华为", "technology"], ["腾讯", "金融"]], encoding="gbk")
    report = run_import(runtime, SYSTEM, "account", gbk, options(tmp_path))
    assert report.created == 2 and {"华为", "腾讯"} <= set(accounts(runtime))
    bom = write_csv(tmp_path / "bom.csv", [["name", "industry"], ["Bom Ltd", "retail"]], encoding="utf-8-sig")
    assert run_import(runtime, SYSTEM, "account", bom, options(tmp_path)).columns[0] == ("name", "name")

    ragged = write_csv(tmp_path / "ragged.csv", [["name", "industry"], ["Too Many", "retail", "extra"], ["Too Few"],
                                                  ["Trailing Empty", "retail", ""], ["Huge", "x" * 300_000]])
    report = run_import(runtime, SYSTEM, "account", ragged, options(tmp_path))
    reasons = {r.row: r.reason for r in report.rejections}
    assert reasons[2] == "the row has 3 cells but the header has 2 columns"
    assert reasons[3] == "the row has 1 cells but the header has 2 columns"
    assert reasons[5] == "column 'industry' (column 2): the cell has 300,000 characters; a cell may have at most 131,072"
    assert report.created == 1
    assert read_csv(tmp_path / "rejected.csv")[-1][:2] == ["Huge", "x" * 300_000]  # kept whole, to be fixed

    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(SourceError, match="broken.xlsx: not a readable XLSX file"):
        run_import(runtime, SYSTEM, "account", broken, options(tmp_path))
    latin = tmp_path / "latin.csv"
    latin.write_bytes("name\nCaf\xe9 \xff\xfe\n".encode("latin-1"))
    with pytest.raises(SourceError, match="line 2: byte 8 is neither UTF-8 nor GBK"):
        run_import(runtime, SYSTEM, "account", latin, options(tmp_path))
    assert run_import(runtime, SYSTEM, "account", latin, options(tmp_path, encoding="latin-1")).created == 1
    many = tmp_path / "many.csv"  # a bad byte far past the first read-ahead buffer is named exactly
    many.write_bytes(("name\n" + "".join(f"Row {i}\n" for i in range(20_000))).encode() + "Müller\n".encode("latin-1"))
    with pytest.raises(SourceError, match=r"line 20002: byte \d+ is not utf-8 text; name its encoding \(Encoding in the import wizard"):
        run_import(runtime, SYSTEM, "account", many, options(tmp_path, encoding="utf-8"))
    with pytest.raises(SourceError, match="'klingon' is not an encoding this server knows"):
        run_import(runtime, SYSTEM, "account", many, options(tmp_path, encoding="klingon"))
    assert "Row 1" not in accounts(runtime)
    unclosed = tmp_path / "unclosed.csv"
    unclosed.write_text('name\nok\n"open quote\n' + "y" * (10 * 2**20 + 10) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match=r"row 3: a cell is longer than 10,485,760 characters; a quote .*rows up to 2 are done"):
        run_import(runtime, SYSTEM, "account", unclosed, options(tmp_path, batch_size=1))
    assert "ok" in accounts(runtime)

    with pytest.raises(MappingError) as refused:
        run_import(runtime, SYSTEM, "account", bom, options(tmp_path, mapping={"object": "account", "columns": {
            "name": "nmae", "industry": {"field": "parent_account", "match": "nickname"}, "missing": "name"}}))
    assert [str(problem) for problem in refused.value.problems] == [
        "the mapping names the column 'missing', which the file does not have",
        "column 'name': 'nmae' is not a field of account (did you mean 'name'?)",
        "column 'industry': parent_account finds account records by 'nickname', which is not a field of account (did you mean 'name'?)",
    ]
    with pytest.raises(MappingError, match="the mapping is for the object 'contact', not 'account'"):
        run_import(runtime, SYSTEM, "account", bom, options(tmp_path, mapping={"object": "contact"}))


def test_xlsx_import_and_export_round_trip_with_inert_formulas(runtime, tmp_path):
    book = Workbook()
    sheet = book.active
    sheet.append(["Account Name", "Employees", "Description", None])
    sheet.append(["+Plus Corp", 12.0, "@SUM(A1)", None])
    sheet.append(["Plain", 3, "-negative text", None])
    sheet.append([None, None, None, None])
    book.save(tmp_path / "in.xlsx")
    report = run_import(runtime, SYSTEM, "account", tmp_path / "in.xlsx", options(tmp_path))
    assert (report.created, report.rejected) == (2, 0)
    assert accounts(runtime)["Plain"]["employees"] == 3

    assert export(runtime, SYSTEM, "account", tmp_path / "out.xlsx", [("sort", "name")]) == 2
    rows = list(load_workbook(tmp_path / "out.xlsx", read_only=True).active.iter_rows(values_only=True))
    header = list(rows[0])
    assert header[:3] == ["id", "name", "account_number"] and "owner" in header
    name, employees, description = header.index("name"), header.index("employees"), header.index("description")
    assert rows[1][name] == "'+Plus Corp" and rows[1][description] == "'@SUM(A1)" and rows[1][employees] == 12
    assert rows[2][description] == "'-negative text"

    runtime.records.create(SYSTEM, "account", {"name": '=HYPERLINK("http://evil")', "employees": 7})
    assert export(runtime, SYSTEM, "account", tmp_path / "out.csv", [("name__startswith", "=")]) == 1
    exported = read_csv(tmp_path / "out.csv")
    assert exported[1][exported[0].index("name")] == "'=HYPERLINK(\"http://evil\")"
    assert exported[1][exported[0].index("employees")] == "7"


def test_permissions_apply_to_imports_and_exports(runtime, tmp_path):
    world = build_world(runtime)
    alice, vera = world.actor("alice"), world.actor("vera")
    export(runtime, alice, "account", tmp_path / "alice.csv")
    exported = read_csv(tmp_path / "alice.csv")
    assert "account_number" not in exported[0] and "annual_revenue" in exported[0]
    assert [row[exported[0].index("name")] for row in exported[1:]] == ["Alice Industries"]
    assert "SECRET" not in (tmp_path / "alice.csv").read_text(encoding="utf-8-sig")

    file = write_csv(tmp_path / "accounts.csv", [["name", "account_number", "parent_account"], ["Mine", "N-1", "Bob Industries"]])
    with pytest.raises(MappingError, match="column 'account_number': 'account_number' is not a field of account"):
        run_import(runtime, alice, "account", file, options(tmp_path, mapping={"columns": {"account_number": "account_number"}}))
    report = run_import(runtime, alice, "account", file, options(tmp_path))
    assert report.ignored == ["account_number"]  # a hidden field is not matched automatically either
    assert "parent_account: no account has the name 'Bob Industries'" in report.rejections[0].reason  # not hers to see
    with pytest.raises(Exception, match="your role may not create account records"):
        run_import(runtime, vera, "account", file, options(tmp_path))


class Hooks:
    def __init__(self) -> None:
        self.created = []

    @hookimpl
    def tessera_before_create(self, event):
        if event.object == "account" and event.values.get("name") == "Forbidden":
            raise Refusal("this name is not allowed", field="name")

    @hookimpl
    def tessera_after_create(self, event):
        self.created.append(event.record["name"])


def test_record_hooks_apply_and_are_not_looked_up_per_row(runtime, tmp_path):
    file = write_csv(tmp_path / "accounts.csv", [["name"]] + [[f"A{i}"] for i in range(50)] + [["Forbidden"]])
    asked = []
    caller = runtime.plugins.caller
    runtime.plugins.caller = lambda hook, obj: asked.append(hook) or caller(hook, obj)
    report = run_import(runtime, SYSTEM, "account", file, options(tmp_path, batch_size=10))
    assert report.created == 51 and asked.count("tessera_before_create") == 6  # once per batch

    hooks = Hooks()
    runtime.plugins.manager.register(hooks, name="import-hooks")
    other = write_csv(tmp_path / "more.csv", [["name"], ["B1"], ["Forbidden"], ["B2"]])
    report = run_import(runtime, SYSTEM, "account", other, options(tmp_path))
    assert report.created == 2 and report.rejections[0].reason == "name: this name is not allowed"
    assert hooks.created == ["B1", "B2"]


def test_the_cli_imports_with_a_mapping_and_exports_with_filters(database_url, tmp_path):
    file = write_csv(tmp_path / "accounts.csv", [["Company", "Sector"], ["Acme", "technolgy"], ["Zeta", "retail"], ["", "retail"]])
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"format": "tessera-import-mapping/1", "columns": {
        "Company": "name", "Sector": {"field": "industry", "values": {"technolgy": "technology"}}}}), encoding="utf-8")
    dry = cli("import", "account", file, "--mapping", mapping, "--dry-run", database=database_url, cwd=tmp_path)
    assert dry.returncode == 1, dry.stderr
    assert "Columns: Company -> name; Sector -> industry" in dry.stdout
    assert "nothing was written: would create 2, would update 0, would skip 0, rejected 1." in dry.stdout
    assert "row 4: name (column 'Company'): is required" in dry.stdout
    assert f"are in {tmp_path / 'accounts.csv.rejected.csv'}" in dry.stdout
    run = cli("import", "account", file, "--mapping", mapping, "--key", "name", database=database_url, cwd=tmp_path)
    assert run.returncode == 1 and "created 2, updated 0, skipped 0, rejected 1" in run.stdout
    again = cli("import", "account", file, "--mapping", mapping, "--key", "name", "--on-duplicate", "skip", database=database_url, cwd=tmp_path)
    assert "created 0, updated 0, skipped 2, rejected 1" in again.stdout

    out = cli("export", "account", tmp_path / "tech.csv", "industry=technology", database=database_url, cwd=tmp_path)
    assert out.returncode == 0 and "Exported 1 account record(s)" in out.stdout
    assert read_csv(tmp_path / "tech.csv")[1][1] == "Acme"
    bad = cli("export", "account", tmp_path / "x.csv", "industri=technology", database=database_url, cwd=tmp_path)
    assert bad.returncode == 2 and "'industri' is not a field of account (did you mean 'industry'?)" in bad.stderr
    assert not (tmp_path / "x.csv").exists()
    for args, message in [
        (("import", "acount", file), "there is no object 'acount' (did you mean 'account'?)"),
        (("import", "account", tmp_path / "none.csv"), "none.csv: there is no such file"),
        (("import", "account", file, "--mapping", write_csv(tmp_path / "bad.json", [["{"]])), "bad.json: malformed JSON at line"),
        (("export", "account", tmp_path / "x.csv", "stage"), "'stage' is not a filter"),
    ]:
        result = cli(*args, database=database_url, cwd=tmp_path)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_the_cli_writes_no_rejected_rows_file_when_nothing_is_rejected_and_exports_to_standard_output(database_url, tmp_path):
    left = tmp_path / "clean.csv.rejected.csv"
    left.write_text("name,reason\nOld,from an earlier run\n", encoding="utf-8")
    file = write_csv(tmp_path / "clean.csv", [["name", "industry"], ["Acme", "technology"], ["Zeta", "retail"]])
    run = cli("import", "account", file, database=database_url, cwd=tmp_path)
    assert run.returncode == 0 and "created 2, updated 0, skipped 0, rejected 0" in run.stdout, run.stdout + run.stderr
    assert "rejected.csv" not in run.stdout and not left.exists()  # no rejected rows, so no file (and none from before)

    out = cli("export", "account", "-", "sort=name", database=database_url, cwd=tmp_path)
    assert out.returncode == 0 and "Exported 2 account record(s) to standard output." in out.stderr, out.stderr
    rows = list(csv.reader(out.stdout.lstrip("\ufeff").splitlines()))
    assert rows[0][:2] == ["id", "name"] and [r[1] for r in rows[1:]] == ["Acme", "Zeta"]
    xlsx = subprocess.run([TESSERA, "--database", database_url, "export", "account", "-", "--format", "xlsx"], capture_output=True,
                          cwd=tmp_path, timeout=300)
    assert xlsx.returncode == 0, xlsx.stderr
    sheet = load_workbook(io.BytesIO(xlsx.stdout)).active
    assert [row[1] for row in sheet.iter_rows(values_only=True)] == ["name", "Acme", "Zeta"]
    assert not (tmp_path / "-").exists()


def test_a_batch_rejects_each_bad_row_with_its_reason_and_writes_the_rest(runtime, tmp_path):
    """One batch, a bad row of each kind among good ones: each is refused with its reason, the others are
    written in the batch's single insert with the values the file gives."""
    runtime.records.create_many(SYSTEM, "account", [{"name": "Acme"}, {"name": "Globex"}])
    header = ["First Name", "Last Name", "Email", "Lead Source", "Account", "Birthday", "Do Not Call"]
    rows = [
        ["Ann", "Good 1", "ann@example.com", "Web", "Acme", "1990-05-06", "yes"],
        ["Bob", "Bad email", "bob at example", "Web", "Acme", "", ""],
        ["Cid", "No account", "", "Event", "Initech", "", ""],
        ["Dee", "Bad date", "", "", "Acme", "1990-02-31", ""],
        ["Eve", "", "eve@example.com", "", "", "", ""],
        ["Fay", "Bad source", "", "Telemarketing", "", "", ""],
        ["Gus", "Good 2", "", "客户推荐", "Globex", "2001/02/03", "no"],
        ["Hal", "Too many cells", "", "", "", "", "", "extra"],
        ["Ivy", "Bad flag", "", "", "", "", "perhaps"],
        ["Jo", "Good 3", "", "cold call", "", "", ""],
    ]
    file = write_csv(tmp_path / "contacts.csv", [header] + rows)

    report = run_import(runtime, SYSTEM, "contact", file, options(tmp_path, batch_size=100))

    assert (report.created, report.rejected) == (3, 7)
    reasons = {r.row: r.reason for r in report.rejections}
    assert reasons == {
        3: "email (column 'Email'): must be an e-mail address; got 'bob at example'",
        4: "account (column 'Account'): no account has the name 'Initech'",
        5: "birthday (column 'Birthday'): '1990-02-31' is not a date in any of the formats YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, "
           "YYYY年MM月DD日; add its format to the mapping's date_formats",
        6: "last_name (column 'Last Name'): is required",
        7: reasons[7],
        9: "the row has 8 cells but the header has 7 columns",
        10: "do_not_call (column 'Do Not Call'): 'perhaps' is not true or false (yes/no, 1/0, true/false)",
    }
    assert reasons[7].startswith("lead_source (column 'Lead Source'): 'Telemarketing' is not one of the values of lead_source")
    stored = {c["last_name"]: c for c in runtime.records.each(SYSTEM, "contact")}
    assert set(stored) == {"Good 1", "Good 2", "Good 3"}
    acme, globex = (accounts(runtime)[n]["id"] for n in ("Acme", "Globex"))
    assert {k: stored["Good 1"][k] for k in ("email", "lead_source", "birthday", "do_not_call")} == {
        "email": "ann@example.com", "lead_source": "web", "birthday": "1990-05-06", "do_not_call": True}
    assert stored["Good 1"]["account"]["id"] == acme and stored["Good 2"]["account"]["id"] == globex
    assert (stored["Good 2"]["lead_source"], stored["Good 2"]["birthday"], stored["Good 3"]["lead_source"]) == ("referral", "2001-02-03", "cold_call")
    assert stored["Good 3"]["account"] is None
    ids = [stored[n]["id"] for n in ("Good 1", "Good 2", "Good 3")]
    assert ids == sorted(ids)  # in the order of the file
    rejected = read_csv(tmp_path / "rejected.csv")
    assert [r[1] for r in rejected[1:]] == ["Bad email", "No account", "Bad date", "", "Bad source", "Too many cells", "Bad flag"]


def test_an_unreadable_row_stops_the_import_after_the_batches_before_it(runtime, tmp_path):
    """A row that cannot be read stops the import where it is, after the complete batches before it are written."""
    good = [[f"Company {i:03}"] for i in range(1, 46)]
    file = tmp_path / "accounts.csv"
    text = "\n".join(["name"] + [row[0] for row in good]) + '\n"open quote\n' + "y" * (10 * 2**20 + 10) + "\n"
    file.write_text(text, encoding="utf-8")
    seen = []

    with pytest.raises(ImportFailed, match=r"row 47: a cell is longer than 10,485,760 characters.*rows up to 41 are done"):
        run_import(runtime, SYSTEM, "account", file, options(tmp_path, batch_size=10), lambda report: seen.append(report.last_row))

    assert seen == [1, 11, 21, 31, 41]
    assert sorted(accounts(runtime)) == [f"Company {i:03}" for i in range(1, 41)]
    assert describe_job(runtime.engine, 1)["next_row"] == 42


def test_a_many_to_many_column_links_each_record_its_cell_names(make_runtime, tmp_path):
    runtime = make_runtime(plugins=("sales",))
    account = runtime.records.create(SYSTEM, "account", {"name": "Acme"})["id"]
    people = {name: runtime.records.create(SYSTEM, "contact", {"last_name": name, "email": f"{name.lower()}@acme.test"})["id"]
              for name in ("Lee", "Chen", "Wang")}
    runtime.records.create(SYSTEM, "contact", {"last_name": "Twice"})
    runtime.records.create(SYSTEM, "contact", {"last_name": "Twice"})
    file = write_csv(tmp_path / "deals.csv", [
        ["Name", "Account", "Close Date", "Contact Roles"],
        ["Big deal", "Acme", "2027-01-31", "Lee; Chen"],
        ["No people", "Acme", "2027-02-28", ""],
        ["Unknown person", "Acme", "2027-03-31", "Lee; Nobody; Ghost"],
        ["Ambiguous", "Acme", "2027-04-30", "Twice"],
        ["By e-mail", "Acme", "2027-05-31", "wang@acme.test"],
    ])
    mapping = {"columns": {"Name": "name", "Account": "account", "Close Date": "close_date", "Contact Roles": "contacts"}}
    report = run_import(runtime, SYSTEM, "opportunity", file, options(tmp_path, mapping=mapping))
    reasons = {r.row: r.reason for r in report.rejections}
    assert reasons[4] == "contacts (column 'Contact Roles'): no contact has the full_name 'Nobody', 'Ghost'"
    assert reasons[5].startswith("contacts (column 'Contact Roles'): 'Twice' is the full_name of 2 contact records")
    assert reasons.get(6, "").startswith("contacts (column 'Contact Roles'): no contact has the full_name 'wang@acme.test'")
    assert report.created == 2

    by_email = {**mapping, "columns": {**mapping["columns"], "Contact Roles": {"field": "contacts", "match": "email"}}}
    file2 = write_csv(tmp_path / "deals2.csv", [["Name", "Account", "Close Date", "Contact Roles"],
                                                ["Big deal", "Acme", "2027-01-31", "wang@acme.test；lee@acme.test"],
                                                ["By e-mail", "Acme", "2027-05-31", "wang@acme.test"]])
    again = run_import(runtime, SYSTEM, "opportunity", file2, options(tmp_path, mapping=by_email, duplicates=[{"match": ["name"], "then": "update"}]))
    assert (again.created, again.updated, again.rejected) == (1, 1, 0)
    deals = {r["name"]: r for r in runtime.records.each(SYSTEM, "opportunity", {})}
    linked = {name: sorted(link["id"] for link in runtime.records.get(SYSTEM, "opportunity", deal["id"])["contacts"])
              for name, deal in deals.items()}
    assert linked == {"Big deal": sorted([people["Wang"], people["Lee"]]), "No people": [], "By e-mail": [people["Wang"]]}
    assert {str(deal["account"]) for deal in deals.values()} == {str(deals["Big deal"]["account"])} and str(account) in str(deals["Big deal"]["account"])

    with pytest.raises(MappingError, match="duplicate rule 1: contacts links several records"):
        run_import(runtime, SYSTEM, "opportunity", file2, options(tmp_path, mapping=mapping, duplicates=[{"match": ["contacts"], "then": "skip"}]))


def test_a_file_another_process_is_importing_is_not_imported_twice_at_once(runtime, tmp_path):
    import datetime as dt

    import sqlalchemy as sa

    from core.coretables import import_job
    from core.imports.jobs import ImportBusy

    file = write_csv(tmp_path / "accounts.csv", [["name"]] + [[f"Company {i:03}"] for i in range(1, 101)])

    def stop_after_two(report):
        if report.last_row >= 41:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_import(runtime, SYSTEM, "account", file, options(tmp_path, batch_size=20), stop_after_two)

    def last_moved(ago: dt.timedelta) -> None:  # as a process still running job 1 would have left it
        with runtime.engine.begin() as conn:
            conn.execute(sa.update(import_job).values(status="running", updated_at=dt.datetime.now(dt.timezone.utc) - ago))

    last_moved(dt.timedelta(seconds=5))
    with pytest.raises(ImportBusy, match="import job 1 is importing this file right now"):
        run_import(runtime, SYSTEM, "account", file, options(tmp_path, batch_size=20))
    with pytest.raises(ImportBusy, match="import job 1 is importing this file right now"):
        run_import(runtime, SYSTEM, "account", file, options(tmp_path, batch_size=20, resume=False))
    assert len(accounts(runtime)) == 40

    last_moved(dt.timedelta(minutes=3))  # that process stopped: the run resumes after its last batch
    resumed = run_import(runtime, SYSTEM, "account", file, options(tmp_path, batch_size=20))
    assert resumed.job_id == 1 and resumed.resumed_from == 42 and len(accounts(runtime)) == 100
    dry = run_import(runtime, SYSTEM, "account", file, options(tmp_path, dry_run=True))  # a check never waits for a run
    assert dry.created == 100


def test_an_import_collects_garbage_less_often_while_it_runs_and_puts_the_setting_back(runtime, tmp_path):
    import gc  # noqa: PLC0415 - only this test looks at the collector

    from core.imports.runner import FEWER_COLLECTIONS  # noqa: PLC0415

    file = write_csv(tmp_path / "accounts.csv", [["name"], ["Acme"], ["Globex"]])
    before = gc.get_threshold()
    seen = []
    report = run_import(runtime, SYSTEM, "account", file, options(tmp_path, batch_size=1),
                        progress=lambda _report: seen.append(gc.get_threshold()))
    assert report.created == 2
    assert seen[-1] == (FEWER_COLLECTIONS.BULK_THRESHOLD, *before[1:])  # after each batch, while the import runs
    assert gc.get_threshold() == before

    def refuse(_report):
        if _report.created:
            raise RuntimeError("stopped by the progress callback")

    with pytest.raises(ImportFailed, match="stopped by the progress callback"):
        run_import(runtime, SYSTEM, "account", write_csv(tmp_path / "more.csv", [["name"], ["Initech"], ["Hooli"]]),
                   options(tmp_path, batch_size=1), progress=refuse)
    assert gc.get_threshold() == before  # also when an import stops with an error
