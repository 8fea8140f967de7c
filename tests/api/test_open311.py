"""Open311 GeoReport v2: every resource in JSON (checked against the shared schemas) and in XML."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from defusedxml import ElementTree
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from jiesu.config import PROJECT_ROOT
from tests.conftest import Api


def _schema_dir() -> Path:
    """../shared/open311-schemas beside the repository (a worktree sits one level deeper)."""
    for parent in PROJECT_ROOT.parents:
        candidate = parent / "shared" / "open311-schemas"
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("shared/open311-schemas not found beside the repository")


SCHEMAS = {path.name: json.loads(path.read_text()) for path in _schema_dir().glob("*.json")}
REGISTRY = Registry().with_resources(
    [
        (name, Resource.from_contents(schema, default_specification=DRAFT202012))
        for name, schema in SCHEMAS.items()
    ]
)


def assert_valid(schema_name: str, body: Any) -> None:
    validator = Draft202012Validator(SCHEMAS[schema_name], registry=REGISTRY, format_checker=FormatChecker())
    errors = list(validator.iter_errors(body))
    assert not errors, [e.message for e in errors]


def xml(response: Any) -> Any:
    assert response.headers["content-type"].startswith("text/xml"), response.headers
    return ElementTree.fromstring(response.content)


async def issue_key(api: Api, name: str = "city app") -> dict[str, Any]:
    response = await api.as_user("admin", "POST", "/api/open311/keys", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def form(api_key: str | None, **overrides: str) -> dict[str, str]:
    body = {
        "service_code": "sanitation",
        "description": "Bins by gate 2 not emptied for a week",
        "address_string": "Gate 2, Jixiang Lane",
        "first_name": "Wang",
        "last_name": "Fang",
        "phone": "13700001111",
        "jurisdiction_id": "C1",
    }
    if api_key is not None:
        body["api_key"] = api_key
    body.update(overrides)
    return body


async def post_request(api: Api, fmt: str, data: dict[str, str]) -> Any:
    return await api.client.post(f"/open311/v2/requests.{fmt}", data=data)


async def test_discovery_lists_the_v2_endpoint_in_both_formats(api: Api) -> None:
    body = (await api.client.get("/open311/v2/discovery.json")).json()
    assert body["endpoints"][0]["url"].endswith("/open311/v2/")
    assert "application/json" in body["endpoints"][0]["formats"]
    root = xml(await api.client.get("/open311/v2/discovery.xml"))
    assert root.tag == "discovery"
    formats = [f.text for f in root.findall("endpoints/endpoint/formats/format")]
    assert formats == ["text/xml", "application/json"]


async def test_services_come_from_the_catalogue_in_json_and_xml(api: Api) -> None:
    response = await api.client.get("/open311/v2/services.json", params={"jurisdiction_id": "beijing"})
    assert response.status_code == 200
    services = response.json()
    assert_valid("services.json", services)
    by_code = {s["service_code"]: s for s in services}
    assert by_code["neighbour_noise"]["metadata"] is True  # a dispute needs the other party
    assert by_code["sanitation"]["metadata"] is False
    root = xml(await api.client.get("/open311/v2/services.xml"))
    assert root.tag == "services"
    xml_services = root.findall("service")
    assert [s.findtext("service_code") for s in xml_services] == [s["service_code"] for s in services]
    noise = next(s for s in xml_services if s.findtext("service_code") == "neighbour_noise")
    assert noise.findtext("metadata") == "true"
    assert noise.findtext("type") == "realtime"


async def test_service_definition_gives_the_attributes(api: Api) -> None:
    definition = (await api.client.get("/open311/v2/services/neighbour_noise.json")).json()
    assert_valid("service-definition.json", definition)
    assert [a["code"] for a in definition["attributes"]] == ["other_party", "tried_before"]
    root = xml(await api.client.get("/open311/v2/services/neighbour_noise.xml"))
    assert root.tag == "service_definition"
    assert root.findtext("service_code") == "neighbour_noise"
    values = root.findall("attributes/attribute/values/value")
    assert [v.findtext("key") for v in values] == ["yes", "no"]
    missing = await api.client.get("/open311/v2/services/no_such_thing.json")
    assert missing.status_code == 404
    assert missing.json()[0]["code"] == 404


async def test_post_without_api_key_is_refused_in_the_spec_format(api: Api) -> None:
    response = await post_request(api, "json", form(None))
    assert response.status_code == 403
    errors = response.json()
    assert isinstance(errors, list) and errors[0]["code"] == 403
    assert "api_key" in errors[0]["description"]
    bad = await post_request(api, "xml", form("o311_not-a-real-key"))
    assert bad.status_code == 403
    root = xml(bad)
    assert root.tag == "errors" and root.findtext("error/code") == "403"


async def test_filed_request_is_an_ordinary_case_visible_through_the_api(api: Api) -> None:
    key = await issue_key(api)
    response = await post_request(api, "json", form(key["api_key"]))
    assert response.status_code == 201, response.text
    answer = response.json()
    request_id = answer[0]["service_request_id"]
    cases = (await api.as_user("disp", "GET", "/api/cases")).json()["items"]
    case = next(c for c in cases if c["tracking_no"] == request_id)
    assert case["channel"] == "open311"
    assert case["category"] == "sanitation"
    assert case["state"] == "triage"  # category and community known: accepted at once
    assert case["contact"] == {"name": "Wang Fang", "phone": "13700001111"}

    one = (await api.client.get(f"/open311/v2/requests/{request_id}.json")).json()
    assert_valid("requests.json", one)
    assert one[0]["status"] == "open"
    assert one[0]["agency_responsible"] == "Community One"
    assert one[0]["expected_datetime"] == case["deadlines"]["resolution_due"].replace("Z", "+00:00")
    assert "triage" not in one[0]["status_notes"] and one[0]["status_notes"]
    root = xml(await api.client.get(f"/open311/v2/requests/{request_id}.xml"))
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == request_id
    assert root.findtext("request/status") == "open"
    assert root.findtext("request/service_code") == "sanitation"


async def test_post_in_xml_and_dispute_attributes(api: Api) -> None:
    key = await issue_key(api)
    missing = await post_request(api, "json", form(key["api_key"], service_code="neighbour_noise"))
    assert missing.status_code == 400
    assert missing.json()[0]["description"].startswith("attribute[other_party]")
    response = await post_request(
        api,
        "xml",
        form(
            key["api_key"],
            service_code="neighbour_noise",
            **{"attribute[other_party]": "flat 502", "attribute[tried_before]": "no"},
        ),
    )
    assert response.status_code == 201, response.text
    request_id = xml(response).findtext("request/service_request_id")
    items = (await api.as_user("disp", "GET", "/api/cases")).json()["items"]
    case = next(c for c in items if c["tracking_no"] == request_id)
    assert case["kind"] == "dispute"
    assert "flat 502" in case["description"]
    public = (await api.client.get(f"/open311/v2/requests/{request_id}.json")).json()[0]
    assert public["address"] is None and public["description"] is None  # a dispute's address stays private


async def test_bad_fields_are_named(api: Api) -> None:
    key = await issue_key(api)
    for overrides, field in [
        ({"service_code": ""}, "service_code"),
        ({"service_code": "nope"}, "service_code"),
        ({"phone": ""}, "phone"),
        ({"phone": "call me"}, "phone"),
        ({"first_name": "", "last_name": ""}, "first_name"),
        ({"address_string": ""}, "address_string"),
    ]:
        response = await post_request(api, "json", form(key["api_key"], **overrides))
        assert response.status_code == 400, (overrides, response.text)
        assert response.json()[0]["description"].startswith(field), response.text


async def test_requests_listing_filters_and_the_90_day_window(api: Api) -> None:
    key = await issue_key(api)
    first = (await post_request(api, "json", form(key["api_key"]))).json()[0]["service_request_id"]
    second = (await post_request(api, "json", form(key["api_key"], service_code="parking"))).json()[0][
        "service_request_id"
    ]
    listed = (await api.client.get("/open311/v2/requests.json")).json()
    assert_valid("requests.json", listed)
    assert {r["service_request_id"] for r in listed} == {first, second}
    parking = (await api.client.get("/open311/v2/requests.json", params={"service_code": "parking"})).json()
    assert [r["service_request_id"] for r in parking] == [second]
    by_id = (await api.client.get("/open311/v2/requests.json", params={"service_request_id": first})).json()
    assert [r["service_request_id"] for r in by_id] == [first]
    closed = (await api.client.get("/open311/v2/requests.json", params={"status": "closed"})).json()
    assert closed == []
    root = xml(await api.client.get("/open311/v2/requests.xml", params={"status": "open"}))
    assert len(root.findall("request")) == 2

    now = datetime.now(UTC)
    old = {
        "start_date": (now - timedelta(days=200)).isoformat(),
        "end_date": (now - timedelta(days=150)).isoformat(),
    }
    assert (await api.client.get("/open311/v2/requests.json", params=old)).json() == []
    too_wide = {"start_date": (now - timedelta(days=91)).isoformat(), "end_date": now.isoformat()}
    response = await api.client.get("/open311/v2/requests.json", params=too_wide)
    assert response.status_code == 400
    assert "90 days" in response.json()[0]["description"]
    bad = await api.client.get("/open311/v2/requests.xml", params={"start_date": "yesterday"})
    assert bad.status_code == 400 and xml(bad).findtext("error/description").startswith("start_date")
    missing = await api.client.get("/open311/v2/requests/JS20000101-XXXXXX.json")
    assert missing.status_code == 404 and missing.json()[0]["code"] == 404


async def test_keys_are_admin_only_revocable_and_rate_limited(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = await api.as_user("disp", "POST", "/api/open311/keys", json={"name": "x"})
    assert refused.status_code == 403
    key = await issue_key(api)
    listed = (await api.as_user("admin", "GET", "/api/open311/keys")).json()
    assert listed[0]["name"] == "city app" and "api_key" not in listed[0]
    monkeypatch.setattr(api.client.app.state.open311_keys, "rate_per_minute", 2)
    statuses = [(await post_request(api, "json", form(key["api_key"]))).status_code for _ in range(3)]
    assert statuses == [201, 201, 429]
    revoked = await api.as_user("admin", "DELETE", f"/api/open311/keys/{key['id']}")
    assert revoked.status_code == 204
    after = await post_request(api, "json", form(key["api_key"]))
    assert after.status_code == 403
    again = await api.as_user("admin", "DELETE", f"/api/open311/keys/{key['id']}")
    assert again.status_code == 404
