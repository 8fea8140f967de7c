"""Metrics that move, request ids carried through, and logs free of names and phone numbers."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from jiesu.ops.logs import json_formatter
from tests.conftest import Api

NAME, PHONE = "Zhang Weiming", "13955501234"


def metric(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" (\S+)"
    found = re.search("^" + pattern + "$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.fixture
def captured_logs() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


async def test_metrics_are_exposed_and_move_after_requests(api: Api) -> None:
    before = (await api.client.get("/metrics")).text
    assert metric(before, "jiesu_cases", state="triage") == 0
    case = await api.file()
    await api.file(jurisdiction_code=None)
    await api.act("disp", case["id"], "dispatch", assignee="w1")
    response = await api.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    assert metric(after, "jiesu_cases", state="mediation") == 1
    assert metric(after, "jiesu_cases", state="intake") == 1
    assert metric(after, "jiesu_outbox_backlog") >= 2  # accepted, assigned, handler
    route = "/api/cases"
    count = metric(after, "jiesu_http_request_duration_seconds_count", method="POST", route=route)
    assert count == 2
    assert metric(after, "jiesu_http_requests_total", method="POST", route=route, status="201") == 2
    assert metric(after, "jiesu_sweeper_lag_seconds") == 0


async def test_overdue_cases_and_sweeper_lag_are_counted_by_level(api: Api) -> None:
    from datetime import timedelta

    from jiesu.cases.tables import Case

    case = await api.file()
    late = api.client.app.state.cases.clock() - timedelta(hours=1)  # type: ignore[attr-defined]
    await Case.update({Case.due_at: late}).where(Case.id == case["id"])
    text = (await api.client.get("/metrics")).text
    assert metric(text, "jiesu_cases_overdue", level="community", clock="response") == 1
    await Case.update({Case.state: "feedback", Case.feedback_due: late}).where(Case.id == case["id"])
    lag = metric((await api.client.get("/metrics")).text, "jiesu_sweeper_lag_seconds")
    assert 3500 < lag < 4000


async def test_request_id_is_carried_in_and_out_and_logged(api: Api, captured_logs: io.StringIO) -> None:
    given = await api.client.get("/health", headers={"X-Request-ID": "proxy-42.a"})
    assert given.headers["X-Request-ID"] == "proxy-42.a"
    made = await api.client.get("/api/cases")  # 401: errors carry an id too
    assert made.status_code == 401
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-ID"])
    hostile = await api.client.get("/health", headers={"X-Request-ID": "bad id\nwith newline"})
    assert hostile.headers["X-Request-ID"] != "bad id\nwith newline"
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    requests = [line for line in lines if line["event"] == "request"]
    assert {"request_id": "proxy-42.a", "route": "/health", "status": 200}.items() <= requests[0].items()
    assert requests[1]["status"] == 401 and requests[1]["request_id"] == made.headers["X-Request-ID"]


async def test_logs_never_hold_a_name_or_a_phone(api: Api, captured_logs: io.StringIO) -> None:
    contact = {"name": NAME, "phone": PHONE}
    resident_case = await api.file("alice", contact=contact)
    anonymous = await api.file(None, contact=contact, jurisdiction_code=None)
    await api.act("disp", resident_case["id"], "dispatch", assignee="w1")
    await api.act("w1", resident_case["id"], "contact", note=f"Called {NAME} on {PHONE}")
    key = (await api.as_user("admin", "POST", "/api/open311/keys", json={"name": "app"})).json()
    filed = await api.client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key["api_key"],
            "service_code": "sanitation",
            "description": f"{NAME} reports bins; call {PHONE}",
            "address_string": "Gate 2",
            "first_name": NAME,
            "phone": PHONE,
        },
    )
    assert filed.status_code == 201
    bad = await api.client.post("/api/cases", json={"kind": "complaint", "contact": contact})
    assert bad.status_code == 400
    registered = await api.client.post(
        "/api/residents",
        json={"username": "zhangwm", "password": "long-password-1", "display_name": NAME, "phone": PHONE},
    )
    assert registered.status_code == 201
    await api.client.get(f"/api/cases/{anonymous['id']}")
    output = captured_logs.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    assert sum(line["event"] == "request" for line in lines) >= 8
    for secret in (NAME, "Zhang", "Weiming", PHONE, PHONE[-8:], key["api_key"]):
        assert secret not in output
