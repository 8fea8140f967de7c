"""Form errors in the page's language: each kind of mistake has its own catalogue message."""

from __future__ import annotations

import re

import pytest

from jiesu.web.i18n import gettext_for
from jiesu.web.messages import Msg, from_pydantic, from_service, localize
from tests.conftest import Api
from tests.web.test_pages import FILING, SQLITE_ONLY, post_form, web_login

ENGLISH_VALIDATOR_WORDS = ("String should", "Input should", "Field required", "must be", "not valid")


def _error(html: str, field_id: str) -> str:
    match = re.search(rf'id="{field_id}-error"><span aria-hidden="true">⚠ </span>([^<]*)</p>', html)
    assert match, f"no error beside {field_id}"
    return match.group(1)


@SQLITE_ONLY
async def test_filing_errors_come_in_chinese_on_a_chinese_page(api: Api) -> None:
    await web_login(api.client, None)
    api.client.headers["Accept-Language"] = "zh-CN,zh;q=0.9"
    typed = {**FILING, "title": "很长" * 101, "contact_phone": "打电话给我", "kind": "quarrel"}
    response = await post_form(api.client, "/web/file", "/web/file", typed)
    assert response.status_code == 400
    html = response.text
    assert _error(html, "title") == "最多只能输入 200 个字。"
    assert _error(html, "contact_phone") == "请输入电话号码：至少 5 位数字。"
    assert _error(html, "kind") == "请从选项中选择一项。"
    assert not any(word in html for word in ENGLISH_VALIDATOR_WORDS)
    assert 'value="打电话给我"' in html  # what was typed stays in the field


@SQLITE_ONLY
async def test_case_form_errors_name_the_kind_of_mistake_in_each_language(api: Api) -> None:
    case = await api.file("alice")
    await api.act("w1", case["id"], "claim")
    page = f"/web/cases/{case['id']}"
    version = str((await api.case("w1", case["id"]))["version"])
    await web_login(api.client, "w1")
    for language, too_long, not_a_time, choice in (
        ("en", "Please use at most 4000 characters.", "Please enter a date and time.", "offered options"),
        ("zh-CN", "最多只能输入 4000 个字。", "请输入日期和时间。", "请从选项中选择一项。"),
    ):
        api.client.headers["Accept-Language"] = language
        note = "x" * 4001
        response = await post_form(
            api.client, page, f"{page}/actions/contact", {"version": version, "note": note}
        )
        assert response.status_code == 400
        assert _error(response.text, "contact-note") == too_long
        assert f">{note}</textarea>" in response.text
        response = await post_form(
            api.client,
            page,
            f"{page}/actions/request_extension",
            {"version": version, "until": "soon", "reason": "r"},
        )
        assert _error(response.text, "request_extension-until") == not_a_time
        response = await post_form(
            api.client, page, f"{page}/actions/escalate", {"version": version, "level": "moon", "reason": "r"}
        )
        assert choice in _error(response.text, "escalate-level")
    assert (await api.case("w1", case["id"]))["version"] == int(version)  # nothing was applied


@pytest.mark.parametrize(
    ("error", "english", "chinese"),
    [
        ({"type": "missing", "msg": "Field required"}, "Please fill in this field.", "请填写此项。"),
        (
            {"type": "less_than_equal", "msg": "…", "ctx": {"le": 5}},
            "Please enter a number of at most 5.",
            "请输入不大于 5 的数字。",
        ),
        ({"type": "int_parsing", "msg": "…"}, "Please enter a whole number.", "请输入整数。"),
        (
            {"type": "too_short", "msg": "…", "ctx": {"min_length": 1}},
            "Please choose at least one.",
            "请至少选择一项。",
        ),
    ],
)
def test_pydantic_error_kinds_have_catalogue_messages(error: dict, english: str, chinese: str) -> None:
    message = from_pydantic(error)
    assert localize(message, gettext_for("en"), "en") == english
    assert localize(message, gettext_for("zh_CN"), "zh_CN") == chinese


def test_a_service_sentence_without_a_catalogue_id_is_not_shown_in_english_on_chinese_pages() -> None:
    known = from_service("must be in the future")
    assert localize(known, gettext_for("zh_CN"), "zh_CN") == "请选择将来的时间。"
    unknown = from_service("the moon is not aligned")
    assert unknown == Msg(None, {}, "the moon is not aligned")
    assert localize(unknown, gettext_for("en"), "en") == "the moon is not aligned"
    assert localize(unknown, gettext_for("zh_CN"), "zh_CN") == "此项无法接受，请检查。"
