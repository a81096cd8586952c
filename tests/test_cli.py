"""The `tessera` command as a user runs it: a real process, real files, real databases."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
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


def test_jobs_are_listed_and_run_by_name(tmp_path):
    database = f"sqlite:///{tmp_path / 'j.db'}"
    listed = run("jobs", "list", database=database)
    assert "service.maintenance_due" in listed.stdout and "(plugin service)" in listed.stdout
    ran = run("jobs", "run", "service.sla_breach_check", database=database)
    assert ran.returncode == 0 and ran.stdout.startswith("Ran service.sla_breach_check")
    unknown = run("jobs", "run", "service.maintenance_du", database=database)
    assert unknown.returncode == 2 and "did you mean 'service.maintenance_due'" in unknown.stderr
