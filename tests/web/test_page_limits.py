"""Issue 16, point 8 on the pages: anonymous filings and additions count in the API's anonymous intake
bucket, a case holds a bounded number of photos, and a write is refused with 507 when the disk is nearly
full."""

from __future__ import annotations

import dataclasses
import re

import pytest

from jiesu.config import Settings
from tests.api.test_security_limits import clock, settings  # noqa: F401  (the fixtures of that module)
from tests.conftest import Api
from tests.web.photos import png_bytes
from tests.web.test_pages import FILING, post_form, web_login


async def _add_info(api: Api, case_id: int, photo: bytes | None = None) -> object:
    page = f"/web/cases/{case_id}"
    version = (await api.as_user("admin", "GET", f"/api/cases/{case_id}")).json()["version"]
    files = {"photo": ("p.png", photo, "image/png")} if photo else None
    return await post_form(
        api.client, page, f"{page}/actions/add_info", {"version": str(version), "note": "More."}, files=files
    )


@pytest.mark.settings(anonymous_intake_per_minute=3)
async def test_anonymous_filings_on_the_page_share_the_api_limit(api: Api) -> None:
    await api.file(username=None)
    await api.file(username=None)
    await web_login(api.client, None)
    filed = await post_form(api.client, "/web/file", "/web/file", FILING)
    assert filed.status_code == 200, filed.text
    refused = await post_form(
        api.client, "/web/file", "/web/file", FILING, files={"photo": ("p.png", png_bytes(), "image/png")}
    )
    assert refused.status_code == 429 and "Too many attempts" in refused.text
    assert int(refused.headers["retry-after"]) == 55
    api_refused = await api.as_user(None, "POST", "/api/cases", json={**_api_body()})
    assert api_refused.status_code == 429
    assert len((await api.as_user("admin", "GET", "/api/cases")).json()["items"]) == 3
    assert (await api.file("alice"))["id"]  # residents who are logged in are not counted


@pytest.mark.settings(anonymous_intake_per_minute=2)
async def test_anonymous_additions_on_the_page_count_as_anonymous_filings(api: Api) -> None:
    filed = await api.file(username=None)
    await web_login(api.client, None)
    tracked = await post_form(
        api.client,
        "/web/track",
        "/web/track",
        {"tracking_no": filed["tracking_no"], "access_code": filed["access_code"]},
    )
    assert tracked.status_code == 303
    assert (await _add_info(api, filed["id"], png_bytes())).status_code == 303  # type: ignore[attr-defined]
    refused = await _add_info(api, filed["id"], png_bytes())
    assert refused.status_code == 429  # type: ignore[attr-defined]
    events = (await api.as_user("admin", "GET", f"/api/cases/{filed['id']}/events")).json()
    assert [e["action"] for e in events].count("add_info") == 1


@pytest.mark.settings(max_photos_per_case=2)
async def test_a_case_holds_at_most_the_set_number_of_photos(api: Api, settings: Settings) -> None:  # noqa: F811
    case = await api.file("alice")
    await web_login(api.client, "alice")
    for _ in range(2):
        assert (await _add_info(api, case["id"], png_bytes())).status_code == 303  # type: ignore[attr-defined]
    third = await _add_info(api, case["id"], png_bytes())
    assert third.status_code == 400  # type: ignore[attr-defined]
    assert "This case already holds as many photos as it may." in third.text  # type: ignore[attr-defined]
    assert len(list((settings.var_dir / "uploads").iterdir())) == 2
    events = (await api.as_user("alice", "GET", f"/api/cases/{case['id']}/events")).json()
    assert [e["action"] for e in events].count("add_info") == 2  # the third addition was not recorded
    assert (await _add_info(api, case["id"])).status_code == 303  # type: ignore[attr-defined]


async def test_a_page_write_is_refused_with_507_when_the_disk_is_nearly_full(
    api: Api,
    settings: Settings,  # noqa: F811
) -> None:
    app = api.client.app  # type: ignore[attr-defined]
    app.state.settings = dataclasses.replace(settings, min_free_disk_mb=10**12)
    await web_login(api.client, None)
    refused = await post_form(api.client, "/web/file", "/web/file", FILING)
    assert refused.status_code == 507
    assert refused.headers["content-type"].startswith("text/html")
    assert "Nothing was saved" in refused.text
    assert re.search(r"short of disk space", refused.text)
    assert (await api.as_user("admin", "GET", "/api/cases")).json()["items"] == []


def _api_body() -> dict[str, object]:
    return {
        "kind": "complaint",
        "category": "neighbour_noise",
        "title": "t",
        "description": "d",
        "address": "a",
        "jurisdiction_code": "C1",
        "contact": {"name": "Anon Filer", "phone": "13700000000"},
    }
