"""Residents' rights: export, deletion on request, anonymisation after retention; the chain still verifies."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from jiesu.audit.tables import CaseEvent, EventText
from jiesu.audit.texts import reveal_events
from jiesu.cases.tables import Case
from jiesu.clock import system_clock
from jiesu.mediation.tables import MediationParty
from jiesu.notify.tables import OutboxMessage
from jiesu.rights.service import RightsService, retention_lifespan
from jiesu.rights.tables import Erasure
from tests.conftest import Api

NAME, PHONE = "Li Xiaohong", "13611112222"
CONTACT = {"name": NAME, "phone": PHONE}
ERASED = "[erased]"


async def closed_case(api: Api, filer: str = "alice") -> dict[str, Any]:
    case = await api.file(filer, contact=CONTACT, description=f"{NAME} at {PHONE} is kept awake")
    await api.act("disp", case["id"], "dispatch", assignee="w1")
    await api.act("w1", case["id"], "contact", note=f"Called {NAME} on {PHONE}")
    await api.act("w1", case["id"], "resolve", outcome="agreement", summary=f"{NAME} and flat 502 agreed")
    await api.act("sup", case["id"], "approve")
    rated = await api.act(filer, case["id"], "rate", resolved=True, satisfaction=4, comment=f"thanks, {NAME}")
    assert rated.json()["state"] == "closed", rated.text
    return rated.json()


async def everything_stored() -> str:
    """Every row of the tables that hold case data, as one text to search."""
    rows = [
        *await Case.select(),
        *await CaseEvent.select(),
        *await EventText.select(),
        *await OutboxMessage.select(),
    ]
    return json.dumps(rows, default=str, ensure_ascii=False)


async def verify(api: Api) -> dict[str, Any]:
    return (await api.as_user("admin", "GET", "/api/audit/verify")).json()


async def age(case_id: int, days: int) -> None:
    closed = system_clock() - timedelta(days=days)
    await Case.update({Case.closed_at: closed}).where(Case.id == case_id)


async def test_export_holds_everything_about_the_caller_and_nothing_else(api: Api) -> None:
    mine = await closed_case(api)
    await api.file("bob", contact={"name": "Bob Wu", "phone": "13500000001"})
    response = await api.as_user("alice", "GET", "/api/me/export")
    assert response.status_code == 200
    export = response.json()
    assert export["account"]["username"] == "alice" and export["account"]["phone"] == "13900000000"
    assert [c["id"] for c in export["cases"]] == [mine["id"]]
    assert export["cases"][0]["contact_name"] == NAME and "idempotency_key" not in export["cases"][0]
    actions = [e["action"] for e in export["events"]]
    assert actions == ["file", "accept", "dispatch", "contact", "resolve", "approve", "rate"]
    assert export["events"][3]["fields"]["note"] == f"Called {NAME} on {PHONE}"
    assert {n["topic"] for n in export["notifications"]} >= {"case.accepted", "case.closed"}
    assert "Bob Wu" not in response.text
    assert (await api.as_user("disp", "GET", "/api/me/export")).status_code == 403
    assert (await api.client.get("/api/me/export")).status_code == 401


async def test_retention_anonymises_old_closed_cases_keeping_figures_and_chain(api: Api) -> None:
    old = await closed_case(api)
    recent = await closed_case(api)
    still_open = await api.file("alice", contact=CONTACT)
    await age(old["id"], 40)
    api.client.app.state.rights.retention_days = 30  # type: ignore[attr-defined]
    run = await api.as_user("admin", "POST", "/api/retention/run")
    assert run.status_code == 200 and run.json()["anonymised"] == 1
    assert (await api.as_user("admin", "POST", "/api/retention/run")).json()["anonymised"] == 0

    case = await api.case("disp", old["id"])
    assert case["contact"] == {"name": ERASED, "phone": ERASED}
    assert case["title"] == case["description"] == case["address"] == case["resolution_summary"] == ERASED
    for figure in ("category", "jurisdiction_code", "state", "outcome", "satisfaction", "received_at"):
        assert case[figure] == old[figure]
    events = (await api.as_user("disp", "GET", f"/api/cases/{old['id']}/events")).json()
    assert events[-1]["action"] == "anonymise" and events[-1]["fields"] == {"cause": "retention"}
    assert events[3]["fields"] == {"note": ERASED, "first_contact": True}
    assert events[0]["actor"] == ERASED  # the resident's username is sealed and erased too
    assert (await verify(api))["ok"] is True

    assert (await api.case("disp", recent["id"]))["contact"]["name"] == NAME
    assert (await api.case("disp", still_open["id"]))["contact"]["phone"] == PHONE
    stored = await everything_stored()
    assert stored.count(PHONE) > 0  # the recent and the open case keep theirs
    old_rows = json.dumps(
        [
            *await Case.select().where(Case.id == old["id"]),
            *await reveal_events(await CaseEvent.select().where(CaseEvent.case_id == old["id"])),
        ],
        default=str,
        ensure_ascii=False,
    )
    assert NAME not in old_rows and PHONE not in old_rows and "alice" not in old_rows


async def test_the_chain_still_catches_edits_and_unrecorded_erasures(api: Api) -> None:
    case = await closed_case(api)
    contact = (CaseEvent.case_id == case["id"]) & (CaseEvent.action == "contact")
    note = await CaseEvent.select().where(contact).first()
    assert json.loads(note["fields"])["note"].startswith("sealed:")  # the log never holds the text
    text = EventText.event_seq == note["seq"]
    await EventText.update({EventText.value: "never called"}).where(text)
    report = await verify(api)
    assert report["ok"] is False and report["first_broken_seq"] == note["seq"]
    assert "edited" in report["reason"]

    await EventText.update({EventText.value: ERASED, EventText.salt: None}).where(text)
    report = await verify(api)
    assert report["ok"] is False and "without a recorded anonymisation" in report["reason"]

    await EventText.delete().where(text)
    report = await verify(api)
    assert report["ok"] is False and "missing" in report["reason"]


async def test_a_resident_deletes_their_account_once_their_cases_are_closed(api: Api) -> None:
    other = await api.file("alice", kind="dispute", category="neighbour_dispute")
    await api.act("disp", other["id"], "dispatch", assignee="w1")
    party = {"side": "respondent", "name": "Bob Wang", "relationship": "upstairs", "username": "bob"}
    added = await api.as_user("w1", "POST", f"/api/cases/{other['id']}/parties", json=party)
    assert added.status_code == 201, added.text
    case = await api.file("bob", contact=CONTACT)
    refused = await api.as_user("bob", "DELETE", "/api/me")
    assert refused.status_code == 409 and str(case["id"]) in refused.json()["detail"]
    await api.act("bob", case["id"], "withdraw", reason=f"{NAME} moved away")
    deleted = await api.as_user("bob", "DELETE", "/api/me")
    assert deleted.status_code == 200, deleted.text
    assert deleted.json() == {"deleted": True, "cases_anonymised": 1}
    login = await api.client.post("/api/auth/token", json={"username": "bob", "password": "test-pass-123"})
    assert login.status_code == 401
    users = (await api.as_user("admin", "GET", "/api/users")).json()
    assert "bob" not in {u["username"] for u in users}
    stored = await everything_stored()
    assert NAME not in stored and PHONE not in stored and '"bob"' not in stored
    kept = await api.case("disp", case["id"])
    assert (
        kept["state"] == "closed" and kept["outcome"] == "withdrawn" and kept["category"] == case["category"]
    )
    assert (await verify(api))["ok"] is True
    party = await MediationParty.select().where(MediationParty.case_id == other["id"]).first()
    assert party["username"] is None and party["name"] == "Bob Wang"  # alice's mediation goes on


async def test_an_anonymous_filer_erases_their_closed_case(api: Api) -> None:
    filed = await api.file(None, contact=CONTACT)
    token = (
        await api.client.post(
            "/api/track", json={"tracking_no": filed["tracking_no"], "access_code": filed["access_code"]}
        )
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert (await api.client.delete("/api/me", headers=headers)).status_code == 409
    await api.as_user(
        "disp", "POST", f"/api/cases/{filed['id']}/actions/reject", json={"version": 2, "reason": "x"}
    )
    erased = await api.client.delete("/api/me", headers=headers)
    assert erased.status_code == 200, erased.text
    assert (await api.case("disp", filed["id"]))["contact"]["name"] == ERASED
    assert (await verify(api))["ok"] is True


async def test_retention_runs_by_itself_while_the_app_runs(api: Api) -> None:
    case = await closed_case(api)
    await age(case["id"], 10)
    rights = RightsService(system_clock, retention_days=7)
    async with retention_lifespan(rights, 0.05)(api.client.app):  # type: ignore[attr-defined]
        for _ in range(100):
            if await Erasure.exists().where(Erasure.case_id == case["id"]):
                break
            await asyncio.sleep(0.05)
    assert (await api.case("disp", case["id"]))["contact"]["phone"] == ERASED
    assert (await verify(api))["ok"] is True


async def test_mediation_parties_are_exported_to_themselves_and_erased_with_the_case(api: Api) -> None:
    case = await api.file("alice", kind="dispute", category="neighbour_dispute", contact=CONTACT)
    await api.act("disp", case["id"], "dispatch", assignee="w1")
    for side, name, phone, username in [
        ("applicant", NAME, PHONE, "alice"),
        ("respondent", "Bob Wang", "13987654321", "bob"),
    ]:
        added = await api.as_user(
            "w1",
            "POST",
            f"/api/cases/{case['id']}/parties",
            json={
                "side": side,
                "name": name,
                "phone": phone,
                "relationship": "neighbour",
                "username": username,
            },
        )
        assert added.status_code == 201, added.text
    alice = (await api.as_user("alice", "GET", "/api/me/export")).json()
    assert [p["name"] for p in alice["mediation"]["parties"]] == [NAME]
    assert "13987654321" not in json.dumps(alice)  # the other side's contact is theirs, not alice's
    bob = (await api.as_user("bob", "GET", "/api/me/export")).json()
    assert [p["phone"] for p in bob["mediation"]["parties"]] == ["13987654321"] and bob["cases"] == []

    await api.act("w1", case["id"], "resolve", outcome="resolved", summary="settled")
    await api.act("sup", case["id"], "approve")
    await api.act("alice", case["id"], "rate", resolved=True, satisfaction=5)
    await age(case["id"], 40)
    api.client.app.state.rights.retention_days = 30  # type: ignore[attr-defined]
    assert (await api.as_user("admin", "POST", "/api/retention/run")).json()["anonymised"] == 1
    parties = await MediationParty.select().where(MediationParty.case_id == case["id"])
    assert {(p["name"], p["phone"], p["username"]) for p in parties} == {(ERASED, None, None)}
    assert (await verify(api))["ok"] is True


async def test_every_free_text_field_the_workflow_declares_is_sealed_and_erased(api: Api) -> None:
    case = await api.file("alice", contact=CONTACT)
    await api.act("disp", case["id"], "dispatch", assignee="w1")
    escalated = await api.act(
        "w1", case["id"], "escalate", reason="needs help", department=f"Office of {NAME}"
    )
    assert escalated.status_code == 200, escalated.text
    referred = await api.act(
        "w1", case["id"], "refer", to="court", reason="no agreement", remedies=f"{NAME}: 5000"
    )
    assert referred.status_code == 200, referred.text
    events = await CaseEvent.select().where(CaseEvent.case_id == case["id"])
    fields = {e["action"]: json.loads(e["fields"]) for e in events}
    assert fields["escalate"]["department"].startswith("sealed:")
    assert fields["refer"]["remedies"].startswith("sealed:") and fields["refer"]["to"] == "court"
    assert NAME not in json.dumps(events, default=str, ensure_ascii=False)  # the chain never holds it
    staff = (await api.as_user("disp", "GET", f"/api/cases/{case['id']}/events")).json()
    assert {e["action"]: e["fields"] for e in staff}["refer"]["remedies"] == f"{NAME}: 5000"
    await api.act("sup", case["id"], "approve")
    rated = await api.act("alice", case["id"], "rate", resolved=True, satisfaction=4)
    assert rated.json()["state"] == "closed", rated.text
    assert (await api.as_user("alice", "DELETE", "/api/me")).status_code == 200
    assert NAME not in await everything_stored()
    assert (await verify(api))["ok"] is True
