"""A worker mediates a dispute in Chromium at 360 px: parties, consent, start, a session, its record."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.e2e.conftest import screenshot
from tests.e2e.test_browser import _login


def _dispute_with_w3(base: str) -> int:
    """Filed and dispatched through the API, in Community Three (away from the other browser tests)."""
    with httpx.Client(base_url=base, timeout=10) as client:

        def token(user: str) -> dict[str, str]:
            answer = client.post("/api/auth/token", json={"username": user, "password": PASSWORD})
            return {"Authorization": f"Bearer {answer.json()['access_token']}"}

        body = {
            "kind": "dispute",
            "category": "neighbour_dispute",
            "title": "Water leaking from the flat above",
            "description": "Water leaks through the ceiling since May.",
            "address": "Building 5",
            "jurisdiction_code": "C3",
            "contact": {"name": "Alice Liu", "phone": "13812345678"},
        }
        case = client.post("/api/cases", json=body, headers=token("alice")).json()
        dispatch = {"version": case["version"], "assignee": "w3"}
        answer = client.post(
            f"/api/cases/{case['id']}/actions/dispatch", json=dispatch, headers=token("disp")
        )
        assert answer.status_code == 200, answer.text
        return case["id"]


def _open(page, form: str):  # type: ignore[no-untyped-def]
    box = page.locator(f"#mediation-{form}")
    if box.get_attribute("open") is None:
        box.locator("summary").click()
    return box


def test_a_worker_mediates_a_dispute_with_the_case_page_forms(new_page, server) -> None:  # type: ignore[no-untyped-def]
    case_id = _dispute_with_w3(server)
    page = new_page()
    _login(page, "w3")
    page.goto(f"/web/cases/{case_id}")
    # Only what needs no party yet: add a party, or a mediator to the panel.
    expect(page.locator("details[id^=mediation-]")).to_have_count(2)
    for side, name, relationship in (
        ("applicant", "Alice Liu", "downstairs"),
        ("respondent", "Bob Wang", "upstairs"),
    ):
        box = _open(page, "party")
        box.get_by_label("Side").select_option(side)
        box.locator("input[name=name]").fill(name)
        box.get_by_label("Relationship to the case").fill(relationship)
        box.get_by_label("Phone number").fill("13812345678")
        box.get_by_role("button", name="Add a party").click()
        expect(page.locator("#mediation-parties")).to_contain_text(name)
    for label in ("Alice Liu (downstairs)", "Bob Wang (upstairs)"):
        box = _open(page, "consent")
        box.get_by_label("Party").select_option(label=label)
        box.locator("select[name=status]").select_option("given")
        box.get_by_label("How the answer was given").select_option("in_person")
        box.get_by_role("button", name="Record a party's consent").click()
    expect(page.locator("#mediation-parties")).not_to_contain_text("Not yet asked")
    _open(page, "start").get_by_role("button", name="Start mediation").click()
    expect(page.locator("#mediation-status")).to_have_text("In progress")

    # A session without its place: the error sits beside the field, the time stays as typed.
    box = _open(page, "schedule")
    box.get_by_label("Date and time").fill("2099-01-15T10:30")
    box.get_by_label("Alice Liu (downstairs)").check()
    box.get_by_label("Bob Wang (upstairs)").check()
    box.get_by_role("button", name="Plan a mediation session").click()
    box = page.locator("#mediation-schedule")
    expect(box.locator("#m-schedule-place-error")).to_have_text(re.compile("Please fill in this field"))
    expect(box.get_by_label("Place")).to_have_attribute("aria-invalid", "true")
    expect(box.get_by_label("Date and time")).to_have_value("2099-01-15T10:30")
    expect(box.get_by_label("Bob Wang (upstairs)")).to_be_checked()
    box.get_by_label("Place").fill("Community office, room 2")
    box.get_by_role("button", name="Plan a mediation session").click()
    expect(page.locator("#mediation-sessions")).to_contain_text("2099-01-15 10:30")

    box = _open(page, "hold")
    box.get_by_label("Session").select_option(index=1)
    box.get_by_label("Alice Liu (downstairs)").check()
    box.get_by_label("What was discussed and agreed").fill("Both sides heard; the pipe will be repaired.")
    box.get_by_role("button", name="Record a held session").click()
    expect(page.locator("#mediation-sessions [data-status=held]")).to_have_count(1)
    expect(page.locator("#mediation-hold")).to_have_count(0)  # no session is left to hold
    expect(page.locator("#timeline")).to_contain_text("A mediation session was held.")
    screenshot(page, "case-mediation")
    page.get_by_role("link", name="中文").click()
    expect(page.locator("#mediation-h")).to_have_text("调解")
    screenshot(page, "case-mediation-zh")
