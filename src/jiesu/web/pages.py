"""Rendering helpers shared by the page controllers: locale, time zone, the page context."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER
from litestar.template.config import TemplateConfig

from jiesu.config import web_timezone_from_env
from jiesu.web import labels
from jiesu.web.i18n import HTML_LANG, LANG_COOKIE, LOCALES, choose_locale, gettext_for, locale_name
from jiesu.web.messages import localize
from jiesu.web.session import session_user

PREFIX = "/web"
TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


@cache
def display_tz() -> tzinfo:
    """The time zone pages show times in (JIESU_WEB_TIMEZONE, Asia/Shanghai by default)."""
    try:
        return ZoneInfo(web_timezone_from_env())
    except (ZoneInfoNotFoundError, ValueError):
        return timezone(timedelta(hours=8), "CST")


def when(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(display_tz()).strftime("%Y-%m-%d %H:%M")


def template_config() -> TemplateConfig:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = when
    environment.filters["pct"] = lambda rate: "—" if rate is None else f"{rate * 100:.0f}%"
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment))


def request_locale(request: Request[Any, Any, Any]) -> str:
    return choose_locale(request.cookies.get(LANG_COOKIE), request.headers.get("accept-language"))


def gettext(request: Request[Any, Any, Any]) -> Any:
    return gettext_for(request_locale(request))


def safe_next(target: str | None, default: str = f"{PREFIX}/") -> str:
    """Only a path inside the pages, so the switch and login cannot redirect elsewhere."""
    if target and target.startswith(f"{PREFIX}/") and "//" not in target and "\\" not in target:
        return target
    return default


def render(request: Request[Any, Any, Any], name: str, status_code: int = 200, **context: Any) -> Template:
    locale = request_locale(request)
    # After a form was sent, the language switch returns to the page, not to the form's address.
    path = re.sub(r"/actions/[^/]+$", "", request.url.path)
    context.update(
        _=gettext_for(locale),
        locale=locale,
        html_lang=HTML_LANG[locale],
        languages=[(code, locale_name(code)) for code in LOCALES],
        here=quote(path),
        current_user=session_user(request),
        labels=labels,
        prefix=PREFIX,
        zone=str(display_tz()),
    )
    gettext = gettext_for(locale)
    if context.get("notice"):
        context["notice"] = localize(context["notice"], gettext, locale)
    context["errors"] = {
        name: localize(message, gettext, locale) for name, message in context.get("errors", {}).items()
    }
    context.setdefault("values", {})
    return Template(
        template_name=name,
        context=context,
        status_code=status_code,
        headers={"Cache-Control": "no-store"},
    )


def see_other(path: str) -> Redirect:
    return Redirect(path=path, status_code=HTTP_303_SEE_OTHER)
