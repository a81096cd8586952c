"""E-mail templates as metadata (kind ``email_template``, changeset key ``email_templates``): checked at import with
the document and JSON pointer named (an unknown object, variable, field or key; a Jinja syntax error with its
line); layered like the other kinds (a plugin's, replaced by a customization, back when that is removed); read and
changed through /api/meta/email_templates; exported and imported in changesets; rendered per recipient language by
the ``mail.template`` job, whose failures show on the job. Real HTTP through the ASGI app and a real SMTP server on
loopback, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import types

import pytest

from core import mail
from core.db import write_transaction
from core.email_templates import language_of
from core.hookspecs import hookimpl
from core.metadata.problems import MetadataError
from core.plugins import PluginInfo
from core.records import Actor
from helpers import CHINESE
from mail_server import configure, due_now, job, jobs, run_jobs
from test_mail import body

SYSTEM = Actor.system()
FORMAT = "tessera-changeset/1"

WELCOME = {
    "name": "account_welcome",
    "object": "account",
    "label": {"en": "Welcome", "zh-CN": "欢迎"},
    "subject": {"en": "Welcome, {{ record.name }}", "zh-CN": "欢迎您，{{ record.name }}"},
    "body": {
        "en": "Dear {{ recipient.name }},\n\n{{ record.name }} is now a customer"
              "{% if record.annual_revenue %} ({{ record.annual_revenue }}){% endif %}.\nOpen it: {{ link }}\n"
              "Sent for {{ user.name or 'Tessera' }}.",
        "zh-CN": "{{ recipient.name }}您好：\n\n{{ record.name }}已成为客户。\n查看：{{ link }}",
    },
    "html": {"en": "<p>Dear {{ recipient.name }},</p><p><a href=\"{{ link }}\">{{ record.name }}</a></p>"},
}

CONTACT = {
    "name": "contact_intro",
    "object": "contact",
    "subject": {"en": "{{ record.full_name }} of {{ record.account }}", "zh-CN": "{{ record.account }}的{{ record.full_name }}"},
    "body": {"en": "Account #{{ record.account.id }}: {{ object.label }}", "zh-CN": "客户编号 {{ record.account.id }}：{{ object.label }}"},
}


def update(runtime, object_name: str, record_id: int, changes: dict) -> dict:
    version = runtime.records.get(SYSTEM, object_name, record_id)["version"]
    return runtime.records.update(SYSTEM, object_name, record_id, changes, version=version)


def changeset(*templates) -> dict:
    return {"format": FORMAT, "email_templates": [copy.deepcopy(t) for t in templates]}


def refused(runtime, *templates) -> list[tuple[str, str, str]]:
    with pytest.raises(MetadataError) as caught:
        runtime.import_changeset(changeset(*templates), "templates.json", "test")
    return [(p.source, p.pointer, p.message) for p in caught.value.problems]


# --- checking at import ---------------------------------------------------------------------------


def test_a_template_naming_an_unknown_object_variable_field_or_key_is_refused_with_its_pointer(runtime):
    wrong = {**WELCOME, "name": "wrong", "object": "acount"}
    assert refused(runtime, wrong) == [("templates.json", "/email_templates/0/object", "there is no object 'acount' (did you mean 'account'?)")]
    wrong = {**WELCOME, "name": "wrong",
             "subject": {"en": "Hi {{ record.nam }}", "zh-CN": "你好 {{ recipient.nmae }}"},
             "body": {"en": "{{ name }}\n\n{{ record['industry'] }} {{ record.secret }}"},
             "html": {"en": "<p>{{ link }}</p>", "zh-CN": "<p>{{ object.label }} {{ user.phone }}</p>"}}
    assert refused(runtime, WELCOME, wrong) == [
        ("templates.json", "/email_templates/1/subject/en", "line 1: 'nam' is not a field of 'account' (did you mean 'name'?)"),
        ("templates.json", "/email_templates/1/subject/zh-CN",
         "line 1: recipient has no 'nmae'; it has name, email, username, language (did you mean 'name'?)"),
        ("templates.json", "/email_templates/1/body/en",
         "line 1: 'name' is not a variable of an e-mail template; the variables are record, recipient, user, object, link "
         "(did you mean 'record.name'?)"),
        ("templates.json", "/email_templates/1/body/en", "line 3: 'secret' is not a field of 'account'"),
        ("templates.json", "/email_templates/1/html/zh-CN", "line 1: user has no 'phone'; it has name, email, username"),
    ]
    assert runtime.current_metadata().email_templates == {}  # nothing of the changeset was kept


def test_a_jinja_syntax_error_is_refused_with_its_line_and_message(runtime):
    broken = {**WELCOME, "body": {"en": "Hello\n{% if record.name %}\nno end", "zh-CN": "{{ record.name | nosuchfilter }}"}}
    problems = refused(runtime, broken)
    assert problems[0][:2] == ("templates.json", "/email_templates/0/body/en")
    assert problems[0][2].startswith("Jinja syntax error at line 3: Unexpected end of template")
    assert problems[1][:2] == ("templates.json", "/email_templates/0/body/zh-CN")
    assert "No filter named 'nosuchfilter'" in problems[1][2] and "line 1" in problems[1][2]


def test_the_meta_schema_refuses_a_template_without_a_subject_or_with_a_stray_key(runtime):
    problems = refused(runtime, {"name": "x", "object": "account", "body": {"en": "b"}, "subjct": {"en": "s"}})
    assert ("templates.json", "/email_templates/0", "'subject' is required") in problems
    assert any(p[1] == "/email_templates/0" and "subjct" in p[2] for p in problems)


def test_a_template_of_a_valid_changeset_is_kept_and_the_system_fields_and_loops_are_known(runtime):
    looping = {**WELCOME, "name": "looping",
               "body": {"en": "{% set who = recipient.name %}{% for x in [record.id, record.owner, record.created_at] %}{{ x }}{% endfor %} {{ who }}"}}
    runtime.import_changeset(changeset(WELCOME, looping), "templates.json", "test")
    assert set(runtime.current_metadata().email_templates) == {"account_welcome", "looping"}


def test_a_field_used_by_a_stored_template_cannot_be_renamed_away_unnoticed_at_render(runtime, start_server):
    """A stored template is not checked again when the object changes (like stored layouts): it fails when rendered,
    on the job, saying which field."""
    runtime.import_changeset({"format": FORMAT, "extensions": [{"object": "account", "fields": [
        {"name": "segment", "type": "text", "label": {"en": "Segment", "zh-CN": "细分"}}]}]}, "test", "test")
    runtime.import_changeset(changeset({**WELCOME, "body": {"en": "{{ record.segment }}"}}), "test", "test")
    from core.metadata.customize import rename_field

    runtime.change_metadata(rename_field(runtime.current_metadata(), "account", "segment", "tier2"), "test")
    configure(runtime, start_server().url)
    account = runtime.records.create(SYSTEM, "account", {"name": "Acme"})
    with write_transaction(runtime.engine) as conn:
        made = mail.send_template(conn, runtime, "account_welcome", account, ["a@example.com"], max_attempts=1)
    run_jobs(runtime)
    assert job(runtime, made).state == "dead" and "segment" in job(runtime, made).last_error


def test_user_languages_are_read_however_they_are_stored():
    assert [language_of(v) for v in ("zh_cn", "zh_CN", "zh-CN", "zh", "ZH-cn", "en", "en_US", "", None, "fr")] == \
        ["zh-CN"] * 5 + ["en"] * 5


# --- layers -------------------------------------------------------------------------------------


def plugin_with(template: dict):
    module = types.ModuleType("mailer")
    module.PLUGIN = PluginInfo(name="mailer", version="1.0.0")

    @hookimpl
    def tessera_metadata():
        return [copy.deepcopy(template)]

    module.tessera_metadata = tessera_metadata
    return module


def test_a_plugins_template_is_replaced_by_a_customization_and_comes_back_when_it_is_removed(make_runtime):
    runtime = make_runtime(plugins=("mailer",), extra_plugins=[plugin_with(WELCOME)])
    from core.audit import Who
    from core.metadata.service import MetadataService
    from core.permissions import TRUSTED

    meta = runtime.current_metadata()
    assert meta.email_templates["account_welcome"]["subject"]["en"] == "Welcome, {{ record.name }}"
    assert meta.email_template_layers["account_welcome"] == "plugin:mailer"
    service = MetadataService(runtime, TRUSTED)
    with pytest.raises(MetadataError, match="is defined by plugin mailer: tessera_metadata"):
        service.remove_email_template("account_welcome", Who(None, "t"))
    service.put_email_template("account_welcome", {**WELCOME, "subject": {"en": "Hello {{ record.name }}"}}, Who(None, "t"))
    meta = runtime.current_metadata()
    assert meta.email_templates["account_welcome"]["subject"] == {"en": "Hello {{ record.name }}"}
    assert meta.email_template_layers["account_welcome"] == "customization"
    service.remove_email_template("account_welcome", Who(None, "t"))
    assert runtime.current_metadata().email_templates["account_welcome"]["subject"]["en"] == "Welcome, {{ record.name }}"


def test_a_plugins_template_with_an_unknown_field_stops_start_up_naming_it(make_runtime):
    with pytest.raises(MetadataError, match="plugin mailer: tessera_metadata\\(\\): /0/body/en: line 1: 'nope' is not a field"):
        make_runtime(plugins=("mailer",), extra_plugins=[plugin_with({**WELCOME, "body": {"en": "{{ record.nope }}"}})])


# --- the API --------------------------------------------------------------------------------------


def test_the_api_creates_reads_replaces_and_removes_a_template(api):
    assert api.get("alice", "/api/meta/email_templates").json() == {"items": []}
    created = api.put("cora", "/api/meta/email_templates/account_welcome", json={k: v for k, v in WELCOME.items() if k != "name"})
    assert created.status_code == 200, created.text
    assert created.json()["email_template"] == {**WELCOME, "defined_by": "customization", "custom": True}
    assert api.get("alice", "/api/meta/email_templates").json()["items"][0]["name"] == "account_welcome"
    assert api.get("root", "/api/meta/email_templates/account_welcome").json()["subject"] == WELCOME["subject"]
    replaced = api.put("root", "/api/meta/email_templates/account_welcome", json={**WELCOME, "subject": {"en": "Hi {{ record.name }}"}})
    assert replaced.status_code == 200 and replaced.json()["email_template"]["subject"] == {"en": "Hi {{ record.name }}"}
    assert api.delete("root", "/api/meta/email_templates/account_welcome").status_code == 200
    gone = api.get("root", "/api/meta/email_templates/account_welcome")
    assert gone.status_code == 404 and gone.json()["message"] == "there is no e-mail template 'account_welcome'"
    assert api.delete("root", "/api/meta/email_templates/account_welcome").status_code == 404


def test_only_admins_and_customizers_change_templates(api):
    assert api.put("alice", "/api/meta/email_templates/account_welcome", json=WELCOME).status_code == 403
    api.put("root", "/api/meta/email_templates/account_welcome", json=WELCOME)
    assert api.delete("vera", "/api/meta/email_templates/account_welcome").status_code == 403
    assert api.client.get("/api/meta/email_templates").status_code == 401


def test_the_api_refuses_a_wrong_template_as_json_naming_the_pointer_in_the_readers_language(api):
    wrong = {**WELCOME, "body": {"en": "{{ record.amout }}", "zh-CN": "{% if %}"}}
    answer = api.put("root", "/api/meta/email_templates/account_welcome", json=wrong)
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_metadata"
    errors = answer.json()["errors"]
    assert [(e["source"], e["pointer"]) for e in errors] == [("PUT /api/meta/email_templates/account_welcome", "/email_templates/0/body/en"),
                                                              ("PUT /api/meta/email_templates/account_welcome", "/email_templates/0/body/zh-CN")]
    assert errors[0]["code"] == "template_unknown_field" and errors[0]["params"]["field"] == "amout"
    assert errors[1]["code"] == "template_syntax" and errors[1]["params"]["line"] == 1
    chinese = api.put("root", "/api/meta/email_templates/account_welcome", json=wrong, headers=CHINESE).json()
    assert chinese["errors"][0]["message"] == "第 1 行：“amout”不是“account”的字段"
    assert chinese["errors"][1]["message"].startswith("Jinja 语法错误（第 1 行）：")
    named = api.put("root", "/api/meta/email_templates/account_welcome", json={**WELCOME, "name": "other"})
    assert named.status_code == 422 and named.json()["errors"][0]["pointer"] == "/name"
    assert api.put("root", "/api/meta/email_templates/account_welcome", json=["not", "a", "template"]).status_code == 422
    assert api.get("root", "/api/meta/email_templates").json() == {"items": []}


def test_templates_travel_in_the_changeset_both_ways(api, make_runtime):
    api.put("root", "/api/meta/email_templates/account_welcome", json=WELCOME)
    api.put("root", "/api/meta/email_templates/contact_intro", json=CONTACT)
    exported = api.get("root", "/api/meta/changeset").json()
    assert exported["email_templates"] == [WELCOME, CONTACT]
    other = make_runtime(upgrade=False)  # another environment: a new database (here the same, emptied of templates)
    api.delete("root", "/api/meta/email_templates/account_welcome")
    api.delete("root", "/api/meta/email_templates/contact_intro")
    dry = api.post("root", "/api/meta/changeset?dry_run=true", json=exported)
    assert dry.status_code == 200 and api.get("root", "/api/meta/email_templates").json() == {"items": []}
    assert api.post("root", "/api/meta/changeset", json=exported).status_code == 200
    assert other.export_config()["email_templates"] == [WELCOME, CONTACT]
    assert sorted(other.current_metadata().email_templates) == ["account_welcome", "contact_intro"]


# --- sending ---------------------------------------------------------------------------------------


@pytest.fixture
def mailing(world, start_server):
    """The world with e-mail: an SMTP server, templates, and alice (Chinese) and bob (English) with addresses."""
    runtime = world.runtime
    server = start_server()
    configure(runtime, server.url)
    runtime.import_changeset(changeset(WELCOME, CONTACT), "test", "test")
    for name, language in (("alice", "zh_cn"), ("bob", "en")):
        update(runtime, "user", world.users[name], {"email": f"{name}@example.com", "language": language,
                                                                   "full_name": {"alice": "王丽", "bob": "Bob Smith"}[name]})
    return world, server


def test_each_recipient_gets_the_template_in_their_own_language(mailing):
    world, server = mailing
    runtime = world.runtime
    account = runtime.records.get(SYSTEM, "account", world.accounts["alice"])
    with write_transaction(runtime.engine) as conn:
        made = mail.send_template(conn, runtime, "account_welcome", account, [world.users["alice"], world.users["bob"], "陈晨 <chen@example.com>"],
                                  key="welcome:1", sender=world.users["mike"])
    assert server.inbox.envelopes == [] and job(runtime, made).kind == "mail.template"
    run_jobs(runtime)
    assert job(runtime, made).state == "done"
    got = {m["To"].addresses[0].addr_spec: m for m in server.inbox.messages()}
    assert set(got) == {"alice@example.com", "bob@example.com", "chen@example.com"}
    link = f"https://crm.example.com/r/account/{account['id']}"
    alice, bob, chen = got["alice@example.com"], got["bob@example.com"], got["chen@example.com"]
    assert alice["Subject"] == "欢迎您，Alice Industries" and alice["To"].addresses[0].display_name == "王丽"
    assert body(alice) == f"王丽您好：\n\nAlice Industries已成为客户。\n查看：{link}"
    assert body(alice, "html") == f'<p>Dear 王丽,</p><p><a href="{link}">Alice Industries</a></p>'  # no zh-CN html: the English
    assert bob["Subject"] == "Welcome, Alice Industries"
    assert body(bob) == f"Dear Bob Smith,\n\nAlice Industries is now a customer (1000.0).\nOpen it: {link}\nSent for Mike."
    assert chen["Subject"] == "Welcome, Alice Industries" and body(chen).startswith("Dear 陈晨,")
    with write_transaction(runtime.engine) as conn:  # the same key again: nothing more is sent
        assert mail.send_template(conn, runtime, "account_welcome", account, [world.users["alice"]], key="welcome:1") == made
    run_jobs(runtime)
    assert len(server.inbox.envelopes) == 3


def test_a_record_given_by_id_lookups_and_html_escaping(mailing):
    world, server = mailing
    runtime = world.runtime
    update(runtime, "account", world.accounts["bob"], {"name": "Bob <b>&</b> Sons"})
    contact = runtime.records.list(SYSTEM, "contact", {"owner": world.users["bob"]}).items[0]
    with write_transaction(runtime.engine) as conn:
        mail.send_template(conn, runtime, "contact_intro", contact["id"], [world.users["alice"]])
        mail.send_template(conn, runtime, "account_welcome", world.accounts["bob"], ["x@example.com"])
    run_jobs(runtime)
    got = {m["To"].addresses[0].addr_spec: m for m in server.inbox.messages()}
    assert got["alice@example.com"]["Subject"] == "Bob <b>&</b> Sons的Contact of bob"
    assert body(got["alice@example.com"]) == f"客户编号 {world.accounts['bob']}：联系人"
    assert "<a href=" in body(got["x@example.com"], "html") and "Bob &lt;b&gt;&amp;&lt;/b&gt; Sons" in body(got["x@example.com"], "html")
    assert got["x@example.com"]["Subject"] == "Welcome, Bob <b>&</b> Sons"  # the subject is not HTML: nothing escaped


def test_a_template_failing_at_run_time_fails_its_job_with_the_error_and_sends_nothing(mailing):
    world, server = mailing
    runtime = world.runtime
    runtime.import_changeset(changeset({**WELCOME, "name": "failing", "body": {"en": "{{ '%d' | format(record.name) }}"}}), "test", "test")
    account = runtime.records.get(SYSTEM, "account", world.accounts["bob"])
    with write_transaction(runtime.engine) as conn:
        made = mail.send_template(conn, runtime, "failing", account, [world.users["bob"]], max_attempts=2)
    run_jobs(runtime)
    row = job(runtime, made)
    assert row.state == "queued" and row.attempts == 1
    assert row.last_error.startswith("RenderError: the body (en) failed: TypeError: %d format: a real number is required")
    due_now(runtime)
    run_jobs(runtime)
    assert job(runtime, made).state == "dead" and jobs(runtime, "mail.send") == [] and server.inbox.envelopes == []


def test_a_user_without_an_address_fails_the_job_naming_them_after_the_others_are_sent_once(mailing):
    world, server = mailing
    runtime = world.runtime
    account = runtime.records.get(SYSTEM, "account", world.accounts["bob"])
    with write_transaction(runtime.engine) as conn:
        made = mail.send_template(conn, runtime, "account_welcome", account, [world.users["bob"], world.users["carol"]], max_attempts=3)
    run_jobs(runtime)
    row = job(runtime, made)
    assert row.state == "queued" and f"no e-mail address for user {world.users['carol']} (carol)" in row.last_error
    assert [m["To"].addresses[0].addr_spec for m in server.inbox.messages()] == ["bob@example.com"]
    update(runtime, "user", world.users["carol"], {"email": "carol@example.com"})
    due_now(runtime)
    run_jobs(runtime)
    assert job(runtime, made).state == "done"
    assert sorted(m["To"].addresses[0].addr_spec for m in server.inbox.messages()) == ["bob@example.com", "carol@example.com"]


def test_a_template_sent_in_a_transaction_rolled_back_sends_nothing(mailing):
    world, server = mailing
    runtime = world.runtime
    with pytest.raises(RuntimeError):
        with runtime.records.transaction(SYSTEM) as tx:
            account = tx.create("account", {"name": "Never Ltd"})
            mail.send_template(tx.connection, runtime, "account_welcome", account, [world.users["bob"]])
            raise RuntimeError("refused after all")
    assert jobs(runtime) == []
    run_jobs(runtime)  # core's scheduled jobs may run: no mail job does
    assert jobs(runtime, mail.SEND) == [] and jobs(runtime, mail.TEMPLATE) == [] and server.inbox.envelopes == []


def test_send_template_refuses_what_it_cannot_send_at_once(mailing):
    world, _server = mailing
    runtime = world.runtime
    with write_transaction(runtime.engine) as conn:
        with pytest.raises(LookupError, match="no e-mail template 'acount_welcome' \\(did you mean 'account_welcome'\\?\\)"):
            mail.send_template(conn, runtime, "acount_welcome", {"id": 1}, ["a@example.com"])
        with pytest.raises(ValueError, match="1 to 100 recipients"):
            mail.send_template(conn, runtime, "account_welcome", {"id": 1}, [])
        with pytest.raises(ValueError, match="not one e-mail address"):
            mail.send_template(conn, runtime, "account_welcome", {"id": 1}, ["nobody"])
        with pytest.raises(ValueError, match="needs its id"):
            mail.send_template(conn, runtime, "account_welcome", {"name": "x"}, ["a@example.com"])
