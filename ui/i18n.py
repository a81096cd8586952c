"""The UI's two languages: gettext catalogues (Babel) for its own words, metadata labels for the rest.

English is the source language; ui/locale/zh_CN/LC_MESSAGES/messages.po holds the
Simplified Chinese. The catalogue is compiled in memory when first used, so no compiled
file is kept beside it. A page's language is the signed-in user's preference (their
``language`` field), else the browser's Accept-Language, else English.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path
from typing import Callable, Mapping

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from core.words import USER_LANGUAGE, negotiate  # noqa: F401 - the page's language is negotiated as the API's is

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "zh-CN")  # as metadata labels name them
LANGUAGE_OF_USER = {v: k for k, v in USER_LANGUAGE.items()}
CATALOGUE = {"zh-CN": "zh_CN"}


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    folder = CATALOGUE.get(lang)
    if folder is None:
        return gettext.NullTranslations()
    with open(LOCALE_DIR / folder / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po, locale=folder)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def translator(lang: str) -> Callable[..., str]:
    """``_("Save")`` in the language; ``_("{n} records", n=3)`` formats after translating."""
    lookup = translations(lang).gettext

    def translate(message: str, **values) -> str:
        text = lookup(message)
        return text.format(**values) if values else text

    return translate


def label(labels: Mapping | None, lang: str, fallback: str = "") -> str:
    """A metadata label ({"en": ..., "zh-CN": ...}) in the language, else English."""
    if not labels:
        return fallback
    return labels.get(lang) or labels.get("en") or fallback


def in_sentence(name: str) -> str:
    """A label inside a sentence: 'Sales Order' -> 'sales order'; words in capitals stay ('SLA Policy' -> 'SLA policy')."""
    return " ".join(word if word.isupper() and len(word) > 1 else word.lower() for word in name.split(" "))
