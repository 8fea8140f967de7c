"""The mediation forms of the worker's case page, over plain HTTP, on every backend."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import Api
from tests.web.test_pages import SQLITE_ONLY, post_form, web_login


async def _dispute(api: Api) -> int:
    case = await api.file(
        "alice",
        kind="dispute",
        category="neighbour_dispute",
        title="Water leaking from the flat above",
        description="Water leaks through the ceiling since May.",
    )
    assert (await api.act("disp", case["id"], "dispatch", assignee="w1")).status_code == 200
    return case["id"]


def _shown(html: str) -> list[str]:
    return re.findall(r'<details class="action" id="mediation-([a-z]+)"', html)


async def _send(api: Api, case_id: int, form: str, data: dict[str, Any]) -> Any:
    page = f"/web/cases/{case_id}"
    return await post_form(api.client, page, f"{page}/mediation/{form}", data)


def _local(moment: datetime) -> str:
    """A datetime-local value in the pages' time zone (Asia/Shanghai, UTC+8)."""
    return (moment + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M")


async def _summary(api: Api, case_id: int) -> dict[str, Any]:
    response = await api.as_user("w1", "GET", f"/api/cases/{case_id}/mediation")
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_worker_mediates_a_dispute_with_the_case_page_forms(api: Api) -> None:
    case_id = await _dispute(api)
    await web_login(api.client, "w1")
    html = (await api.client.get(f"/web/cases/{case_id}")).text
    assert _shown(html) == ["party", "mediator"]  # nothing needs consent before there are parties

    for side, name, user in (("applicant", "Alice Liu", "alice"), ("respondent", "Bob Wang", "bob")):
        sent = await _send(
            api,
            case_id,
            "party",
            {
                "side": side,
                "name": name,
                "relationship": "neighbour",
                "phone": "13812345678",
                "username": user,
            },
        )
        assert sent.status_code == 303, sent.text
    parties = [p["id"] for p in (await _summary(api, case_id))["parties"]]
    html = (await api.client.get(f"/web/cases/{case_id}")).text
    assert _shown(html) == ["party", "consent", "mediator"]
    for party_id in parties:
        sent = await _send(
            api, case_id, "consent", {"party_id": party_id, "status": "given", "channel": "phone"}
        )
        assert sent.status_code == 303, sent.text
    html = (await api.client.get(f"/web/cases/{case_id}")).text
    assert _shown(html) == ["party", "consent", "mediator", "start"]
    assert (await _send(api, case_id, "start", {})).status_code == 303
    html = (await api.client.get(f"/web/cases/{case_id}")).text
    assert _shown(html) == ["party", "consent", "mediator", "schedule", "extend", "agreement"]
    assert 'data-status="in_progress"' in html
    sent = await _send(api, case_id, "mediator", {"kind": "mediator", "username": "w2"})
    assert sent.status_code == 303, sent.text
    assert [m["username"] for m in (await _summary(api, case_id))["mediators"]] == ["w2"]
    due = datetime.fromisoformat((await _summary(api, case_id))["clock"]["due"])
    extension = {
        "until": _local(due + timedelta(days=5)),
        "reason": "Bob is abroad",
        "consenting_party_ids": [],
    }
    refused = await _send(api, case_id, "extend", extension)  # the parties' consent is required
    assert refused.status_code == 400 and 'id="m-extend-consenting_party_ids-error"' in refused.text
    extension["consenting_party_ids"] = [str(p) for p in parties]
    assert (await _send(api, case_id, "extend", extension)).status_code == 303
    clock = (await _summary(api, case_id))["clock"]
    assert clock["extension_count"] == 1 and clock["may_extend"] is False

    soon = datetime.now(UTC) + timedelta(days=2)
    sent = await _send(
        api,
        case_id,
        "schedule",
        {
            "scheduled_at": _local(soon),
            "place": "Community office",
            "attendee_party_ids": [str(p) for p in parties],
        },
    )
    assert sent.status_code == 303, sent.text
    session = (await _summary(api, case_id))["sessions"][0]
    assert session["attendee_party_ids"] == parties
    assert datetime.fromisoformat(session["scheduled_at"]) == soon.replace(second=0, microsecond=0)
    later = soon + timedelta(days=1)
    sent = await _send(
        api,
        case_id,
        "postpone",
        {"session_id": session["id"], "until": _local(later), "reason": "Bob is away"},
    )
    assert sent.status_code == 303, sent.text
    assert (await _summary(api, case_id))["sessions"][0]["status"] == "postponed"
    sent = await _send(
        api,
        case_id,
        "hold",
        {"session_id": session["id"], "attended_party_ids": [str(parties[0])], "notes": "Both sides heard."},
    )
    assert sent.status_code == 303, sent.text
    held = (await _summary(api, case_id))["sessions"][0]
    assert held["status"] == "held" and held["attended_party_ids"] == [parties[0]]
    html = (await api.client.get(f"/web/cases/{case_id}")).text
    assert "hold" not in _shown(html) and "postpone" not in _shown(html)

    agreement = {
        "facts": "The pipe of flat 401 leaked.",
        "issues": "Who pays for the ceiling.",
        "responsibilities": "The owner of flat 401.",
        "terms": "Bob pays 3000 yuan\nThe property company repairs the pipe",
        "performance_manner": "Bank transfer",
        "performance_deadline": "2099-03-31",
    }
    assert (await _send(api, case_id, "agreement", agreement)).status_code == 303
    written = (await _summary(api, case_id))["agreement"]
    assert [t["text"] for t in written["content"]["terms"]] == agreement["terms"].splitlines()
    html = (await api.client.get(f"/web/cases/{case_id}")).text
    assert (
        "Bob pays 3000 yuan\nThe property company repairs the pipe</textarea>" in html
    )  # the draft, to revise
    for party_id in parties:
        sent = await _send(api, case_id, "sign", {"party_id": party_id, "method": "signature"})
        assert sent.status_code == 303, sent.text
    assert (await _summary(api, case_id))["agreement"]["status"] == "frozen"
    html = (await api.client.get(f"/web/cases/{case_id}")).text
    assert "agreement" not in _shown(html) and "sign" not in _shown(html)
    assert "Every party signed the agreement." in html  # the timeline tells it in words
    assert _shown(html)[-2:] == ["confirmation", "check"]
    assert (
        await _send(api, case_id, "confirmation", {"court": "District People's Court"})
    ).status_code == 303
    check = {"term_index": "0", "result": "performed", "note": "Bob paid."}
    assert (await _send(api, case_id, "check", check)).status_code == 303
    agreement_now = (await _summary(api, case_id))["agreement"]
    assert agreement_now["confirmation_court"] == "District People's Court"
    assert [(c["term_index"], c["result"]) for c in agreement_now["checks"]] == [(0, "performed")]
    html = (await api.client.get(f"/web/cases/{case_id}")).text
    assert "confirmation" not in _shown(html) and 'id="mediation-checks"' in html


async def test_only_the_people_who_manage_the_mediation_may_send_its_forms(api: Api) -> None:
    case_id = await _dispute(api)
    party = {"side": "applicant", "name": "Alice Liu", "relationship": "neighbour"}
    await web_login(api.client, "alice")  # the filer reads the case but does not manage the mediation
    html = (await api.client.get(f"/web/cases/{case_id}")).text
    assert 'id="mediation-h"' not in html
    assert (await _send(api, case_id, "party", party)).status_code == 403
    await web_login(api.client, "w3")  # a worker elsewhere does not even see the case
    assert (await api.client.get(f"/web/cases/{case_id}")).status_code == 404
    await web_login(api.client, None)
    anonymous = await api.client.post(f"/web/cases/{case_id}/mediation/party", data=party)
    assert anonymous.status_code in (303, 403)  # no session (login) or no CSRF token: never applied
    assert (await _summary(api, case_id))["parties"] == []
    await web_login(api.client, "sup")  # a supervisor of the street manages it, as in the API
    assert (await _send(api, case_id, "party", party)).status_code == 303
    assert [p["name"] for p in (await _summary(api, case_id))["parties"]] == ["Alice Liu"]
    assert (await _send(api, case_id, "nonsense", party)).status_code == 404


@SQLITE_ONLY
async def test_a_mediation_form_error_is_in_the_pages_language_and_keeps_the_input(api: Api) -> None:
    case_id = await _dispute(api)
    await web_login(api.client, "w1")
    api.client.headers["Accept-Language"] = "zh-CN"
    sent = await _send(
        api, case_id, "party", {"side": "judge", "name": "", "relationship": "楼上邻居", "phone": "call me"}
    )
    assert sent.status_code == 400
    html = sent.text
    assert re.search(r'id="m-party-name-error">.*请填写此项', html)
    assert re.search(r'id="m-party-side-error">.*请从选项中选择', html)
    assert re.search(r'id="m-party-phone-error">.*请输入电话号码', html)
    assert 'value="楼上邻居"' in html and 'value="call me"' in html
    assert "String should" not in html and "Input should" not in html


@SQLITE_ONLY
async def test_a_complaint_page_has_no_mediation_forms_until_a_dispute_needs_them(api: Api) -> None:
    case = await api.file("alice", category="road_facilities", title="Broken street lamp")
    await api.act("w1", case["id"], "claim")
    await web_login(api.client, "w1")
    assert 'id="mediation-h"' not in (await api.client.get(f"/web/cases/{case['id']}")).text
    dispute = await _dispute(api)
    assert 'id="mediation-h"' in (await api.client.get(f"/web/cases/{dispute}")).text


MEDIATION_SENDERS = ["alice", "bob", "w2", "w3", "sup2", "sup", "disp", "w1"]


async def test_the_mediation_forms_admit_the_same_people_as_the_mediation_api(api: Api) -> None:
    case_id = await _dispute(api)
    api_to_page = {201: 303, 403: 403, 404: 404}
    for user in MEDIATION_SENDERS:
        party = {"side": "third_party", "name": f"Witness for {user}", "relationship": "neighbour"}
        by_api = await api.as_user(user, "POST", f"/api/cases/{case_id}/parties", json=party)
        await web_login(api.client, user)
        page = f"/web/cases/{case_id}"
        form_page = page if (await api.client.get(page)).status_code == 200 else "/web/track"
        body = {**party, "name": f"Page witness for {user}"}
        by_page = await post_form(api.client, form_page, f"{page}/mediation/party", body)
        assert by_page.status_code == api_to_page[by_api.status_code], (user, by_api.text)
    names = sorted(p["name"] for p in (await _summary(api, case_id))["parties"])
    managers = ("disp", "sup", "w1")
    assert names == sorted(
        [f"Witness for {u}" for u in managers] + [f"Page witness for {u}" for u in managers]
    )


@SQLITE_ONLY
async def test_a_form_sent_from_an_old_page_gets_a_translated_refusal(api: Api) -> None:
    case_id = await _dispute(api)
    for side, user in (("applicant", "alice"), ("respondent", "bob")):
        body = {"side": side, "name": user.title(), "relationship": "neighbour", "username": user}
        party = await api.as_user("w1", "POST", f"/api/cases/{case_id}/parties", json=body)
        consent = {"status": "given", "channel": "phone"}
        path = f"/api/cases/{case_id}/parties/{party.json()['id']}/consent"
        assert (await api.as_user("w1", "POST", path, json=consent)).status_code == 200
    await web_login(api.client, "w1")
    api.client.headers["Accept-Language"] = "zh-CN"
    page = f"/web/cases/{case_id}"
    token_page = (await api.client.get(page)).text
    assert 'id="mediation-start"' in token_page
    assert (await api.as_user("w1", "POST", f"/api/cases/{case_id}/mediation/start")).status_code == 200
    refused = await post_form(api.client, page, f"{page}/mediation/start", {})
    assert refused.status_code == 409
    assert '<div class="alert" role="alert"><p>调解已经开始。</p></div>' in refused.text
    assert 'id="mediation-start"' not in refused.text  # the fresh page offers what is possible now
