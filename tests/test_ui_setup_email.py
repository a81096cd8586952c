"""Setup's e-mail templates: the list, the editor (name, object, subject and bodies in English and Chinese), a
preview of the form against a chosen record in either language, and every problem shown on the page with its
pointer, in English and Chinese; closed to people without Setup. Real HTTP through the ASGI app, both databases."""

from __future__ import annotations

import html
import re

import pytest
from litestar.testing import TestClient

from core.api.app import create_app
from core.records import Actor
from helpers import CHINESE
from test_ui_pages import signed_in

SYSTEM = Actor.system()


@pytest.fixture
def ui(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client


def form(csrf: str, **values: str) -> dict:
    data = {"_csrf_token": csrf, "name": "account_welcome", "object": "account",
            "subject_en": "Welcome, {{ record.name }}", "subject_zh": "欢迎您，{{ record.name }}",
            "body_en": "Dear {{ recipient.name }},\r\n{{ record.name }}: {{ link }}", "body_zh": "{{ recipient.name }}您好：\r\n{{ record.name }}：{{ link }}",
            "html_en": "", "html_zh": "", "record": "", "language": "en", "original": ""}
    return {**data, **values}


def errors_of(page) -> list[str]:
    found = re.search(r'id="setup-errors">(.*?)</div>', page.text, re.S)
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", found.group(1), re.S)] if found else []


def test_an_implementer_creates_a_template_and_sees_it_listed(ui, world):
    csrf = signed_in(ui, "root")
    empty = ui.get("/setup/email-templates")
    assert empty.status_code == 200 and "There is no e-mail template yet." in empty.text
    assert 'href="/setup/email-templates"' in ui.get("/setup").text
    new = ui.get("/setup/email-templates/new?object=account")
    assert new.status_code == 200 and '<option value="account" selected>' in new.text
    assert html.escape("{{ link }}") in new.text or "{{ link }}" in new.text  # the variables' help shows them as written
    made = ui.post("/setup/email-templates", data=form(csrf))
    assert made.status_code == 200 and str(made.url).endswith("/setup/email-templates/account_welcome?done=E-mail%20template%20saved.")
    stored = world.runtime.current_metadata().email_templates["account_welcome"]
    assert stored["body"] == {"en": "Dear {{ recipient.name }},\n{{ record.name }}: {{ link }}",
                              "zh-CN": "{{ recipient.name }}您好：\n{{ record.name }}：{{ link }}"}
    assert "html" not in stored  # no HTML given: plain text mail
    listed = ui.get("/setup/email-templates")
    row = listed.text.split('id="email-templates"')[1].split("</table>")[0]
    assert "account_welcome" in row and html.escape("Welcome, {{ record.name }}") in row
    assert ui.post("/setup/email-templates", data=form(csrf)).status_code == 422  # the name is taken


def test_a_wrong_template_is_refused_on_the_page_with_its_pointer_in_english_and_chinese(ui, world):
    csrf = signed_in(ui, "root")
    wrong = form(csrf, body_en="{{ record.nmae }}", subject_zh="{% if %}")
    page = ui.post("/setup/email-templates", data=wrong)
    assert page.status_code == 422
    assert errors_of(page) == ["/email_templates/0/subject/zh-CN: Jinja syntax error at line 1: Expected an expression, got 'end of statement block'",
                               "/email_templates/0/body/en: line 1: 'nmae' is not a field of 'account' (did you mean 'name'?)"]
    assert html.escape("{{ record.nmae }}") in page.text  # the form is shown again as it was sent
    chinese = ui.post("/setup/email-templates", data=wrong, headers=CHINESE)
    assert "/email_templates/0/body/en: 第 1 行：“nmae”不是“account”的字段（你是不是想写“name”？）" in errors_of(chinese)
    assert world.runtime.current_metadata().email_templates == {}


def test_the_preview_renders_the_form_against_a_chosen_record_in_either_language_without_saving(ui, world):
    csrf = signed_in(ui, "root")
    ui.post("/setup/email-templates", data=form(csrf))
    account = world.accounts["alice"]
    editor = ui.get("/setup/email-templates/account_welcome")
    assert f'<option value="{account}">Alice Industries</option>' in editor.text
    changed = form(csrf, original="account_welcome", subject_en="Hi {{ record.name }}!", record=str(account), language="en",
                   html_en="<p>{{ record.name }}</p>")
    preview = ui.post("/setup/email-templates/preview", data=changed)
    assert preview.status_code == 200, errors_of(preview)
    assert '<dd id="preview-subject">Hi Alice Industries!</dd>' in preview.text
    text = html.unescape(preview.text.split('id="preview-text"')[1].split("</pre>")[0].split(">", 1)[1])
    assert text == f"Dear Root,\nAlice Industries: http://localhost:8000/r/account/{account}"
    assert html.escape("<p>Alice Industries</p>") in preview.text
    zh = ui.post("/setup/email-templates/preview", data={**changed, "language": "zh-CN"})
    assert '<dd id="preview-subject">欢迎您，Alice Industries</dd>' in zh.text and "Root您好：" in zh.text
    assert world.runtime.current_metadata().email_templates["account_welcome"]["subject"]["en"] == "Welcome, {{ record.name }}"


def test_a_preview_shows_a_template_that_fails_on_the_record_and_one_without_a_record(ui, world):
    csrf = signed_in(ui, "root")
    failing = form(csrf, body_en="{{ '%d' | format(record.name) }}", record=str(world.accounts["bob"]))
    page = ui.post("/setup/email-templates/preview", data=failing)
    assert page.status_code == 422
    assert errors_of(page) == ["The template failed on this record: the body (en) failed: TypeError: %d format: a real number is required, not str"]
    chinese = ui.post("/setup/email-templates/preview", data={**failing, "record": ""}, headers=CHINESE)
    assert errors_of(chinese) == ["请选择一条客户记录来预览。"]
    wrong = ui.post("/setup/email-templates/preview", data=form(csrf, body_en="{{ nope }}"))
    assert wrong.status_code == 422 and "'nope' is not a variable of an e-mail template" in errors_of(wrong)[0]
    assert world.runtime.current_metadata().email_templates == {}


def test_saving_and_removing_a_template(ui, world):
    csrf = signed_in(ui, "cora")  # a customizer
    ui.post("/setup/email-templates", data=form(csrf))
    saved = ui.post("/setup/email-templates/account_welcome", data=form(csrf, original="account_welcome", subject_en="New {{ record.name }}"))
    assert saved.status_code == 200 and "E-mail template saved." in saved.text
    assert world.runtime.current_metadata().email_templates["account_welcome"]["subject"]["en"] == "New {{ record.name }}"
    assert ui.post("/setup/email-templates/account_welcome", data=form(csrf, object="nothing")).status_code == 422
    removed = ui.post("/setup/email-templates/account_welcome/remove", data={"_csrf_token": csrf})
    assert removed.status_code == 200 and "E-mail template removed." in removed.text
    assert world.runtime.current_metadata().email_templates == {}
    assert ui.get("/setup/email-templates/account_welcome").status_code == 404


def test_the_pages_read_in_chinese_and_are_closed_to_people_without_setup(ui, world):
    csrf = signed_in(ui, "root")
    ui.post("/setup/email-templates", data=form(csrf))
    listed = ui.get("/setup/email-templates", headers=CHINESE)
    assert "邮件模板" in listed.text and "新建邮件模板" in listed.text
    editor = ui.get("/setup/email-templates/account_welcome", headers=CHINESE)
    assert "预览" in editor.text and "主题" in editor.text and "删除模板" in editor.text
    ui.cookies.clear()
    signed_in(ui, "alice")
    assert ui.get("/setup/email-templates").status_code == 403
    assert ui.get("/setup/email-templates/account_welcome").status_code == 403
