"""Races: twenty workers claiming one case; retried submissions with one Idempotency-Key."""

from __future__ import annotations

import asyncio

import pytest

from jiesu.cases import intake, service
from tests.conftest import PASSWORD, Api

BODY = {
    "kind": "complaint",
    "category": "parking",
    "title": "Car blocks the fire lane",
    "description": "Every evening a car parks in the fire lane",
    "address": "Building 7",
    "jurisdiction_code": "C1",
    "contact": {"name": "Sun Li", "phone": "13600000000"},
}


async def test_twenty_workers_claiming_one_case_one_wins(api: Api) -> None:
    workers = [f"claimer{i}" for i in range(20)]
    for name in workers:
        response = await api.as_user(
            "admin",
            "POST",
            "/api/users",
            json={
                "username": name,
                "password": PASSWORD,
                "role": "worker",
                "display_name": name,
                "jurisdiction_code": "C1",
            },
        )
        assert response.status_code == 201
    headers = {name: await api.login(name) for name in workers}
    case = await api.file()

    async def claim(name: str) -> int:
        response = await api.client.post(
            f"/api/cases/{case['id']}/actions/claim", json={"version": case["version"]}, headers=headers[name]
        )
        return response.status_code

    statuses = await asyncio.gather(*(claim(name) for name in workers))
    assert sorted(statuses) == [200] + [409] * 19
    events = (await api.as_user("disp", "GET", f"/api/cases/{case['id']}/events")).json()
    assert [e["action"] for e in events].count("claim") == 1
    claimed = await api.case("disp", case["id"])
    assert claimed["assignee"] in workers
    assert claimed["version"] == case["version"] + 1


async def test_concurrent_retries_with_one_idempotency_key_make_one_case(api: Api) -> None:
    headers = {**(await api.login("alice")), "Idempotency-Key": "retry-7f3c"}

    async def submit() -> dict:
        response = await api.client.post("/api/cases", json=BODY, headers=headers)
        assert response.status_code == 201, response.text
        return response.json()

    answers = await asyncio.gather(*(submit() for _ in range(10)))
    assert len({a["id"] for a in answers}) == 1
    assert len({a["tracking_no"] for a in answers}) == 1
    listed = (await api.as_user("alice", "GET", "/api/cases")).json()["items"]
    assert len(listed) == 1
    events = (await api.as_user("alice", "GET", f"/api/cases/{answers[0]['id']}/events")).json()
    assert [e["action"] for e in events] == ["file", "accept"]


async def test_anonymous_retry_gets_the_same_case_without_its_access_code(api: Api) -> None:
    headers = {"Idempotency-Key": "anon-key-1"}
    first = (await api.client.post("/api/cases", json=BODY, headers=headers)).json()
    again = (await api.client.post("/api/cases", json=BODY, headers=headers)).json()
    assert again["id"] == first["id"]
    # issue 16 point 13: the key alone proves nothing, so a replay gives no access code (nor contact).
    assert first["access_code"] and again["access_code"] is None


async def test_same_key_with_a_different_body_is_refused(api: Api) -> None:
    headers = {**(await api.login("alice")), "Idempotency-Key": "k-1"}
    assert (await api.client.post("/api/cases", json=BODY, headers=headers)).status_code == 201
    other = {**BODY, "title": "Something else"}
    response = await api.client.post("/api/cases", json=other, headers=headers)
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]


async def test_the_same_key_from_two_residents_makes_two_cases(api: Api) -> None:
    first = await api.as_user("alice", "POST", "/api/cases", json=BODY, headers={"Idempotency-Key": "k"})
    second = await api.as_user("bob", "POST", "/api/cases", json=BODY, headers={"Idempotency-Key": "k"})
    assert first.json()["id"] != second.json()["id"]


async def test_a_tracking_number_already_taken_is_drawn_again(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six random characters a day: at tens of thousands of filings a day two would share one now and
    then. The batch draws again instead of failing the filing."""
    draws = iter(["JS20261123-AAAAAA", "JS20261123-AAAAAA", "JS20261123-AAAAAA", "JS20261123-BBBBBB"])
    monkeypatch.setattr(intake, "tracking_number", lambda now: next(draws))
    monkeypatch.setattr(service, "tracking_number", lambda now: next(draws))
    first = await api.file()
    second = await api.file()
    assert first["tracking_no"] == "JS20261123-AAAAAA"
    assert second["tracking_no"] == "JS20261123-BBBBBB"
