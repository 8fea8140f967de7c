"""The pages' small parts: catalogues, language choice, photo sniffing, percentiles, the SVG chart."""

from __future__ import annotations

from datetime import date

from jiesu.web.catalogues import problems
from jiesu.web.chart import response_chart
from jiesu.web.dashboard import DayTimes
from jiesu.web.i18n import choose_locale, gettext_for
from jiesu.web.uploads import sniff_image
from tests.web.photos import png_bytes


def test_every_message_has_a_chinese_translation_and_the_mo_files_are_compiled() -> None:
    assert problems() == []


def test_the_chinese_catalogue_is_used() -> None:
    assert gettext_for("zh_CN")("Track a case") == "查询进度"
    assert gettext_for("en")("Track a case") == "Track a case"


def test_the_language_is_the_switch_then_the_browser_then_chinese() -> None:
    assert choose_locale("en", "zh-CN,zh;q=0.9") == "en"
    assert choose_locale(None, "en-US,en;q=0.9") == "en"
    assert choose_locale(None, "zh-TW,zh;q=0.9") == "zh_CN"
    assert choose_locale("fr", "de-DE") == "zh_CN"
    assert choose_locale(None, None) == "zh_CN"


def test_photos_are_recognised_by_their_bytes() -> None:
    assert sniff_image(png_bytes()[:16]) == ("image/png", "png")
    assert sniff_image(b"\xff\xd8\xff\xe0" + b"\x00" * 12) == ("image/jpeg", "jpg")
    assert sniff_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == ("image/webp", "webp")
    assert sniff_image(b"GIF89a" + b"\x00" * 10) is None
    assert sniff_image(b"<svg xmlns=") is None


def test_the_chart_draws_both_series_with_distinct_line_styles_and_names() -> None:
    days = [DayTimes(date(2026, 11, d), 3, 2.0 + d, 5.0 + d) for d in (1, 2, 3)]
    svg = str(response_chart(days, "Response <times>", ("hours", "minutes"), "Median", "P90"))
    assert svg.count("<polyline") == 2
    assert svg.count("stroke-dasharray") == 2  # the p90 line and its legend sample
    assert svg.count("<circle") == 3 + 1 and svg.count("<rect") == 1 + 3 + 1
    assert "Response &lt;times&gt;" in svg and ">hours<" in svg
    quick = str(response_chart([DayTimes(date(2026, 11, 1), 1, 0.25, 0.5)], "t", ("hours", "min"), "M", "P"))
    assert ">min<" in quick
