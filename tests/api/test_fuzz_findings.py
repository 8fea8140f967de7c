"""What schemathesis found (issue 16, point 15), each pinned by its own test: two 500s and the places
where the OpenAPI document said something other than what the server does."""

from __future__ import annotations

from typing import Any

from jiesu.limits.input import MAX_ID
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


async def _document(api: Api) -> dict[str, Any]:
    response = await api.client.get("/schema/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


async def test_tracking_with_a_non_ascii_access_code_is_a_404_not_a_500(api: Api) -> None:
    filed = (await api.client.post("/api/cases", json=CASE)).json()
    for code in ("访问码", "ÄÖÜ12345", "é" * 16):
        response = await api.client.post(
            "/api/track", json={"tracking_no": filed["tracking_no"], "access_code": code}
        )
        assert response.status_code == 404, (code, response.text)
    right = {"tracking_no": filed["tracking_no"], "access_code": filed["access_code"]}
    assert (await api.client.post("/api/track", json=right)).status_code == 200


async def test_an_integer_query_parameter_beyond_32_bits_is_a_400_naming_it(api: Api) -> None:
    for cursor in (str(2**64 + 1), str(-(2**70)), str(MAX_ID + 1)):
        response = await api.as_user("admin", "GET", f"/api/notifications?cursor={cursor}")
        assert response.status_code == 400, (cursor, response.text)
        assert response.json()["detail"].startswith("cursor:")
    ok = await api.as_user("admin", "GET", f"/api/notifications?cursor={MAX_ID}")
    assert ok.status_code == 200, ok.text


async def test_options_lists_every_method_of_the_path_in_allow(api: Api) -> None:
    document = await _document(api)
    for path, item in document["paths"].items():
        if "{" in path:
            continue
        documented = {m.upper() for m in item if m in ("get", "post", "put", "patch", "delete")}
        response = await api.client.options(path)
        allow = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
        assert documented <= allow, (path, allow, documented)
    mediators = await api.client.options("/api/cases/1/mediators")
    assert {"GET", "POST"} <= {m.strip() for m in mediators.headers["allow"].split(",")}


async def test_a_boolean_field_refuses_0_and_1(api: Api) -> None:
    for value in (0, 1, "false", "true"):
        response = await api.as_user("admin", "PUT", "/api/workers/w1/duty", json={"on_duty": value})
        assert response.status_code == 400, (value, response.text)
        assert "on_duty" in response.json()["detail"]
    workers = (await api.as_user("admin", "GET", "/api/workers")).json()
    assert next(w for w in workers if w["username"] == "w1")["on_duty"] is True
    off = await api.as_user("admin", "PUT", "/api/workers/w1/duty", json={"on_duty": False})
    assert off.status_code == 200, off.text


async def test_the_csv_content_type_names_its_charset_once(api: Api) -> None:
    response = await api.as_user("admin", "GET", "/api/reports/rates?format=csv")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    xml = await api.client.get("/open311/v2/services.xml")
    assert xml.headers["content-type"] == "text/xml; charset=utf-8"


async def test_csv_xml_html_and_pdf_answers_are_documented_with_their_media_types(api: Api) -> None:
    document = await _document(api)
    paths = document["paths"]

    def media_types(path: str, method: str = "get", status: str = "200") -> set[str]:
        return set(paths[path][method]["responses"][status]["content"])

    assert {"application/json", "text/csv"} <= media_types("/api/reports/rates")
    assert media_types("/open311/v2/services.xml") == {"text/xml"}
    assert media_types("/open311/v2/requests.xml", "post", "201") == {"text/xml"}
    assert media_types("/api/cases/{case_id}/agreement/page") == {"text/html"}
    assert media_types("/api/cases/{case_id}/agreement/pdf") == {"application/pdf"}


async def test_open311_json_answers_are_documented_as_the_arrays_and_objects_they_are(api: Api) -> None:
    document = await _document(api)
    paths = document["paths"]
    expected = {
        ("/open311/v2/discovery.json", "get", "200"): "object",
        ("/open311/v2/services.json", "get", "200"): "array",
        ("/open311/v2/requests.json", "get", "200"): "array",
        ("/open311/v2/requests.json", "post", "201"): "array",
        ("/open311/v2/services/{resource}", "get", "200"): "object",
        ("/open311/v2/requests/{resource}", "get", "200"): "array",
    }
    for (path, method, status), kind in expected.items():
        content = paths[path][method]["responses"][status]["content"]
        schema = _resolve(document, content["application/json"]["schema"])
        assert schema.get("type") == kind, (path, schema)
    # and they are open to anonymous callers, as the server treats them
    assert all(op.get("security") == [{}] for op in paths["/open311/v2/services.json"].values())


async def test_the_document_states_the_input_limits_the_server_enforces(api: Api) -> None:
    document = await _document(api)
    notifications = document["paths"]["/api/notifications"]["get"]["parameters"]
    cursor = next(p for p in notifications if p["name"] == "cursor")["schema"]
    cursor = next((s for s in cursor.get("oneOf", [cursor]) if s.get("type") == "integer"), cursor)
    assert cursor["maximum"] == MAX_ID
    body = document["paths"]["/api/cases"]["post"]["requestBody"]["content"]["application/json"]
    case = _resolve(document, body["schema"])
    assert case["additionalProperties"] is False
    title = case["properties"]["title"]
    assert title["minLength"] == 1 and "pattern" in title  # a visible character, no NUL
    duty = document["paths"]["/api/workers/{username}/duty"]["put"]["requestBody"]["content"]
    assert _resolve(document, duty["application/json"]["schema"])["additionalProperties"] is False
    rates = {p["name"]: p["schema"] for p in document["paths"]["/api/reports/rates"]["get"]["parameters"]}
    assert "date" in str(rates["from"])  # an ISO date or date-time


async def test_unknown_fields_are_refused_on_every_json_body(api: Api) -> None:
    for method, url, body in (
        ("PUT", "/api/workers/w1/duty", {"on_duty": True, "extra": 1}),
        ("POST", "/api/cases", {**CASE, "extra": 1}),
        ("POST", "/api/open311/keys", {"name": "k", "extra": 1}),
    ):
        response = await api.as_user("admin", method, url, json=body)
        assert response.status_code == 400, (url, response.text)
        assert "extra" in response.json()["detail"]


async def test_an_integer_written_with_a_zero_fraction_is_an_integer_as_json_schema_counts_it(
    api: Api,
) -> None:
    # the long fuzzing run: {"party_id": 101861.0} was refused as "not a valid integer"
    ok = await api.as_user("admin", "PATCH", "/api/workers/w1", json={"capacity": 7.0})
    assert ok.status_code == 200, ok.text
    assert ok.json()["capacity"] == 7
    half = await api.as_user("admin", "PATCH", "/api/workers/w1", json={"capacity": 7.5})
    assert half.status_code == 400, half.text


async def test_bounds_of_wrapped_numbers_and_of_optional_query_numbers_are_in_the_document(
    api: Api,
) -> None:
    # the long fuzzing run: lon -3.6e16 and within_hours=0 were "schema-valid" but refused
    document = await _document(api)
    lon = document["components"]["schemas"]["CaseCreate"]["properties"]["lon"]
    number = next(s for s in lon["anyOf"] if s.get("type") == "number")
    assert (number["minimum"], number["maximum"]) == (-180, 180)
    overdue = document["paths"]["/api/reports/overdue"]["get"]["parameters"]
    within = next(p for p in overdue if p["name"] == "within_hours")["schema"]
    assert within["oneOf"][0]["exclusiveMinimum"] == 0
    refused = await api.as_user("admin", "GET", "/api/reports/overdue?within_hours=0")
    assert refused.status_code == 400, refused.text
