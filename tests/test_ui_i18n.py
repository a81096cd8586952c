"""The UI speaks English and Simplified Chinese: every sentence it shows is in the catalogue."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from ui.i18n import LOCALE_DIR, negotiate, translator

UI = Path(__file__).resolve().parents[1] / "ui"
CHINESE = re.compile(r"[\u3400-\u9fff]")
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]


def sentences() -> set[str]:
    found = extract_from_dir(str(UI), METHODS, keywords={"_": None, "t": None}, options_map={"templates/**.html": {}})
    return {message for _file, _line, message, _comments, _context in found}


def catalogue() -> dict[str, str]:
    with open(LOCALE_DIR / "zh_CN" / "LC_MESSAGES" / "messages.po", "rb") as po:
        return {m.id: m.string for m in read_po(po) if m.id}


def test_every_sentence_of_the_ui_has_a_chinese_translation():
    source, translated = sentences(), catalogue()
    assert len(source) > 50
    missing = sorted(s for s in source if not CHINESE.search(translated.get(s) or ""))
    assert missing == []


def test_the_catalogue_holds_no_sentence_the_ui_no_longer_uses():
    assert sorted(set(catalogue()) - sentences()) == []


def test_placeholders_survive_translation():
    for english, chinese in catalogue().items():
        assert set(re.findall(r"\{\w+\}", english)) == set(re.findall(r"\{\w+\}", chinese)), english
    assert translator("zh-CN")("Welcome, {name}", name="林舟") == "欢迎，林舟"


def test_the_language_is_the_users_else_the_browsers():
    assert negotiate("zh_cn", "en-US") == "zh-CN"
    assert negotiate("en", "zh-CN") == "en"
    assert negotiate(None, "zh-TW,zh;q=0.8") == "zh-CN"
    assert negotiate(None, "fr-FR, en;q=0.5") == "en"
    assert negotiate(None, "") == "en"
