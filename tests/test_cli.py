"""The `tessera` command as a user runs it: a real process, real files, real databases."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from sqlalchemy import create_engine, inspect

from helpers import changeset, label

TESSERA = str(Path(sys.executable).with_name("tessera"))


def run(*args, cwd=None, database=None, stdin=None):
    command = [TESSERA] + (["--database", database] if database else []) + list(args)
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd, input=stdin, timeout=300)


def write(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


GADGET = {
    "name": "gadget",
    "label": label("Gadget", "小工具"),
    "fields": [
        {"name": "title", "type": "text", "label": label("Title", "标题"), "required": True},
        {"name": "units", "type": "integer", "label": label("Units", "数量")},
        {"name": "price", "type": "currency", "label": label("Price", "价格")},
    ],
}


def test_help_lists_the_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("db", "metadata", "demo"):
        assert command in result.stdout
    metadata_help = run("metadata", "--help").stdout
    for command in ("validate", "export", "import", "rename-field", "remove-field", "restore-field", "purge-field", "history"):
        assert command in metadata_help


def test_db_upgrade_creates_then_is_up_to_date(database_url):
    first = run("db", "upgrade", database=database_url)
    assert first.returncode == 0, first.stderr
    assert "create_table" in first.stdout
    second = run("db", "upgrade", database=database_url)
    assert second.stdout.strip() == "The database is up to date."


def test_metadata_validate_accepts_good_files_and_names_problems(tmp_path):
    good = write(tmp_path / "good.json", changeset(GADGET))
    result = run("metadata", "validate", str(good))
    assert result.returncode == 0 and "OK: 1 document(s)" in result.stdout
    bad_field = dict(GADGET, fields=[{"name": "price", "type": "curency", "label": label("Price")}])
    bad = write(tmp_path / "bad.json", changeset(bad_field))
    result = run("metadata", "validate", str(bad))
    assert result.returncode == 2
    assert f"{bad}: /objects/0/fields/0/type: 'curency' is not a field type (did you mean 'currency'?)" in result.stderr
    assert "Traceback" not in result.stderr


def test_metadata_validate_reports_malformed_json(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"format": "tessera-changeset/1", "objects": [')
    result = run("metadata", "validate", str(broken))
    assert result.returncode == 2 and "malformed JSON at line 1" in result.stderr and "Traceback" not in result.stderr


def test_import_creates_the_table_and_dry_run_does_not(database_url, tmp_path):
    file = write(tmp_path / "gadget.json", changeset(GADGET))
    dry = run("metadata", "import", str(file), "--dry-run", database=database_url)
    assert dry.returncode == 0, dry.stderr
    assert "Would apply" in dry.stdout and "create table gadget" in dry.stdout
    engine = create_engine(database_url)
    assert "gadget" not in inspect(engine).get_table_names()
    real = run("metadata", "import", str(file), database=database_url)
    assert real.returncode == 0 and "create table gadget" in real.stdout
    assert {"title", "units", "price"} <= {c["name"] for c in inspect(engine).get_columns("gadget")}
    again = run("metadata", "import", str(file), database=database_url)
    assert again.stdout.strip() == "Nothing to change: the database already matches."
    engine.dispose()


def test_refused_import_changes_nothing_and_says_why(database_url, tmp_path):
    bad = dict(GADGET, fields=GADGET["fields"] + [{"name": "maker", "type": "lookup", "target": "acount", "label": label("Maker")}])
    file = write(tmp_path / "bad.json", changeset(bad))
    result = run("metadata", "import", str(file), database=database_url)
    assert result.returncode == 2
    assert "Refused; nothing was changed" in result.stderr
    assert f"{file}: /objects/0/fields/3/target: 'acount' is not an object (did you mean 'account'?)" in result.stderr
    engine = create_engine(database_url)
    assert "gadget" not in inspect(engine).get_table_names()
    engine.dispose()


def test_export_then_import_elsewhere(database_url, tmp_path):
    file = write(tmp_path / "gadget.json", changeset(GADGET))
    assert run("metadata", "import", str(file), database=database_url).returncode == 0
    exported = tmp_path / "exported.json"
    assert run("metadata", "export", str(exported), database=database_url).returncode == 0
    data = json.loads(exported.read_text())
    assert data["format"] == "tessera-changeset/1" and data["objects"][0]["name"] == "gadget"
    other = f"sqlite:///{tmp_path / 'production.db'}"
    result = run("metadata", "import", str(exported), database=other)
    assert result.returncode == 0 and "create table gadget" in result.stdout


def test_field_lifecycle_commands(database_url, tmp_path):
    file = write(tmp_path / "gadget.json", changeset(GADGET))
    run("metadata", "import", str(file), database=database_url)
    renamed = run("metadata", "rename-field", "gadget", "units", "quantity", database=database_url)
    assert renamed.returncode == 0 and "gadget.units -> quantity" in renamed.stdout
    assert run("metadata", "remove-field", "gadget", "quantity", database=database_url).returncode == 0
    refused = run("metadata", "purge-field", "gadget", "quantity", database=database_url)
    assert refused.returncode == 2 and "--yes" in refused.stderr
    purged = run("metadata", "purge-field", "gadget", "quantity", "--yes", database=database_url)
    assert purged.returncode == 0 and "drop column gadget.quantity" in purged.stdout
    base = run("metadata", "remove-field", "account", "name", database=database_url)
    assert base.returncode == 2 and "only custom fields can be renamed or removed" in base.stderr
    history = run("metadata", "history", database=database_url)
    assert "drop column gadget.quantity (purged)" in history.stdout


def test_demo_loads_once_and_shows_what_is_there(tmp_path):
    first = run("demo", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert (tmp_path / "tessera.db").exists()
    assert "Loaded the demo data" in first.stdout and "60 account" in first.stdout
    assert "客户" in first.stdout
    second = run("demo", cwd=tmp_path)
    assert "Loaded the demo data" not in second.stdout
    assert re.search(r"account\s+Account\s+客户\s+60 records", second.stdout)


def test_a_command_that_wrote_leaves_its_changes_in_the_database_file_while_another_process_has_it_open(tmp_path):
    database = tmp_path / "shared.db"
    upgraded = run("db", "upgrade", database=f"sqlite:///{database}")
    assert upgraded.returncode == 0, upgraded.stderr
    with closing(sqlite3.connect(database)) as server:  # as a running server would, it keeps the database open
        server.execute("SELECT 1 FROM account").fetchall()
        user = run("user", "add", "lin", "--password-stdin", database=f"sqlite:///{database}", stdin="a long enough secret\n")
        assert user.returncode == 0, user.stderr
        copy = tmp_path / "copy" / "shared.db"  # the file alone, as a copy made by hand
        copy.parent.mkdir()
        shutil.copyfile(database, copy)
        with closing(sqlite3.connect(copy)) as copied:
            assert copied.execute('SELECT username FROM "user"').fetchall() == [("lin",)]


def test_bad_database_url_is_a_clear_error():
    result = run("db", "upgrade", database="mysql://nobody@localhost/x")
    assert result.returncode == 2 and "'mysql' databases are not supported" in result.stderr


def test_plugins_lists_each_plugin_with_what_it_brings(tmp_path):
    result = run("plugins", database=f"sqlite:///{tmp_path / 'p.db'}")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "sales 0.1.0  [enabled]  Sales" in text
    assert "objects:   lead, opportunity" in text or "objects:   contract" in text
    assert "service 0.1.0  [enabled]" in text and "ticket" in text
    assert "tessera_before_create" in text


def test_plugins_shows_a_disabled_plugin_and_its_objects_are_not_served(tmp_path):
    env = {**os.environ, "TESSERA_DISABLED_PLUGINS": "service"}
    database = f"sqlite:///{tmp_path / 'p.db'}"
    listed = subprocess.run([TESSERA, "--database", database, "plugins"], capture_output=True, text=True, env=env, timeout=300)
    assert "service 0.1.0  [disabled]" in listed.stdout and "ticket" in listed.stdout
    upgrade = subprocess.run([TESSERA, "--database", database, "db", "upgrade"], capture_output=True, text=True, env=env, timeout=300)
    assert "create table ticket" not in upgrade.stdout and "create table lead" in upgrade.stdout


def test_a_broken_plugin_setting_stops_start_up_with_a_message(tmp_path):
    env = {**os.environ, "TESSERA_DISABLED_PLUGINS": "no_such_plugin"}
    result = subprocess.run([TESSERA, "plugins"], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 2
    assert "Tessera cannot start: no plugin named no_such_plugin is installed" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_worker_runs_the_due_scheduled_jobs_and_the_queue_is_listed_shown_and_retried(tmp_path):
    database = f"sqlite:///{tmp_path / 'w.db'}"
    ran = run("worker", "--until-idle", database=database)
    assert ran.returncode == 0 and re.match(r"Ran [1-9]\d* job\(s\)\.", ran.stdout), ran.stdout + ran.stderr
    listed = run("jobs", "list", database=database)
    assert "Queue: default done" in listed.stdout and "scheduled_job" in listed.stdout
    first = re.search(r"^#(\d+) +done", listed.stdout, re.M).group(1)
    shown = run("jobs", "show", first, database=database)
    assert shown.returncode == 0 and "payload: {\"name\": \"" in shown.stdout and "key: schedule:" in shown.stdout
    again = run("worker", "--until-idle", database=database)
    assert again.returncode == 0
    first_runs = _runs(listed.stdout)
    later_runs = {i: at for i, at in _runs(run("jobs", "list", database=database).stdout).items() if i not in first_runs}
    assert all(at > max(first_runs.values()) for at in later_runs.values()), (first_runs, later_runs)  # each due run once:
    # the second worker ran only runs due since the first (a job's next interval begun in between), none again
    refused = run("jobs", "retry", first, database=database)
    assert refused.returncode == 2 and f"job {first} is not a dead job" in refused.stderr
    missing = run("jobs", "show", "999999", database=database)
    assert missing.returncode == 2 and "there is no job 999999" in missing.stderr


def _runs(listed: str) -> dict[str, str]:
    """Job id -> the time it was due, of each job `tessera jobs list` shows."""
    return dict(re.findall(r"^#(\d+) +\w+ +\S+ +\S+ +attempt \S+ +run at (\S+ \S+)$", listed, re.M))


def test_jobs_are_listed_and_run_by_name(tmp_path):
    database = f"sqlite:///{tmp_path / 'j.db'}"
    listed = run("jobs", "list", database=database)
    assert "service.maintenance_due" in listed.stdout and "(plugin service)" in listed.stdout
    ran = run("jobs", "run", "service.sla_breach_check", database=database)
    assert ran.returncode == 0 and ran.stdout.startswith("Ran service.sla_breach_check")
    unknown = run("jobs", "run", "service.maintenance_du", database=database)
    assert unknown.returncode == 2 and "did you mean 'service.maintenance_due'" in unknown.stderr


# --- what validate accepts, import can do; nothing a user gives ends in a traceback ----------------------------------


def wide(name: str, count: int, kind: str = "text", **extra) -> dict:
    return {"name": name, "label": label(name.title(), "宽"),
            "fields": [{"name": f"f{i}", "type": kind, "label": label(f"F{i}"), **extra} for i in range(count)]}


def test_validate_refuses_a_table_the_databases_cannot_hold_and_import_takes_what_validate_accepts(database_url, tmp_path):
    refused = {
        "columns": (wide("wide", 3000), "object 'wide' would need a table of 3,008 columns (its fields and 8 system columns); "
                                        "PostgreSQL's tables hold at most 1,600: give it at most 1,592 fields with a column"),
        "lookups": (wide("linked", 63, "lookup", target="account"), "object 'linked' has 63 lookup fields; at most 62"),
        "junction": ({"name": "o" * 30, "label": label("O"), "fields": [
            {"name": "m" * 40, "type": "many_to_many", "target": "account", "label": label("M")}]},
            f"keeps its links in a table named '{'o' * 30}__{'m' * 40}', 72 characters; PostgreSQL's names have at most 63"),
    }
    for name, (obj, message) in refused.items():
        file = write(tmp_path / f"{name}.json", changeset(obj))
        for command in (("metadata", "validate", str(file)), ("metadata", "import", str(file))):
            result = run(*command, database=database_url)
            assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, (command, result.stderr)
    taken = changeset(wide("wide", 1592), wide("linked", 62, "lookup", target="account"),
                      {"name": "o" * 48, "label": label("O"), "fields": [{"name": "l" * 48, "type": "lookup", "target": "account",
                                                                          "label": label("L")}]})
    file = write(tmp_path / "taken.json", taken)
    assert run("metadata", "validate", str(file)).returncode == 0
    imported = run("metadata", "import", str(file), database=database_url)
    assert imported.returncode == 0 and "create table wide" in imported.stdout, imported.stderr[-3000:]
    from core.records import Actor
    from core.runtime import Runtime
    from core.settings import Settings

    runtime = Runtime(Settings(database_url=database_url))
    try:
        account = runtime.records.create(Actor.system(), "account", {"name": "Acme"})["id"]
        runtime.records.create(Actor.system(), "linked", {f"f{i}": account for i in range(62)})
        runtime.records.create(Actor.system(), "wide", {f"f{i}": f"value {i}" for i in range(0, 1592, 10)})  # a row fits a page
        assert runtime.records.list(Actor.system(), "linked").items[0]["f61"]["label"] == "Acme"
        assert runtime.records.list(Actor.system(), "wide").items[0]["f1590"] == "value 1590"
    finally:
        runtime.close()


def test_deeply_nested_json_is_refused_with_a_message(database_url, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    field = {"name": "data", "type": "json", "label": label("Data"), "default": json.loads("[" * 500 + "]" * 500)}
    nested = tmp_path / "nested.json"
    nested.write_text(json.dumps(changeset(dict(GADGET, fields=GADGET["fields"] + [field]))))
    (tmp_path / "gadgets.csv").write_text("title\nOne\n")
    for args in [("metadata", "validate", deep), ("metadata", "import", deep), ("metadata", "validate", nested),
                 ("metadata", "import", nested), ("import", "account", tmp_path / "gadgets.csv", "--mapping", nested)]:
        result = run(*map(str, args), database=database_url)
        assert result.returncode == 2 and "the JSON nests more than 64 levels deep" in result.stderr, (args, result.stderr[-2000:])
        assert "Traceback" not in result.stderr


def test_user_add_takes_a_role_by_its_name_its_permission_set_or_the_sets_label(database_url):
    def add(username: str, role: str):
        return run("user", "add", username, "--role", role, "--password-stdin", database=database, stdin="a long enough secret\n")

    database = database_url
    assert run("db", "upgrade", database=database).returncode == 0
    from core.records import Actor
    from core.runtime import Runtime
    from core.settings import Settings

    runtime = Runtime(Settings(database_url=database))
    try:  # a role named after another permission set's label
        runtime.records.create(Actor.system(), "role", {"name": "Sales Manager", "permission_set": "sales_ops"})
    finally:
        runtime.close()
    for username, role, shown in [("ann", "Sales Rep", "Sales Rep"), ("bob", "sales_manager", "Sales Manager (sales_manager)"),
                                  ("cai", "销售经理", "Sales Manager (sales_manager)"), ("dan", "Sales Manager", "Sales Manager"),
                                  ("eve", "admin", "Administrator"), ("fay", "系统管理员", "Administrator")]:
        result = add(username, role)
        assert result.returncode == 0 and f"with the role '{shown}'" in result.stdout, (role, result.stdout, result.stderr)
    refused = add("gus", "Sales Reps")
    assert refused.returncode == 2 and "there is no role or permission set 'Sales Reps' (did you mean 'Sales Rep'?)" in refused.stderr
    runtime = Runtime(Settings(database_url=database))
    try:
        roles = {r["name"]: r["permission_set"] for r in runtime.records.each(Actor.system(), "role", {})}
    finally:
        runtime.close()
    assert roles == {"Sales Manager": "sales_ops", "Sales Rep": "sales_rep", "Sales Manager (sales_manager)": "sales_manager",
                     "Administrator": "admin"}


def test_no_command_ends_in_a_traceback_for_bad_input(database_url, tmp_path):
    folder, binary, invalid = tmp_path / "a-folder", tmp_path / "binary.bin", tmp_path / "invalid.json"
    folder.mkdir()
    binary.write_bytes(bytes(range(256)) * 16)
    invalid.write_text('{"format": "tessera-changeset/1", "objects": [')
    csv_file = tmp_path / "accounts.csv"
    csv_file.write_text("name\nAcme\n")
    missing = tmp_path / "no-such-folder"
    cases = [
        (("metadata", "validate", tmp_path / "missing.json"), "missing.json: /: file not found"),
        (("metadata", "validate", folder), "a-folder: /: is a folder without .json files"),
        (("metadata", "validate", binary), "binary.bin: /: is not UTF-8 text"),
        (("metadata", "validate", invalid), "invalid.json: /: malformed JSON at line 1"),
        (("metadata", "import", folder), "is a directory"),
        (("metadata", "import", binary), "is not UTF-8 text"),
        (("metadata", "import", invalid), "malformed JSON"),
        (("metadata", "export", missing / "config.json"), "no-such-folder: there is no such folder to write the file in"),
        (("metadata", "history", "--limit", "0"), "0 is not in the range"),
        (("import", "account", tmp_path / "missing.csv"), "missing.csv: there is no such file"),
        (("import", "account", folder), "is a directory"),
        (("import", "account", binary), "is neither UTF-8 nor GBK text"),
        (("import", "account", csv_file, "--mapping", binary), "binary.bin: is not UTF-8 text"),
        (("import", "account", csv_file, "--mapping", invalid), "invalid.json: malformed JSON at line 1"),
        (("import", "account", csv_file, "--mapping", tmp_path / "missing.json"), "does not exist"),
        (("import", "account", csv_file, "--rejected", missing / "rejected.csv"), "there is no folder"),
        (("import", "account", csv_file, "--encoding", "klingon"), "'klingon' is not an encoding"),
        (("import", "account", csv_file, "--batch-size", "0"), "0 is not in the range"),
        (("import", "gizmo", csv_file), "there is no object 'gizmo'"),
        (("export", "account", missing / "accounts.csv"), "no-such-folder: there is no such folder to write the file in"),
        (("export", "account", tmp_path / "accounts.pdf"), "'pdf' is not an export format"),
        (("export", "account", tmp_path / "x.csv", "--format", "pdf"), "'pdf' is not one of"),
        (("export", "account", tmp_path / "x.csv", "nofilter"), "'nofilter' is not a filter"),
        (("export", "account", tmp_path / "x.csv", "industri=x"), "'industri' is not a field of account"),
        (("--database", f"sqlite:///{missing / 'x.db'}", "db", "upgrade"), "unable to open database file"),
        (("--database", f"sqlite:///{binary}", "db", "upgrade"), "file is not a database"),
        (("--database", f"sqlite:///{folder}", "db", "upgrade"), "cannot use the database"),
        (("--database", "nonsense", "db", "upgrade"), "'nonsense' is not a database URL"),
        (("jobs", "run", "nothing"), "there is no scheduled job 'nothing'"),
        (("metadata", "rename-field", "gizmo", "a", "b"), "there is no object 'gizmo'"),
        (("user", "password", "nobody", "--password-stdin"), "there is no user 'nobody'"),
        (("serve", "--port", "70000"), "70000 is not in the range"),
        (("no-such-command",), "No such command"),
    ]
    wrong = []
    for args, words in cases:
        result = run(*map(str, args), database=database_url, stdin="a long enough secret\n", cwd=tmp_path)
        if result.returncode == 0 or "Traceback" in result.stderr or words not in result.stderr:
            wrong.append((args, result.returncode, result.stderr[-600:]))
    assert wrong == []
