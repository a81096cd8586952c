"""Problems read in the reader's language: codes and params in the API's answers, Chinese on Chinese pages.

Real HTTP through the ASGI app, on SQLite and PostgreSQL, with the four industry plugins: a field's
problem, a plugin's refusal and a bad filter answer in Chinese for `Accept-Language: zh-CN` and for a
user whose own language is Chinese; a plugin's refusal on a Chinese form is in Chinese. Every wording,
core's and the plugins', has both languages with the same placeholders.
"""

from __future__ import annotations

import ast
import re
import string
import types
from collections import Counter

import pytest
from litestar.testing import TestClient

from access_world import PASSWORD, build_world
from helpers import CHINESE, bearer
from core.api.app import create_app
from core.hookspecs import hookimpl
from core.plugins import PluginInfo, Refusal, load_plugins
from core.records import Actor
from core import words
from core.words import WORDS, say

PLUGINS = ("sales", "marketing", "service", "manufacturing_bom")
SYSTEM = Actor.system()


def placeholders(text: str) -> set[str]:
    return {name for _literal, name, _spec, _conversion in string.Formatter().parse(text) if name}


def every_wording() -> dict[str, dict]:
    return {**WORDS, **load_plugins(enabled=PLUGINS).words}


@pytest.mark.parametrize("code", sorted(every_wording()))
def test_every_code_is_worded_in_both_languages_with_the_same_placeholders(code):
    wording = every_wording()[code]
    assert set(wording) == {"en", "zh-CN"}, code
    assert placeholders(wording["en"]) == placeholders(wording["zh-CN"]), code
    assert ";" not in wording["zh-CN"], f"{code}: Chinese sentences use Chinese punctuation"


def test_no_code_is_declared_twice_in_cores_table():
    """A code written twice in the table's source would silently lose its first wording."""
    table = next(node.value for node in ast.parse(open(words.__file__, encoding="utf-8").read()).body
                 if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "WORDS")
    counted = Counter(key.value for key in table.keys)
    assert [code for code, times in counted.items() if times > 1] == []


def test_a_plugin_that_words_a_refusal_in_english_only_is_read_in_english_on_chinese_pages():
    @hookimpl
    def tessera_words():
        return {"echo.too_late": {"en": "too late for {day}"}}

    module = types.ModuleType("echo")
    module.PLUGIN, module.tessera_words = PluginInfo(name="echo", version="0.1"), tessera_words
    plugins = load_plugins(enabled=["echo"], extra=[module])

    coded = plugins.sentence(Refusal(code="echo.too_late", params={"day": "Monday"}))
    plain = plugins.sentence(Refusal("no refunds on Sundays"))
    undeclared = plugins.sentence(Refusal("closed today", code="echo.closed"))
    assert say(coded, "zh-CN") == say(coded, "en") == "too late for Monday"
    assert say(plain, "zh-CN") == "no refunds on Sundays"
    assert say(undeclared, "zh-CN") == "closed today"


@pytest.fixture
def crm(make_runtime):
    return build_world(make_runtime(plugins=PLUGINS))


@pytest.fixture
def client(crm):
    with TestClient(create_app(crm.runtime)) as client:
        yield client


@pytest.fixture
def quote(crm):
    records = crm.runtime.records
    account = records.create(SYSTEM, "account", {"name": "Buyer Co"})
    opportunity = records.create(SYSTEM, "opportunity", {"name": "Line 4", "account": account["id"], "close_date": "2026-09-30"})
    return records.create(SYSTEM, "quote", {"name": "Q1", "opportunity": opportunity["id"]})


def test_a_field_error_answers_in_chinese_with_its_code_and_params(client):
    refused = client.post("/api/records/account", json={"name": "Acme", "nmae": "x", "employees": "many"},
                          headers={**bearer(client, "root"), **CHINESE})

    assert refused.status_code == 422, refused.text
    body = refused.json()
    errors = {e["field"]: e for e in body["errors"]}
    assert errors["nmae"]["code"] == "unknown_field" and errors["nmae"]["params"]["object"] == "account"
    assert errors["nmae"]["message"] == "不是 account 的字段（你是不是想写“name”？）"
    assert errors["employees"]["code"] == "wrong_type"
    assert errors["employees"]["params"] == {"expected": "整数", "value": "'many'"}
    assert errors["employees"]["message"] == "必须是整数；收到的是 'many'。"
    assert body["message"].startswith("account 记录无效：")


def test_the_same_field_error_stays_english_without_a_language(client):
    refused = client.post("/api/records/account", json={"name": "Acme", "employees": "many"}, headers=bearer(client, "root"))

    error = refused.json()["errors"][0]
    assert (error["message"], error["code"], error["params"]) == ("must be a whole number; got 'many'", "wrong_type",
                                                                   {"expected": "a whole number", "value": "'many'"})
    assert error["messages"]["zh-CN"] == "必须是整数；收到的是 'many'。"


