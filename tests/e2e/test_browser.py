"""People using the pages in Chromium at 360 px: file, work, approve, count, rate; errors; language."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot
from tests.web.photos import png_bytes

# One server and one Chromium for all of them: on one xdist worker (scripts/test uses --dist loadgroup).
pytestmark = pytest.mark.xdist_group("e2e")


def _login(page, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto("/web/login")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def _act(page, action: str, **fields: str) -> None:  # type: ignore[no-untyped-def]
    box = page.locator(f"#action-{action}")
    if box.get_attribute("open") is None:
        box.locator("summary").click()
    for name, value in fields.items():
        control = box.locator(f"[name={name}]")
        if control.first.get_attribute("type") == "radio":
            box.locator(f"input[name={name}][value='{value}']").check()
        elif control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    box.locator("button[type=submit]").click()


def _file_complaint(page) -> tuple[str, str, str]:  # type: ignore[no-untyped-def]
    page.goto("/web/file")
    page.get_by_label("Complaint", exact=True).check()
    page.locator("input[name=category][value=neighbour_noise]").check()
    page.get_by_label("In a few words").fill("Loud music every night")
    page.get_by_label("What happened?").fill("The flat above plays loud music after midnight.")
    page.get_by_label("Address").fill("Building 3, Jixiang Lane")
    page.get_by_label("Your community").select_option("C1")
    page.get_by_label("Your name").fill("Alice Liu")
    page.get_by_label("Phone number").fill("13812345678")
    page.get_by_label("Photo (optional)").set_input_files(
        {"name": "my street.png", "mimeType": "image/png", "buffer": png_bytes()}
    )
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#tracking-no")).to_be_visible()
    tracking_no = page.locator("#tracking-no").inner_text().strip()
    access_code = page.locator("#access-code").inner_text().strip()
    return tracking_no, access_code, page.url


def test_a_complaint_goes_from_filing_to_closed_through_the_pages(new_page) -> None:  # type: ignore[no-untyped-def]
    resident = new_page()
    resident.goto("/web/")
    screenshot(resident, "home")
    tracking_no, access_code, _ = _file_complaint(resident)
    assert re.fullmatch(r"JS\d{8}-[A-Z0-9]{6}", tracking_no)
    assert len(access_code) == 10
    screenshot(resident, "filed")
    resident.get_by_role("link", name="Follow this case").click()
    case_url = resident.url
    expect(resident.locator("#case-state")).to_have_text("Being routed")
    expect(resident.locator("#timeline")).to_contain_text("The case was received.")
    expect(resident.locator(".photos img")).to_have_count(1)
    screenshot(resident, "case-resident")

    worker = new_page()
    _login(worker, "w1")
    expect(worker).to_have_url(re.compile(r"/web/work$"))
    card = worker.locator(".queue .card", has_text=tracking_no)
    expect(card).to_be_visible()
    expect(worker.locator("#count-total")).to_have_text("1")
    screenshot(worker, "work-queue")
    card.get_by_role("link").click()
    # Only the actions the service allows now: a worker may claim an unassigned case, nothing else.
    expect(worker.locator("details.action")).to_have_count(1)
    _act(worker, "claim")
    expect(worker.locator("#case-state")).to_have_text("Being handled")
    expect(worker.locator("#action-claim")).to_have_count(0)
    _act(worker, "contact", note="Called both neighbours; quiet hours agreed from 22:00.")
    expect(worker.locator("#timeline")).to_contain_text("The handler contacted the parties.")
    screenshot(worker, "case-worker")
    _act(worker, "resolve", outcome="agreement", summary="Neighbours agreed to quiet hours.")
    expect(worker.locator("#case-state")).to_have_text("Result under review")

    supervisor = new_page()
    _login(supervisor, "sup")
    expect(supervisor).to_have_url(re.compile(r"/web/dashboard$"))
    supervisor.goto(case_url)
    _act(supervisor, "approve")
    expect(supervisor.locator("#case-state")).to_have_text("Waiting for your rating")
    supervisor.goto("/web/dashboard")
    row = supervisor.locator("#rates tr[data-code=C1]")
    expect(row.locator("td.received")).to_have_text("1")
    expect(row).to_contain_text("100%")
    expect(supervisor.locator("svg.chart")).to_be_visible()
    screenshot(supervisor, "dashboard")
    supervisor.get_by_role("link", name="中文").click()
    expect(supervisor.locator("#rates tr[data-code=C1] td.received")).to_have_text("1")
    screenshot(supervisor, "dashboard-zh")

    # The filer comes back on another device with the number and the code.
    again = new_page()
    again.goto("/web/track")
    screenshot(again, "track")
    again.get_by_label("Tracking number").fill(tracking_no)
    again.get_by_label("Access code").fill(access_code.lower())
    again.get_by_role("button", name="Show my case").click()
    expect(again.locator("#case-state")).to_have_text("Waiting for your rating")
    _act(again, "rate", resolved="yes", satisfaction="5", comment="Quiet now, thank you.")
    expect(again.locator("#case-state")).to_have_text("Closed")
    expect(again.locator("#timeline")).to_contain_text("Rated 5 of 5.")
    expect(again.locator("details.action")).to_have_count(0)
    screenshot(again, "case-closed")


def test_a_missing_field_is_shown_beside_it_and_the_input_is_kept(new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    page.goto("/web/file")
    page.get_by_label("Complaint", exact=True).check()
    page.get_by_label("What happened?").fill("Rubbish has not been collected for a week.")
    page.get_by_label("Address").fill("Building 7")
    page.get_by_label("Your name").fill("Bob")
    page.get_by_label("Phone number").fill("13800000000")
    page.get_by_role("button", name="Send").click()
    title = page.get_by_label("In a few words")
    expect(title).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#title-error")).to_have_text(re.compile("Please fill in this field"))
    # The error sits in the title's own field box, right above its input.
    expect(page.locator(".field.has-error").filter(has=page.locator("#title"))).to_have_count(1)
    expect(page.get_by_label("What happened?")).to_have_value("Rubbish has not been collected for a week.")
    expect(page.get_by_label("Address")).to_have_value("Building 7")
    expect(page.get_by_label("Complaint", exact=True)).to_be_checked()
    screenshot(page, "file-with-error")

    # On a Chinese page the messages are Chinese too, the pydantic words never show.
    page = new_page(locale="zh-CN")
    page.goto("/web/file")
    page.locator("input[name=kind][value=complaint]").check()
    page.locator("#title").fill("很长" * 101)
    page.locator("#contact_phone").fill("打电话给我")
    page.locator("button[type=submit]").click()
    expect(page.locator("#title-error")).to_have_text(re.compile("最多只能输入 200 个字"))
    expect(page.locator("#contact_phone-error")).to_have_text(re.compile("请输入电话号码"))
    expect(page.locator("#description-error")).to_have_text(re.compile("请填写此项"))
    expect(page.locator("#contact_phone")).to_have_value("打电话给我")
    expect(page.locator("main")).not_to_contain_text("String should")
    screenshot(page, "file-with-error-zh")


def test_the_language_follows_the_browser_and_the_switch(new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page(locale="zh-CN")
    page.goto("/web/file")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("h1")).to_have_text("反映问题或纠纷")
    screenshot(page, "file-zh")
    page.get_by_role("link", name="English").click()
    expect(page).to_have_url(re.compile(r"/web/file$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("File a complaint or dispute")
    page.goto("/web/login")
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    screenshot(page, "login")
    page.get_by_role("link", name="中文").click()
    expect(page.get_by_role("button", name="登录")).to_be_visible()


def test_resident_pages_and_the_not_found_page_render_on_a_phone(new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    _login(page, "alice")
    expect(page).to_have_url(re.compile(r"/web/my$"))
    screenshot(page, "my-cases")
    page.goto("/web/cases/999999")
    expect(page.locator("h1")).to_have_text("Not found")
    screenshot(page, "not-found")
    # Keyboard: the skip link is the first stop and leads to the content.
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
