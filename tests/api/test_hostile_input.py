"""Hostile input: oversized and non-JSON bodies, broken JSON, huge and odd text, injection strings."""

from __future__ import annotations

import asyncio
import json

from jiesu.limits.input import MAX_BODY_BYTES
from tests.conftest import Api

CASE = {
    "kind": "complaint",
    "category": "neighbour_noise",
    "title": "Loud music every night",
    "description": "The flat above plays loud music after midnight.",
    "address": "Building 3, Jixiang Lane",
    "jurisdiction_code": "C1",
    "contact": {"name": "Alice Liu", "phone": "13812345678"},
}


async def _post_raw(api: Api, body: bytes, content_type: str | None = "application/json") -> object:
    headers = await api.login("alice")
    if content_type is not None:
        headers["Content-Type"] = content_type
    return await api.client.post("/api/cases", content=body, headers=headers)


async def _case_count(api: Api) -> int:
    response = await api.as_user("admin", "GET", "/api/cases?limit=100")
    return len(response.json()["items"])


async def test_a_body_over_the_limit_is_refused_with_413_and_nothing_is_filed(api: Api) -> None:
    big = json.dumps({**CASE, "description": "x" * MAX_BODY_BYTES}).encode()
    response = await _post_raw(api, big)
    assert response.status_code == 413
    assert await _case_count(api) == 0


async def test_bodies_that_are_not_json_are_refused_with_415(api: Api) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml", None):
        response = await _post_raw(api, json.dumps(CASE).encode(), content_type)
        assert response.status_code == 415, (content_type, response.text)
        assert "Content-Type" in response.json()["detail"]
    charset = await _post_raw(api, json.dumps(CASE).encode(), "application/json; charset=utf-8")
    assert charset.status_code == 201, charset.text


async def test_malformed_json_is_a_400_naming_the_body(api: Api) -> None:
    for broken in (b'{"kind": ', b"{'kind': 'complaint'}", b"[" * 100_000, b"\xff\xfe"):
        response = await _post_raw(api, broken)
        assert response.status_code == 400, (broken[:20], response.text)
        assert response.json()["detail"].startswith("body:")
    assert await _case_count(api) == 0


async def test_strings_past_their_limit_are_refused_naming_the_field(api: Api) -> None:
    for field, size in (("title", 201), ("description", 10_001), ("address", 301)):
        response = await api.as_user("alice", "POST", "/api/cases", json={**CASE, field: "长" * size})
        assert response.status_code == 400, (field, response.text)
        assert field in response.json()["detail"]
    at_limit = await api.file(description="长" * 10_000)
    assert len(at_limit["description"]) == 10_000


async def test_unicode_edge_cases_are_stored_and_returned_exactly(api: Api) -> None:
    texts = {
        "title": "\u202eRTL override \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
        "description": "family 👨‍👩‍👧‍👦, flag 🇨🇳, astral 𠜎𠜱, combining e\u0301, "
        "zero-width \u200b\u200d, BOM \ufeff",
        "address": "Ｆｕｌｌｗｉｄｔｈ 楼３号 \u00a0 tab\tnewline\nend",
    }
    case = await api.file(**texts)
    stored = await api.case("alice", case["id"])
    for field, value in texts.items():
        assert stored[field] == value.strip(), field


async def test_nul_characters_and_lone_surrogates_are_a_400_naming_the_field(api: Api) -> None:
    body = json.dumps(CASE).replace('"Loud music every night"', '"Loud\\u0000music"').encode()
    nul = await _post_raw(api, body)
    assert nul.status_code == 400, nul.text
    assert nul.json()["detail"].startswith("title:")
    body = json.dumps(CASE).replace('"Alice Liu"', '"Alice \\ud800"').encode()
    surrogate = await _post_raw(api, body)
    assert surrogate.status_code == 400, surrogate.text
    assert surrogate.json()["detail"].startswith("contact.name:")
    query = await api.as_user("admin", "GET", "/api/cases?category=a%00b")
    assert query.status_code == 400
    assert query.json()["detail"].startswith("category:")
    assert await _case_count(api) == 0


async def test_sql_and_template_injection_is_stored_and_returned_inert(api: Api) -> None:
    hostile = {
        "title": "Robert'); DROP TABLE jiesu_case;--",
        "description": "{{ 7*7 }} ${7*7} {% raw %}<script>alert(1)</script> %s %(x)s \\x00 '; --",
        "address": "' OR '1'='1",
    }
    case = await api.file(**hostile)
    await api.file()
    stored = await api.case("alice", case["id"])
    for field, value in hostile.items():
        assert stored[field] == value
    assert await _case_count(api) == 2
    for query in ("category=' OR '1'='1", "assignee=x' OR 1=1 --", "jurisdiction=%25", "state=intake'--"):
        listed = await api.as_user("admin", "GET", f"/api/cases?{query}")
        assert listed.status_code == 200, (query, listed.text)
        assert listed.json()["items"] == [], query
    events = await api.as_user("alice", "GET", f"/api/cases/{case['id']}/events")
    assert events.status_code == 200


async def test_case_ids_beyond_32_bits_are_a_400_not_a_500(api: Api) -> None:
    for url in ("/api/cases/99999999999", "/api/cases/99999999999/events"):
        response = await api.as_user("admin", "GET", url)
        assert response.status_code == 400, response.text
        assert "case_id" in response.json()["detail"]
    case = await api.file()
    merge = await api.act("disp", case["id"], "merge", into=2**40)
    assert merge.status_code == 400
    assert "into" in merge.json()["detail"]
    huge_version = await api.act("disp", case["id"], "reject", version=2**70, reason="x")
    assert huge_version.status_code == 400
    assert huge_version.json()["detail"].startswith("version:")


async def test_listing_cases_not_overdue_answers_instead_of_failing(api: Api) -> None:
    case = await api.file()
    on_time = await api.as_user("admin", "GET", "/api/cases?overdue=false")
    assert on_time.status_code == 200, on_time.text
    assert [item["id"] for item in on_time.json()["items"]] == [case["id"]]
    late = await api.as_user("admin", "GET", "/api/cases?overdue=true")
    assert late.json()["items"] == []


async def test_concurrent_retries_with_one_idempotency_key_file_one_case(api: Api) -> None:
    headers = {**(await api.login("alice")), "Idempotency-Key": "retry-42"}
    responses = await asyncio.gather(
        *(api.client.post("/api/cases", json=CASE, headers=headers) for _ in range(6))
    )
    assert [r.status_code for r in responses] == [201] * 6, [r.text for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _case_count(api) == 1


async def test_an_open311_form_field_that_is_not_utf8_is_a_400_in_the_spec_format(api: Api) -> None:
    key = (await api.as_user("admin", "POST", "/api/open311/keys", json={"name": "city app"})).json()
    boundary = "b0undary"
    fields = {"api_key": key["api_key"].encode(), "service_code": b"sanitation", "description": b"\xff\xfe"}
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in fields.items()
    )
    response = await api.client.post(
        "/open311/v2/requests.json",
        content=body + f"--{boundary}--\r\n".encode(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 400, response.text
    assert response.json()[0]["description"].startswith("body:")
    assert await _case_count(api) == 0