def test_a_plugins_refusal_answers_in_chinese_with_the_plugins_code_and_the_names_unchanged(client, crm, quote):
    product = crm.runtime.records.create(SYSTEM, "product", {"name": "Pump “Blue” P-1"})

    refused = client.post("/api/records/quote_line", json={"quote": quote["id"], "product": product["id"], "quantity": 1},
                          headers={**bearer(client, "root"), **CHINESE})

    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["field"], error["code"], error["params"]) == ("list_price", "sales.no_list_price", {"product": "Pump “Blue” P-1"})
    assert error["message"] == "请填写标价：产品“Pump “Blue” P-1”没有单价。"
    assert error["messages"]["en"] == "give a list price: the product 'Pump “Blue” P-1' has no unit price"


def test_a_bom_that_contains_its_own_product_is_refused_in_chinese(client, crm):
    records = crm.runtime.records
    pump = records.create(SYSTEM, "product", {"name": "Pump P-100"})
    bom = records.create(SYSTEM, "bom", {"product": pump["id"], "revision": "A"})

    refused = client.post("/api/records/bom_line", json={"bom": bom["id"], "component": pump["id"], "quantity": 1},
                          headers={**bearer(client, "root"), **CHINESE})

    assert refused.status_code == 422, refused.text
    [error] = refused.json()["errors"]
    assert (error["field"], error["code"], error["params"]) == ("component", "manufacturing_bom.own_component", {"product": "Pump P-100"})
    assert error["message"] == "Pump P-100 不能作为自己 BOM 的组件。"


def test_a_bad_filter_answers_in_chinese_with_code_and_params(client):
    refused = client.get("/api/records/account?nme=x&limit=900", headers={**bearer(client, "root"), **CHINESE})

    assert refused.status_code == 400
    body = refused.json()
    problems = {p["parameter"]: p for p in body["errors"]}
    assert problems["nme"]["code"] == "not_filterable_field"
    assert problems["nme"]["params"] == {"field": "nme", "object": "account", "hint": "（你是不是想写“name”？）"}
    assert problems["nme"]["message"] == "“nme”不是 account 的字段（你是不是想写“name”？）"
    assert (problems["limit"]["code"], problems["limit"]["params"]) == ("between", {"name": "limit", "low": 1, "high": 500})
    assert problems["limit"]["message"] == "limit 必须在 1 到 500 之间。"
    assert sorted(body["message"].rstrip("。").split("；")) == ["limit：limit 必须在 1 到 500 之间", "nme：“nme”不是 account 的字段（你是不是想写“name”？）"]


def test_a_user_whose_language_is_chinese_reads_chinese_without_asking(client, crm):
    crm.runtime.records.update(SYSTEM, "user", crm.users["alice"], {"language": "zh_cn"},
                               version=crm.runtime.records.get(SYSTEM, "user", crm.users["alice"])["version"])
    alice = bearer(client, "alice")

    refused = client.get("/api/records/account?stage=won", headers=alice)
    missing = client.get("/api/records/account/999999", headers=alice)
    english_asked = client.get("/api/records/account?stage=won", headers={**alice, "Accept-Language": "en"})

    assert refused.json()["errors"][0]["message"] == "“stage”不是 account 的字段"
    assert missing.status_code == 404 and missing.json()["message"] == "account 999999 不存在。"
    assert english_asked.json()["errors"][0]["message"] == "“stage”不是 account 的字段", "the user's own choice comes first"


def test_a_wrong_password_is_answered_in_the_requests_language(client):
    refused = client.post("/api/auth/token", json={"username": "root", "password": "wrong password", "name": "t"}, headers=CHINESE)

    assert refused.status_code == 401 and refused.json()["message"] == "用户名或密码错误。"


def test_a_plugins_refusal_on_a_chinese_form_is_in_chinese(client, crm):
    page = client.get("/login")
    csrf = re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)
    client.post("/login", data={"username": "root", "password": PASSWORD, "_csrf_token": csrf})
    client.post("/language", data={"_csrf_token": csrf, "language": "zh-CN", "next": "/"})
    lead = crm.runtime.records.create(SYSTEM, "lead", {"last_name": "Lin", "company": "Lin Tea", "status": "new"})
    form = client.get(f"/r/lead/{lead['id']}/edit").text
    version = re.search(r'name="version" value="(\d+)"', form).group(1)

    refused = client.post(f"/r/lead/{lead['id']}/edit", data={"_csrf_token": csrf, "version": version, "last_name": "Lin",
                                                               "company": "Lin Tea", "status": "converted"})

    assert refused.status_code == 422
    alerts = re.findall(r'<p class="error" role="alert">([^<]*)</p>', refused.text)
    assert any(a.endswith("已转化的线索需要指定它转成的客户；请先选择或新建客户。") for a in alerts), alerts
    assert "a converted lead needs" not in refused.text
