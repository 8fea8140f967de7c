"""Mediation of a dispute through the API: parties, consent, mediators, sessions, agreement, follow-up."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import timedelta
from io import BytesIO
from typing import Any

from pypdf import PdfReader

from jiesu.config import Settings
from jiesu.mediation.tables import Agreement
from jiesu.notify.tables import OutboxMessage
from tests.conftest import Api, MovableClock

ALICE_PHONE = "13812345678"
BOB_PHONE = "13987654321"


async def call(api: Api, user: str, method: str, case_id: int, path: str, expect: int, /, **body: Any) -> Any:
    kwargs = {"json": body} if method in ("POST", "PUT") else {}
    response = await api.as_user(user, method, f"/api/cases/{case_id}{path}", **kwargs)
    assert response.status_code == expect, response.text
    return response.json() if "json" in response.headers.get("content-type", "") else response


async def dispute_in_mediation(api: Api) -> int:
    case = await api.file(
        "alice",
        kind="dispute",
        category="neighbour_dispute",
        title="Water leaking from the flat above",
        description="Water leaks through the ceiling from the flat above since May.",
        contact={"name": "Alice Liu", "phone": ALICE_PHONE},
    )
    dispatched = await api.act("disp", case["id"], "dispatch", assignee="w1")
    assert dispatched.status_code == 200, dispatched.text
    return case["id"]


async def add_parties(api: Api, case_id: int) -> tuple[int, int, int]:
    alice = await call(
        api, "w1", "POST", case_id, "/parties", 201,
        side="applicant", name="Alice Liu", phone=ALICE_PHONE, address="Flat 301", relationship="downstairs",
        username="alice",
    )  # fmt: skip
    bob = await call(
        api, "w1", "POST", case_id, "/parties", 201,
        side="respondent", name="Bob Wang", phone=BOB_PHONE, address="Flat 401", relationship="upstairs",
        username="bob",
    )  # fmt: skip
    carol = await call(
        api, "w1", "POST", case_id, "/parties", 201,
        side="third_party", name="Carol Property Co.", phone="01012345678", relationship="property manager",
    )  # fmt: skip
    return alice["id"], bob["id"], carol["id"]


async def started(api: Api) -> tuple[int, tuple[int, int, int]]:
    case_id = await dispute_in_mediation(api)
    parties = await add_parties(api, case_id)
    for party_id in parties[:2]:
        await call(
            api, "w1", "POST", case_id, f"/parties/{party_id}/consent", 200, status="given", channel="phone"
        )
    await call(api, "w1", "POST", case_id, "/mediation/start", 200)
    return case_id, parties


AGREEMENT = {
    "facts": "Water from the bathroom of flat 401 leaked into flat 301 from May to October.",
    "issues": "Who repairs the pipe and who pays for the damaged ceiling.",
    "responsibilities": "The leak comes from the pipe of flat 401; its owner is responsible.",
    "performance_manner": "Bank transfer and repair by the property company",
    "performance_deadline": "2099-03-31",
}


def agreement_body(alice: int, bob: int, amount: str = "3000") -> dict[str, Any]:
    return {
        **AGREEMENT,
        "terms": [
            {
                "text": f"王先生赔偿刘女士天花板修复费人民币{amount}元",
                "obligor_party_id": bob,
                "due_on": "2099-01-15",
            },
            {"text": "物业公司修复401室排水管", "due_on": "2099-02-01"},
            {"text": "Alice Liu withdraws her complaint once paid", "obligor_party_id": alice},
        ],
    }


async def test_a_full_dispute_from_refusal_to_reopening(api: Api, clock: MovableClock) -> None:
    case_id = await dispute_in_mediation(api)
    alice, bob, carol = await add_parties(api, case_id)

    # One refusal, then consent: mediation cannot start while the respondent refuses.
    await call(
        api, "w1", "POST", case_id, f"/parties/{alice}/consent", 200, status="given", channel="in_person"
    )
    await call(api, "w1", "POST", case_id, f"/parties/{bob}/consent", 200, status="refused", channel="phone")
    refused = await call(api, "w1", "POST", case_id, "/mediation/start", 409)
    assert f"respondent #{bob} has refused" in refused["detail"]
    given = await call(
        api, "bob", "POST", case_id, f"/parties/{bob}/consent", 200, status="given", channel="phone"
    )
    assert given["consent"] == "given" and given["consent_channel"] == "online"
    summary = await call(api, "w1", "POST", case_id, "/mediation/start", 200)
    assert summary["status"] == "in_progress"
    assert summary["clock"]["days_left"] == 30 and summary["clock"]["overdue"] is False

    # Mediators: a second mediator, a neighbour with the parties' consent, one recusal.
    w2 = await call(api, "w1", "POST", case_id, "/mediators", 201, kind="mediator", username="w2")
    no_consent = await call(
        api,
        "w1",
        "POST",
        case_id,
        "/mediators",
        400,
        kind="neighbour",
        name="Old Zhang",
        consenting_party_ids=[alice],
    )
    assert "consenting_party_ids" in no_consent["detail"]
    await call(
        api, "w1", "POST", case_id, "/mediators", 201,
        kind="neighbour", name="Old Zhang", consenting_party_ids=[alice, bob],
    )  # fmt: skip
    recusal = await call(
        api, "bob", "POST", case_id, "/recusals", 201, party_id=bob, username="w1", reason="He is her cousin"
    )
    assert recusal["username"] == "w1"
    assert (await call(api, "disp", "GET", case_id, "/mediation", 200))["needs_reassignment"] is True
    await call(api, "w1", "GET", case_id, "/mediation", 200)
    blocked = await call(api, "w1", "PUT", case_id, "/agreement", 403, **agreement_body(alice, bob))
    assert "objected" in blocked["detail"]
    back = await api.act("disp", case_id, "reassign", assignee="w1", reason="try again")
    assert back.status_code == 400 and "assignee" in back.json()["detail"]
    moved = await api.act("disp", case_id, "reassign", assignee="w2", reason="recusal of w1")
    assert moved.status_code == 200, moved.text
    summary = await call(api, "w2", "GET", case_id, "/mediation", 200)
    assert summary["needs_reassignment"] is False
    assert [m["status"] for m in summary["mediators"]] == ["active", "active"]

    # Two sessions: one postponed then held, one held; attendees are notified through the outbox.
    first = await call(
        api, "w2", "POST", case_id, "/sessions", 201,
        scheduled_at=(clock() + timedelta(days=2)).isoformat(), place="Community office room 2",
        attendee_party_ids=[alice, bob, carol], attendee_mediator_ids=[w2["id"]],
    )  # fmt: skip
    reminders = await OutboxMessage.select().where(OutboxMessage.topic == "mediation.session_reminder")
    assert {r["recipient"] for r in reminders} == {"alice", "bob", f"case:{case_id}:party:{carol}", "w2"}
    assert all(ALICE_PHONE not in r["payload"] and "Alice" not in r["payload"] for r in reminders)
    await call(
        api, "w2", "POST", case_id, f"/sessions/{first['id']}/postpone", 200,
        until=(clock() + timedelta(days=3)).isoformat(), reason="Bob travels",
    )  # fmt: skip
    pending = await OutboxMessage.select().where(
        (OutboxMessage.topic == "mediation.session_reminder") & (OutboxMessage.status == "pending")
    )
    assert len(pending) == 4
    clock.advance(days=3)
    held = await call(
        api, "w2", "POST", case_id, f"/sessions/{first['id']}/hold", 200,
        attended_party_ids=[alice, bob], notes="Both sides explained; Carol absent.",
    )  # fmt: skip
    assert held["status"] == "held" and held["attended_party_ids"] == [alice, bob]
    private = await call(
        api, "w2", "POST", case_id, "/sessions", 201,
        scheduled_at=(clock() + timedelta(days=1)).isoformat(), place="Flat 301", public=False,
        attendee_party_ids=[alice],
    )  # fmt: skip
    clock.advance(days=1)
    await call(
        api,
        "w2",
        "POST",
        case_id,
        f"/sessions/{private['id']}/hold",
        200,
        attended_party_ids=[alice],
        notes="ok",
    )
    bob_sees = await call(api, "bob", "GET", case_id, "/sessions", 200)
    assert [s["id"] for s in bob_sees] == [first["id"]] and bob_sees[0]["notes"] is None

    # The clock is extended once, with every principal party's consent.
    until = (clock() + timedelta(days=40)).isoformat()
    partial = await call(
        api,
        "w2",
        "POST",
        case_id,
        "/mediation/extend",
        400,
        until=until,
        reason="x",
        consenting_party_ids=[alice],
    )
    assert "consenting_party_ids" in partial["detail"]
    extended = await call(
        api, "w2", "POST", case_id, "/mediation/extend", 200,
        until=until, reason="Repair quote pending", consenting_party_ids=[alice, bob],
    )  # fmt: skip
    assert extended["clock"]["extension_count"] == 1 and extended["clock"]["may_extend"] is False
    await call(
        api, "w2", "POST", case_id, "/mediation/extend", 409,
        until=(clock() + timedelta(days=45)).isoformat(), reason="again", consenting_party_ids=[alice, bob],
    )  # fmt: skip

    # The agreement: drafted, signed, revised (signatures go stale), signed by all, frozen.
    draft = await call(api, "w2", "PUT", case_id, "/agreement", 200, **agreement_body(alice, bob))
    assert draft["status"] == "draft" and draft["unsigned_party_ids"] == [alice, bob, carol]
    await call(api, "w2", "POST", case_id, "/agreement/signatures", 201, party_id=alice, method="signature")
    revised = await call(api, "w2", "PUT", case_id, "/agreement", 200, **agreement_body(alice, bob, "2800"))
    assert revised["revision"] == 2 and revised["unsigned_party_ids"] == [alice, bob, carol]
    for party_id, method in ((alice, "signature"), (bob, "oral")):
        signed = await call(
            api, "w2", "POST", case_id, "/agreement/signatures", 201, party_id=party_id, method=method
        )
        assert signed["status"] == "draft"
    frozen = await call(
        api, "w2", "POST", case_id, "/agreement/signatures", 201, party_id=carol, method="signature"
    )
    assert frozen["status"] == "frozen" and frozen["unsigned_party_ids"] == []
    assert frozen["judicial_confirmation"]["days_left"] == 30
    assert frozen["next_check_on"] == "2099-01-15"
    events = (await api.as_user("w2", "GET", f"/api/cases/{case_id}/events")).json()
    freeze = next(e for e in events if e["action"] == "agreement_freeze")
    assert freeze["fields"]["sha256"] == frozen["content_hash"]
    told = await OutboxMessage.select().where(OutboxMessage.topic == "mediation.agreement_in_force")
    assert {m["recipient"] for m in told} == {"alice", "bob", f"case:{case_id}:party:{carol}"}
    assert not any(ALICE_PHONE in json.dumps(e) or "Alice Liu" in json.dumps(e) for e in events)

    # Frozen: no edit, no further signature.
    await call(api, "w2", "PUT", case_id, "/agreement", 409, **agreement_body(alice, bob, "1"))
    await call(api, "w2", "POST", case_id, "/agreement/signatures", 409, party_id=alice, method="signature")

    # The printable page and the PDF, read by the respondent.
    page = await call(api, "bob", "GET", case_id, "/agreement/page", 200)
    assert "text/html" in page.headers["content-type"] and "人民币2800元" in page.text
    pdf = await call(api, "bob", "GET", case_id, "/agreement/pdf", 200)
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(BytesIO(pdf.content)).pages)
    for expected in (
        "人民调解协议书",
        "Alice Liu",
        "Bob Wang",
        "王先生赔偿刘女士天花板修复费人民币2800元",
        "2099-03-31",
    ):
        assert expected in text
    assert ALICE_PHONE not in text and frozen["content_hash"] in text.replace("\n", "")

    # The 30-day countdown on the case and in the worker's queue.
    queue = (await api.as_user("w2", "GET", "/api/queue")).json()
    brief = next(item for item in queue if item["id"] == case_id)["mediation"]
    assert brief["agreement_status"] == "frozen" and brief["confirmation_days_left"] == 30
    resolved = await api.act(
        "w2", case_id, "resolve", outcome="agreement_pending", summary="Signed; payment due"
    )
    assert resolved.status_code == 200, resolved.text
    assert (await api.act("sup", case_id, "approve")).status_code == 200
    clock.advance(days=10)
    summary = await call(api, "alice", "GET", case_id, "/mediation", 200)
    assert summary["agreement"]["judicial_confirmation"]["days_left"] == 20
    follow_ups = (await api.as_user("w2", "GET", "/api/mediation/follow-ups")).json()
    assert [f["case_id"] for f in follow_ups] == [case_id]

    # A performance check finds the payment not made: mediation reopens.
    check = await call(
        api, "w2", "POST", case_id, "/agreement/checks", 201,
        term_index=0, result="not_performed", note="No transfer received", follow_up="reopen",
    )  # fmt: skip
    assert check["due_on"] == "2099-01-15"
    reopened = await api.case("w2", case_id)
    assert reopened["state"] == "mediation" and reopened["outcome"] is None
    summary = await call(api, "w2", "GET", case_id, "/mediation", 200)
    assert summary["status"] == "reopened" and summary["agreement"]["status"] == "superseded"
    actions = [e["action"] for e in (await api.as_user("w2", "GET", f"/api/cases/{case_id}/events")).json()]
    assert actions[-2:] == ["performance_check", "reopen_mediation"]
    assert (await api.as_user("sup", "GET", "/api/audit/verify")).json()["ok"] is True


async def test_respondent_never_sees_the_applicants_contact(api: Api) -> None:
    case_id, (alice, bob, _) = await started(api)
    by_id = {p["id"]: p for p in await call(api, "bob", "GET", case_id, "/parties", 200)}
    assert by_id[alice]["contact"] is None
    assert by_id[bob]["contact"] == {"phone": BOB_PHONE, "address": "Flat 401"}
    summary = await call(api, "bob", "GET", case_id, "/mediation", 200)
    assert ALICE_PHONE not in json.dumps(summary) and "Flat 301" not in json.dumps(summary)
    assert (await api.as_user("bob", "GET", f"/api/cases/{case_id}")).status_code == 404
    assert (await api.as_user("bob", "GET", f"/api/cases/{case_id}/events")).status_code == 404

    seen_by_alice = {p["id"]: p for p in await call(api, "alice", "GET", case_id, "/parties", 200)}
    assert seen_by_alice[alice]["contact"]["phone"] == ALICE_PHONE
    assert seen_by_alice[bob]["contact"]["phone"] not in (None, BOB_PHONE)
    seen_by_sup = {p["id"]: p for p in await call(api, "sup", "GET", case_id, "/parties", 200)}
    assert seen_by_sup[alice]["contact"]["phone"] != ALICE_PHONE
    seen_by_w1 = {p["id"]: p for p in await call(api, "w1", "GET", case_id, "/parties", 200)}
    assert seen_by_w1[alice]["contact"]["phone"] == ALICE_PHONE


async def test_who_may_manage_and_read_the_mediation(api: Api) -> None:
    case_id, (alice, bob, _) = await started(api)
    body = {"side": "third_party", "name": "X", "relationship": "witness"}
    await call(api, "w2", "POST", case_id, "/parties", 403, **body)  # a worker in scope, not the assignee
    await call(api, "w2", "GET", case_id, "/mediation", 403)
    await call(api, "w3", "GET", case_id, "/mediation", 404)  # another community
    await call(api, "sup2", "POST", case_id, "/parties", 404, **body)  # another street
    await call(api, "sup", "POST", case_id, "/parties", 201, **body)
    await call(api, "bob", "POST", case_id, "/parties", 403, **body)
    await call(
        api, "bob", "POST", case_id, f"/parties/{alice}/consent", 403, status="withdrawn", channel="online"
    )
    await call(api, "bob", "POST", case_id, "/agreement/signatures", 403, party_id=bob, method="signature")
    await call(api, "alice", "GET", case_id, "/agreement", 404)  # no agreement yet

    chosen = {"kind": "mediator", "username": "streetw", "appointed_by": "parties"}
    await call(api, "w1", "POST", case_id, "/mediators", 400, **chosen)  # chosen by whom?
    picked = await call(
        api, "w1", "POST", case_id, "/mediators", 201, **chosen, consenting_party_ids=[alice, bob]
    )
    assert picked["appointed_by"] == "parties" and picked["name"] == "Streetw"
    panel = await call(api, "alice", "GET", case_id, "/mediators", 200)
    assert [m["username"] for m in panel] == ["streetw"]


async def test_withdrawn_consent_stops_the_mediation(api: Api, clock: MovableClock) -> None:
    case_id, (alice, bob, _) = await started(api)
    await call(
        api, "bob", "POST", case_id, f"/parties/{bob}/consent", 200, status="withdrawn", channel="online"
    )
    stopped = await call(
        api, "w1", "POST", case_id, "/sessions", 409,
        scheduled_at=(clock() + timedelta(days=1)).isoformat(), place="Office",
        attendee_party_ids=[alice, bob],
    )  # fmt: skip
    assert f"respondent #{bob} has withdrawn" in stopped["detail"]


async def test_a_refusing_respondent_sends_the_case_to_referral(api: Api) -> None:
    case_id = await dispute_in_mediation(api)
    _, bob, _ = await add_parties(api, case_id)
    await call(
        api, "w1", "POST", case_id, f"/parties/{bob}/consent", 200, status="refused", channel="written"
    )
    summary = await call(api, "w1", "GET", case_id, "/mediation", 200)
    assert summary["may_start"] is False and any("refused" in b for b in summary["blocking"])
    referred = await api.act(
        "w1", case_id, "refer", to="court", reason="The respondent refuses mediation",
        remedies="Civil suit at the district court; legal aid centre informed",
    )  # fmt: skip
    assert referred.status_code == 200, referred.text
    body = referred.json()
    assert body["state"] == "resolution" and body["outcome"] == "referred"
    event = (await api.as_user("w1", "GET", f"/api/cases/{case_id}/events")).json()[-1]
    assert (
        event["action"] == "refer"
        and event["fields"]["to"] == "court"
        and "legal aid" in event["fields"]["remedies"]
    )


async def test_richer_outcomes_need_what_they_claim(api: Api) -> None:
    case_id, _ = await started(api)
    no_agreement = await api.act("w1", case_id, "resolve", outcome="agreement_performed", summary="paid")
    assert no_agreement.status_code == 400 and "outcome" in no_agreement.json()["detail"]
    no_target = await api.act("w1", case_id, "resolve", outcome="failed_referred", summary="no deal")
    assert no_target.status_code == 400 and "referred_to" in no_target.json()["detail"]
    partly = await api.act("w1", case_id, "resolve", outcome="partly_resolved", summary="half of it")
    assert partly.status_code == 200 and partly.json()["outcome"] == "partly_resolved"
    back = await api.act("sup", case_id, "send_back", reason="finish it")
    assert back.status_code == 200
    failed = await api.act(
        "w1", case_id, "resolve", outcome="failed_referred", referred_to="arbitration", summary="no deal"
    )
    assert failed.status_code == 200 and failed.json()["outcome"] == "failed_referred"
    reopen = await api.act("w1", case_id, "reopen_mediation", reason="try again")
    assert reopen.status_code == 409  # only after a signed agreement was not performed


async def sign_all(api: Api, case_id: int, parties: tuple[int, int, int]) -> dict[str, Any]:
    await call(api, "w1", "PUT", case_id, "/agreement", 200, **agreement_body(parties[0], parties[1]))
    for party_id in parties:
        agreement = await call(
            api, "w1", "POST", case_id, "/agreement/signatures", 201, party_id=party_id, method="signature"
        )
    assert agreement["status"] == "frozen"
    return agreement


async def test_non_performance_can_refer_the_case(api: Api) -> None:
    case_id, parties = await started(api)
    await sign_all(api, case_id, parties)
    no_follow_up = await call(
        api, "w1", "POST", case_id, "/agreement/checks", 400, result="not_performed", note="x"
    )
    assert "follow_up" in no_follow_up["detail"]
    await call(
        api, "w1", "POST", case_id, "/agreement/checks", 201,
        result="not_performed", note="Refuses to pay", follow_up="refer", refer_to="court",
    )  # fmt: skip
    case = await api.case("w1", case_id)
    assert case["state"] == "resolution" and case["outcome"] == "failed_referred"


async def test_performed_agreement_and_judicial_confirmation(api: Api, clock: MovableClock) -> None:
    case_id, parties = await started(api)
    await sign_all(api, case_id, parties)
    clock.advance(days=5)
    confirmed = await call(api, "w1", "POST", case_id, "/agreement/confirmation", 200, court="District Court")
    assert confirmed["judicial_confirmation"] is None and confirmed["confirmation_court"] == "District Court"
    await api.act("w1", case_id, "resolve", outcome="agreement_pending", summary="Signed, payment due")
    await api.act("sup", case_id, "approve")
    closed = (await api.act("alice", case_id, "rate", resolved=True, satisfaction=5)).json()
    assert closed["state"] == "closed" and closed["outcome"] == "agreement_pending"

    clock.advance(days=60)
    await call(
        api, "w1", "POST", case_id, "/agreement/checks", 201, term_index=0, result="performed", note="Paid"
    )
    assert (await api.case("w1", case_id))["outcome"] == "agreement_pending"  # two terms still open
    agreement = await call(api, "alice", "GET", case_id, "/agreement", 200)
    assert agreement["next_check_on"] == "2099-02-01"
    await call(api, "w1", "POST", case_id, "/agreement/checks", 201, result="performed", note="All done")
    agreement = await call(api, "alice", "GET", case_id, "/agreement", 200)
    assert (
        agreement["next_check_on"] is None and [c["result"] for c in agreement["checks"]] == ["performed"] * 2
    )
    performed = await api.case("w1", case_id)
    assert performed["outcome"] == "agreement_performed"
    assert performed["state"] == "closed" and performed["closed_at"] == closed["closed_at"]
    closings = await OutboxMessage.select().where(
        (OutboxMessage.case_id == case_id) & (OutboxMessage.topic == "case.closed")
    )
    assert len(closings) == 1
    again = await api.act("w1", case_id, "record_performance")
    assert again.status_code == 409


async def test_the_mediation_clock_runs_out_visibly(api: Api, clock: MovableClock) -> None:
    case_id, _ = await started(api)
    clock.advance(days=31)
    summary = await call(api, "w1", "GET", case_id, "/mediation", 200)
    assert summary["clock"]["overdue"] is True and summary["clock"]["days_left"] == 0
    queue = (await api.as_user("w1", "GET", "/api/queue")).json()
    assert next(i for i in queue if i["id"] == case_id)["mediation"]["clock_overdue"] is True


async def test_an_agreement_edited_in_the_database_breaks_the_audit_verification(
    api: Api, settings: Settings
) -> None:
    case_id, parties = await started(api)
    agreement = await sign_all(api, case_id, parties)
    assert (await api.as_user("sup", "GET", "/api/audit/verify")).json()["ok"] is True
    row = await Agreement.select(Agreement.content).where(Agreement.id == agreement["id"]).first()
    assert row is not None
    await Agreement.update({Agreement.content: row["content"].replace("3000", "30")}).where(
        Agreement.id == agreement["id"]
    )
    report = (await api.as_user("sup", "GET", "/api/audit/verify")).json()
    events = (await api.as_user("w1", "GET", f"/api/cases/{case_id}/events")).json()
    freeze_seq = next(e["seq"] for e in events if e["action"] == "agreement_freeze")
    assert report["ok"] is False and report["first_broken_seq"] == freeze_seq
    assert "agreement" in report["reason"]
    env = {**os.environ, "JIESU_DATABASE_URL": settings.database_url, "JIESU_VAR_DIR": str(settings.var_dir)}
    cli = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jiesu.cli", "audit", "verify", env=env, stdout=asyncio.subprocess.PIPE
    )
    output, _ = await cli.communicate()
    assert cli.returncode == 1 and f"BROKEN at event {freeze_seq}" in output.decode()


async def test_bad_mediation_input_names_the_field(api: Api) -> None:
    case_id, (alice, bob, _) = await started(api)
    bad_side = await call(
        api, "w1", "POST", case_id, "/parties", 400, side="judge", name="X", relationship="y"
    )
    assert "side" in bad_side["detail"]
    bad_user = await call(
        api,
        "w1",
        "POST",
        case_id,
        "/parties",
        400,
        side="third_party",
        name="X",
        relationship="y",
        username="w2",
    )
    assert "username" in bad_user["detail"]
    linked = {"side": "third_party", "name": "A", "relationship": "y", "username": "alice"}
    twice = await call(api, "w1", "POST", case_id, "/parties", 400, **linked)
    assert "already" in twice["detail"]
    body = agreement_body(alice, bob)
    body["terms"][0]["obligor_party_id"] = 999
    bad_term = await call(api, "w1", "PUT", case_id, "/agreement", 400, **body)
    assert "terms.0.obligor_party_id" in bad_term["detail"]
    past = await call(
        api, "w1", "POST", case_id, "/sessions", 400,
        scheduled_at="2000-01-01T00:00:00+00:00", place="Office", attendee_party_ids=[alice],
    )  # fmt: skip
    assert "scheduled_at" in past["detail"]
    await call(api, "w1", "POST", case_id, "/parties/999/consent", 400, status="given", channel="phone")


async def test_concurrent_last_signatures_freeze_the_agreement_once(api: Api) -> None:
    case_id, (alice, bob, carol) = await started(api)
    await call(api, "w1", "PUT", case_id, "/agreement", 200, **agreement_body(alice, bob))
    await call(api, "w1", "POST", case_id, "/agreement/signatures", 201, party_id=alice, method="signature")
    await api.login("w1")
    responses = await asyncio.gather(
        *(
            api.as_user("w1", "POST", f"/api/cases/{case_id}/agreement/signatures", json=body)
            for body in ({"party_id": bob, "method": "oral"}, {"party_id": carol, "method": "signature"})
        )
    )
    assert [r.status_code for r in responses] == [201, 201]
    assert (await call(api, "alice", "GET", case_id, "/agreement", 200))["status"] == "frozen"
    events = (await api.as_user("w1", "GET", f"/api/cases/{case_id}/events")).json()
    assert [e["action"] for e in events].count("agreement_freeze") == 1


async def test_the_printable_agreement_page_carries_a_strict_content_security_policy(api: Api) -> None:
    case_id, (alice, bob, _) = await started(api)
    await call(api, "w1", "PUT", case_id, "/agreement", 200, **agreement_body(alice, bob))
    page = await call(api, "w1", "GET", case_id, "/agreement/page", 200)
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp
    assert page.headers["cache-control"] == "no-store"  # the agreement names the parties
    assert page.headers["x-content-type-options"] == "nosniff"
