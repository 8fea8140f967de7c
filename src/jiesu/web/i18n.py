"""Message catalogues (Babel, gettext .po/.mo) and the choice of language for a request.

Templates and page code use English message ids; ``translations/<locale>/LC_MESSAGES/messages.mo``
holds each language. The .mo files are compiled from the .po files by ``python -m jiesu.web.catalogues
compile`` and committed; a test fails when a .mo is older in content than its .po.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, negotiate_locale
from babel.support import NullTranslations, Translations

TRANSLATIONS_DIR = Path(__file__).parent / "translations"
DOMAIN = "messages"
LOCALES = ("zh_CN", "en")
DEFAULT_LOCALE = "zh_CN"
LANG_COOKIE = "jiesu_lang"
# What <html lang> says for each locale.
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


def N_(message: str) -> str:
    """Mark a string for extraction; translate it later with the request's gettext."""
    return message


@cache
def translations(locale: str) -> NullTranslations:
    loaded = Translations.load(str(TRANSLATIONS_DIR), [locale], DOMAIN)
    return loaded


def choose_locale(cookie: str | None, accept_language: str | None) -> str:
    """The switch (a cookie) wins; otherwise the browser's preference; otherwise Chinese."""
    if cookie in LOCALES:
        return cookie
    preferred = []
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*":
            preferred.append(tag.replace("-", "_"))
    return negotiate_locale(preferred, list(LOCALES), aliases={"zh": "zh_CN", "en": "en"}) or DEFAULT_LOCALE


def gettext_for(locale: str) -> Any:
    return translations(locale).gettext


def locale_name(locale: str) -> str:
    """The language's own name, for the switch (中文, English)."""
    return "中文" if locale == "zh_CN" else Locale.parse(locale).get_display_name(locale).title()
