"""Imports, the request itself and Setup answer in the reader's language.

Real HTTP through the ASGI app, on SQLite and PostgreSQL: a Chinese reader (the API with
`Accept-Language: zh-CN`, the pages with a user whose language is Chinese) reads a bad import
file or mapping, a malformed or wrongly shaped body, a bad page size, a missing sign-in, a
refused form and a refused Setup change in Chinese, with the names and pointers unchanged.
"""

from __future__ import annotations

import json
import re

import pytest
from litestar.testing import TestClient
from test_ui_imports import check, choose, form_of, map_url, upload
from test_ui_pages import signed_in

from access_world import PASSWORD, build_world
from helpers import CHINESE, bearer
from core.api.app import create_app
from fake_plugins import kappa_web



@pytest.fixture
def client(world):
    with TestClient(create_app(world.runtime)) as client:
        yield client


def in_chinese(world, client: TestClient, username: str) -> str:
    """Sign ``username`` in through the form, with Chinese as their own language; the CSRF token for forms."""
    client.app.state.accounts.set_language(world.users[username], "zh_cn")
    return signed_in(client, username)


def alerts(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", a).strip() for a in re.findall(r'role="alert"[^>]*>(.*?)</', html, flags=re.S)]


# --- imports ---------------------------------------------------------------------------------------


def test_a_file_that_is_not_a_table_and_a_misspelt_option_are_refused_in_chinese_by_the_api(client):
    headers = {**bearer(client, "mike"), **CHINESE}
    refused = client.post("/api/imports/account", files={"file": ("notes.pdf", b"%PDF-1.4", "application/pdf")}, headers=headers)
    misspelt = client.post("/api/imports/account", files={"file": ("a.csv", b"name\nAcme\n", "text/csv")},
                           data={"options": '{"dry_rn": false}'}, headers=headers)

    assert misspelt.status_code == 400, misspelt.text
    assert misspelt.json()["message"].startswith("options 中有导入不接受的键“dry_rn”（你是不是想写“dry_run”？）；可用的键：")

    assert refused.status_code == 400, refused.text
    [error] = refused.json()["errors"]
    assert (error["parameter"], error["code"], error["params"]) == ("file", "upload_not_a_table", {"file": "notes.pdf"})
    assert refused.json()["message"] == error["message"] == "“notes.pdf”不是 CSV 或 XLSX 文件（文件名必须以 .csv、.txt 或 .xlsx 结尾）。"


def test_an_undecodable_file_and_an_unknown_column_are_refused_in_chinese_by_the_api(client):
    headers = {**bearer(client, "mike"), **CHINESE}
    undecodable = client.post("/api/imports/account", files={"file": ("binary.csv", b"name\n\xff\xfe\xfa\x80\x81\n", "text/csv")},
                              headers=headers)
    options = json.dumps({"mapping": {"columns": {"nmae": "name"}}})
    unknown = client.post("/api/imports/account", files={"file": ("a.csv", b"name\nAcme\n", "text/csv")}, data={"options": options},
                          headers=headers)

    assert undecodable.status_code == 422, undecodable.text
    assert undecodable.json()["message"].startswith("binary.csv：第 2 行：第 5 个字节既不是 UTF-8 也不是 GBK 文字；请把文件另存为“CSV UTF-8”")
    assert unknown.status_code == 422, unknown.text
    [error] = unknown.json()["errors"]
    assert (error["code"], error["params"]) == ("mapping_unknown_column", {"column": "nmae", "hint": "（你是不是想写“name”？）"})
    assert error["message"] == "映射中写了列“nmae”，但文件中没有这一列（你是不是想写“name”？）"
    assert unknown.json()["message"] == "导入设置与文件不符：映射中写了列“nmae”，但文件中没有这一列（你是不是想写“name”？）。"


def test_the_import_pages_word_a_bad_file_and_a_bad_mapping_in_the_pages_language(world, client):
    csrf = in_chinese(world, client, "mike")

    binary = client.post("/import", data={"_csrf_token": csrf, "object": "account"},
                         files={"file": ("binary.csv", b"name\n\xff\xfe\xfa\x80\x81\n", "text/csv")}, follow_redirects=False)
    url = map_url(upload(client, csrf, "a.csv", b"name,sector\nAcme,retail\n"))
    unknown = check(client, url, choose(form_of(client.get(url).text), sector="industri"))

    assert binary.status_code == 400
    assert "binary.csv：第 2 行：第 5 个字节既不是 UTF-8 也不是 GBK 文字" in binary.text
    assert "neither UTF-8 nor GBK" not in binary.text
    assert unknown.status_code == 400, unknown.text[:2000]
    assert "“sector”列：“industri”不是 account 的字段（你是不是想写“industry”？）" in unknown.text


# --- the request itself ------------------------------------------------------------------------------


def test_a_malformed_or_misshapen_body_is_refused_in_chinese(client):
    headers = {**bearer(client, "mike"), **CHINESE, "Content-Type": "application/json"}
    malformed = client.post("/api/records/account/1/shares", content=b'{"user": ', headers=headers)
    misshapen = client.post("/api/auth/token", json={"username": "mike", "password": PASSWORD, "nmae": "t", "expires_in_days": "soon"},
                            headers=CHINESE)

    assert malformed.status_code == 400, malformed.text
    assert malformed.json()["message"].startswith("正文不是有效的 JSON：第 1 行第 10 列：")
    assert misshapen.status_code == 400, misshapen.text
    errors = {e["pointer"]: e for e in misshapen.json()["errors"]}
    assert errors["/expires_in_days"]["message"] == "必须是整数。"
    assert errors[""]["message"] == "“nmae”不是已知的键（你是不是想写“name”？）"
    assert errors[""]["code"] == "not_a_known_key" and errors[""]["params"]["key"] == "nmae"
    assert misshapen.json()["message"] in ("/expires_in_days：必须是整数；/：“nmae”不是已知的键（你是不是想写“name”？）。",
                                           "/：“nmae”不是已知的键（你是不是想写“name”？）；/expires_in_days：必须是整数。")


def test_the_apis_own_refusals_are_answered_in_chinese(client):
    headers = {**bearer(client, "root"), **CHINESE}
    account = client.post("/api/records/account", json={"name": "Acme"}, headers=headers).json()
    answers = {
        "version": client.patch(f"/api/records/account/{account['id']}", json={"name": "Acme Ltd"}, headers=headers),
        "job": client.get("/api/imports/jobs/999", headers=headers),
        "job id": client.get("/api/imports/jobs/abc", headers=headers),
        "merge": client.post("/api/records/account/merge", json={"survivor": "a"}, headers=headers),
        "related": client.get(f"/api/records/account/{account['id']}/related/nosuch/x", headers=headers),
        "layout": client.delete("/api/meta/layouts/nosuch", headers=headers),
        "base field": client.delete("/api/meta/objects/account/fields/name", headers=headers),
        "export": client.get("/api/export/account?format=pdf", headers=headers),
    }
    assert {name: answer.status_code for name, answer in answers.items()} == {
        "version": 428, "job": 404, "job id": 400, "merge": 400, "related": 404, "layout": 422, "base field": 422, "export": 400}
    said = {name: answer.json()["message"] for name, answer in answers.items()}
    assert said["version"].startswith("请发送你读到的版本")
    assert said["job"] == "你没有导入任务 999（GET /api/imports/jobs 列出你的导入任务）。"
    assert said["job id"].startswith("“abc”不是导入任务 id") and answers["job id"].json()["errors"][0]["message"] == "整数"
    assert said["merge"].startswith("请发送保留的记录") and '{"survivor": 12' in said["merge"]
    assert said["related"] == "nosuch.x 并不指向 account（GET .../related 列出相关列表）。"
    assert "没有定制布局“nosuch”" in said["layout"]
    assert "只有自定义字段才能改名或删除" in said["base field"]
    assert answers["export"].json()["errors"][0]["message"] == "csv 或 xlsx"
    english = client.get("/api/imports/jobs/999", headers=bearer(client, "root")).json()["message"]
    assert english == "there is no import job 999 of yours (GET /api/imports/jobs lists them)"


def test_a_bad_page_size_a_missing_sign_in_and_a_bad_token_are_refused_in_chinese(client):
    page_size = client.get("/api/imports/jobs?limit=0", headers={**bearer(client, "mike"), **CHINESE})
    anonymous = client.get("/api/records/account", headers=CHINESE)
    bad_token = client.get("/api/records/account", headers={"Authorization": "Bearer tsk_nothing", **CHINESE})

    not_a_number = client.get("/api/imports/jobs?limit=abc", headers={**bearer(client, "mike"), **CHINESE})
    assert not_a_number.status_code == 400, not_a_number.text
    assert not_a_number.json()["message"] == "请求的参数无效：GET /api/imports/jobs?limit=abc"
    assert not_a_number.json()["errors"] == [{"parameter": "limit", "message": "必须是整数，而不是文本。",
                                              "code": "must_be_type_not", "params": {"types": "整数", "got": "文本"}}]
    assert page_size.status_code == 400 and page_size.json()["message"].startswith("limit 必须在 1 到 ")
    assert page_size.json()["errors"][0]["code"] == "between"
    assert anonymous.status_code == 401 and anonymous.json()["message"].startswith("请先登录：")
    assert bad_token.status_code == 401 and bad_token.json()["message"] == "令牌无效。"
    assert client.get("/api/records/account").json()["message"].startswith("sign in first:")
    unknown = client.get("/api/records/acount", headers={**bearer(client, "mike"), **CHINESE})
    assert unknown.status_code == 404 and unknown.json()["message"] == "没有对象“acount”（你是不是想写“account”？）"


def test_query_parameters_litestar_refuses_are_answered_in_chinese(client):
    headers = {**bearer(client, "root"), **CHINESE}
    refused = client.get("/api/audit?since=yesterday&user_id=0", headers=headers)
    assert refused.status_code == 400, refused.text
    errors = {e["parameter"]: e["message"] for e in refused.json()["errors"]}
    assert errors == {"since": "必须是日期和时间（ISO 8601，例如 2026-03-01T09:30:00Z）。", "user_id": "不能小于 1"}


@pytest.fixture
def with_typed_body(make_runtime):
    """The app with a plugin's route whose body Litestar checks against a typed structure (fake_plugins/kappa_web)."""
    world = build_world(make_runtime(plugins=("kappa",), extra_plugins=[kappa_web]))
    with TestClient(create_app(world.runtime)) as client:
        yield client


@pytest.mark.parametrize("body, parameter, chinese, english", [
    ({"visitors": "many"}, "visitors", "必须是整数，而不是文本。", "must be a whole number, not a text"),
    ({"visitors": None}, "visitors", "必须是整数，而不是null。", "must be a whole number, not null"),
    ({"visitors": 900}, "visitors", "不能大于 500", "must be at most 500"),
    ({"visitors": 0}, "visitors", "不能小于 1", "must be at least 1"),
    ({"site": "P"}, "site", "至少要有 2 个字符。", "must be at least 2 characters long"),
    ({"site": "P" * 41}, "site", "太长：最多 40 个字符。", "is too long: at most 40 characters"),
    ({"kind": "party"}, "kind", "'party' 不是允许的值之一。", "'party' is not one of the allowed values"),
])
def test_a_body_litestar_refuses_is_answered_in_chinese_naming_the_field(with_typed_body, body, parameter, chinese, english):
    headers = bearer(with_typed_body, "alice")
    sent = {"site": "Plant 7", "visitors": 3, "kind": "audit", **body}
    refused = with_typed_body.post("/api/kappa/visits", json=sent, headers={**headers, **CHINESE})
    assert refused.status_code == 400, refused.text
    [error] = refused.json()["errors"]
    assert (error["parameter"], error["message"]) == (parameter, chinese)
    [said] = with_typed_body.post("/api/kappa/visits", json=sent, headers=headers).json()["errors"]
    assert said["message"] == english


def test_a_missing_key_is_named_and_a_reason_without_words_is_kept_as_litestar_gives_it(with_typed_body):
    headers = {**bearer(with_typed_body, "alice"), **CHINESE}
    missing = with_typed_body.post("/api/kappa/visits", json={"site": "Plant 7", "kind": "audit"}, headers=headers)
    assert missing.status_code == 400 and missing.json()["errors"][0]["message"] == "“visitors”为必填项。"
    assert missing.json()["errors"][0]["code"] == "key_required" and missing.json()["errors"][0]["params"] == {"key": "visitors"}
    unworded = with_typed_body.post("/api/kappa/visits", json={"site": "Plant 7", "visitors": 3, "kind": "audit", "badge": "x"},
                                    headers=headers)
    [error] = unworded.json()["errors"]
    assert (error["parameter"], error["code"]) == ("badge", "parameter_not_valid")
    assert error["message"] == "值无效：Expected `str` matching regex '^[A-Z]{2}$'"
    accepted = with_typed_body.post("/api/kappa/visits", json={"site": "Plant 7", "visitors": 3, "kind": "audit"}, headers=headers)
    assert accepted.status_code == 201 and accepted.json()["site"] == "Plant 7"


def test_a_form_without_its_csrf_token_is_refused_in_chinese_on_a_chinese_page(world, client):
    in_chinese(world, client, "mike")

    refused = client.post("/r/account/new", data={"name": "No token Ltd"})
    refused_api = client.post("/api/records/account", json={"name": "No token Ltd"})

    assert refused.status_code == 403
    assert "此表单已过期或并非来自本站。" in refused.text
    assert refused_api.status_code == 403 and refused_api.json()["message"].startswith("CSRF 令牌缺失或有误")


# --- Setup -------------------------------------------------------------------------------------------


def test_setup_refuses_a_field_in_chinese_with_the_pointer_and_names_unchanged(world, client):
    csrf = in_chinese(world, client, "root")

    system_name = client.post("/setup/objects/account/fields", data={"_csrf_token": csrf, "label_en": "Owner", "type": "text"})
    no_values = client.post("/setup/objects/account/fields", data={"_csrf_token": csrf, "label_en": "Kind", "type": "picklist",
                                                                  "values": ""})

    assert system_name.status_code == 422
    assert "“owner”是每个对象都有的系统字段；请换一个名称。" in system_name.text, alerts(system_name.text)
    assert "is a system field" not in system_name.text
    clash = client.post("/setup/objects/account/fields", data={"_csrf_token": csrf, "label_en": "Phone", "type": "text"})
    assert clash.status_code == 422 and "account 已有字段“phone”；请用 PATCH .../fields/phone 修改它。" in clash.text, alerts(clash.text)
    assert no_values.status_code == 422
    assert "<li>/extensions/0/fields/0/values: 至少需要 1 项。</li>" in no_values.text, alerts(no_values.text)
