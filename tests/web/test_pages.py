"""The pages over plain HTTP, on every backend: who may open what, sessions, CSRF, uploads, dashboard."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from jiesu.app import create_app
from jiesu.config import Settings
from tests.conftest import ADMIN_PASSWORD, PASSWORD, Api
from tests.web.photos import png_bytes, same_pixels


def _csrf(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def _token_from(client: AsyncTestClient, path: str) -> str:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    return _csrf(response.text)


async def web_login(client: AsyncTestClient, username: str | None) -> None:
    """Start a fresh browser session (no cookies) and log in as ``username`` (None: stay anonymous)."""
    client.cookies.clear()
    client.follow_redirects = False  # the tests look at the redirects themselves
    client.headers["Accept-Language"] = "en"  # the tests read the English wording
    if username is None:
        return
    token = await _token_from(client, "/web/login")
    response = await client.post(
        "/web/login", data={"_csrf_token": token, "username": username, "password": PASSWORD}
    )
    assert response.status_code == 303, response.text


async def post_form(
    client: AsyncTestClient, page: str, action: str, data: dict[str, Any], files: Any = None
) -> Any:
    token = await _token_from(client, page)
    return await client.post(action, data={"_csrf_token": token, **data}, files=files)


# Pages whose behaviour does not touch the database engine run on SQLite only; the rest on every backend.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

FILING = {
    "kind": "complaint",
    "category": "neighbour_noise",
    "title": "Loud music",
    "description": "Music after midnight",
    "address": "Building 3",
    "jurisdiction_code": "C1",
    "contact_name": "Alice Liu",
    "contact_phone": "13812345678",
}


ANONYMOUS_REDIRECTS = ["/web/my", "/web/work", "/web/dashboard", "/web/dashboard.csv"]
ROLE_PAGES = [
    ("alice", "/web/my", 200),
    ("alice", "/web/work", 403),
    ("alice", "/web/dashboard", 403),
    ("w1", "/web/my", 403),
    ("w1", "/web/work", 200),
    ("w1", "/web/dashboard", 403),
    ("w1", "/web/file", 403),
    ("disp", "/web/work", 200),
    ("disp", "/web/file", 200),
    ("sup", "/web/dashboard", 200),
    ("sup", "/web/dashboard.csv", 200),
    ("sup", "/web/my", 403),
    ("admin", "/web/dashboard", 200),
]
CASE_VIEWERS = [
    ("alice", 200),
    ("bob", 404),
    ("w1", 200),
    ("w3", 404),
    ("sup", 200),
    ("sup2", 404),
    ("disp", 200),
]


@SQLITE_ONLY
async def test_anonymous_visitors_are_sent_to_the_login_page(api: Api) -> None:
    await web_login(api.client, None)
    for path in ANONYMOUS_REDIRECTS:
        response = await api.client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == f"/web/login?next_path={path}"


async def test_each_page_admits_only_its_roles(api: Api) -> None:
    for user, path, status in ROLE_PAGES:
        if user == "admin":
            await web_login(api.client, None)
            token = await _token_from(api.client, "/web/login")
            await api.client.post(
                "/web/login", data={"_csrf_token": token, "username": "admin", "password": ADMIN_PASSWORD}
            )
        else:
            await web_login(api.client, user)
        response = await api.client.get(path)
        assert response.status_code == status, (user, path, response.text[:300])


async def test_a_case_page_is_seen_by_the_same_people_as_in_the_api(api: Api) -> None:
    case = await api.file("alice")
    for user, status in CASE_VIEWERS:
        await web_login(api.client, user)
        page = await api.client.get(f"/web/cases/{case['id']}")
        assert page.status_code == status, user
        api_status = (await api.as_user(user, "GET", f"/api/cases/{case['id']}")).status_code
        assert api_status == status, user


async def test_a_case_page_shows_only_the_allowed_actions(api: Api) -> None:
    case = await api.file("alice")
    await web_login(api.client, "w1")
    html = (await api.client.get(f"/web/cases/{case['id']}")).text
    assert re.findall(r'id="action-([a-z_]+)"', html) == (await api.case("w1", case["id"]))["allowed_actions"]
    assert 'id="action-claim"' in html
    await web_login(api.client, "alice")
    html = (await api.client.get(f"/web/cases/{case['id']}")).text
    assert set(re.findall(r'id="action-([a-z_]+)"', html)) == {"withdraw", "add_info"}


async def test_an_action_by_a_role_that_may_not_act_is_refused(api: Api) -> None:
    case = await api.file("alice")
    await web_login(api.client, "w1")
    response = await post_form(
        api.client, f"/web/cases/{case['id']}", f"/web/cases/{case['id']}/actions/approve", {"version": "2"}
    )
    assert response.status_code == 403
    assert (await api.case("w1", case["id"]))["state"] == "triage"


@SQLITE_ONLY
async def test_a_form_without_the_csrf_token_is_refused(api: Api) -> None:
    await web_login(api.client, "alice")
    await api.client.get("/web/file")
    response = await api.client.post("/web/file", data=FILING)
    assert response.status_code == 403
    listed = await api.as_user("alice", "GET", "/api/cases")
    assert listed.json()["items"] == []


@SQLITE_ONLY
async def test_the_api_stays_on_bearer_tokens_without_csrf(api: Api) -> None:
    await web_login(api.client, "alice")  # a page session cookie does not make the API ask for CSRF
    case = await api.file("alice")
    assert case["state"] == "triage"


@SQLITE_ONLY
async def test_login_sets_an_httponly_samesite_session_and_logout_ends_it(api: Api) -> None:
    await web_login(api.client, None)
    token = await _token_from(api.client, "/web/login")
    response = await api.client.post(
        "/web/login", data={"_csrf_token": token, "username": "alice", "password": PASSWORD}
    )
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("jiesu_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie
    assert response.headers["location"] == "/web/my"
    token = await _token_from(api.client, "/web/my")
    assert (await api.client.post("/web/logout", data={"_csrf_token": token})).status_code == 303
    assert (await api.client.get("/web/my")).status_code == 303


@SQLITE_ONLY
async def test_secure_cookies_when_configured(settings: Settings) -> None:
    secure = Settings(**{**settings.__dict__, "web_secure_cookies": True})
    async with AsyncTestClient(create_app(secure)) as client:
        response = await client.get("/web/login")
        cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("jiesu_csrf="))
        assert "Secure" in cookie and "HttpOnly" in cookie


@SQLITE_ONLY
async def test_a_wrong_password_is_shown_beside_the_field_and_the_name_is_kept(api: Api) -> None:
    await web_login(api.client, None)
    token = await _token_from(api.client, "/web/login")
    response = await api.client.post(
        "/web/login", data={"_csrf_token": token, "username": "alice", "password": "wrong-password"}
    )
    assert response.status_code == 400
    assert 'id="password-error"' in response.text
    assert 'value="alice"' in response.text


async def test_an_anonymous_filer_gets_the_code_and_can_follow_the_case(api: Api) -> None:
    await web_login(api.client, None)
    response = await post_form(api.client, "/web/file", "/web/file", FILING)
    assert response.status_code == 200, response.text
    tracking_no = re.search(r'id="tracking-no">([^<]+)<', response.text).group(1)
    code = re.search(r'id="access-code">([^<]+)<', response.text).group(1)
    case_id = int(re.search(r"/web/cases/(\d+)", response.text).group(1))
    assert (await api.client.get(f"/web/cases/{case_id}")).status_code == 200
    await web_login(api.client, None)  # another device
    assert (await api.client.get(f"/web/cases/{case_id}")).status_code == 303
    wrong = await post_form(
        api.client, "/web/track", "/web/track", {"tracking_no": tracking_no, "access_code": "WRONGCODE2"}
    )
    assert wrong.status_code == 400 and 'id="access_code-error"' in wrong.text
    right = await post_form(
        api.client, "/web/track", "/web/track", {"tracking_no": tracking_no, "access_code": code}
    )
    assert right.status_code == 303 and right.headers["location"] == f"/web/cases/{case_id}"
    assert (await api.client.get(f"/web/cases/{case_id}")).status_code == 200
    # The code opens this case only.
    other = await api.file("alice")
    assert (await api.client.get(f"/web/cases/{other['id']}")).status_code == 303


async def test_sending_the_filing_form_twice_files_one_case(api: Api) -> None:
    await web_login(api.client, "alice")
    form = await api.client.get("/web/file")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text).group(1)
    numbers = set()
    for _ in range(2):
        sent = await post_form(api.client, "/web/file", "/web/file", {**FILING, "idempotency_key": key})
        assert sent.status_code == 200, sent.text
        numbers.add(re.search(r'id="tracking-no">([^<]+)<', sent.text).group(1))
    assert len(numbers) == 1
    assert len((await api.as_user("alice", "GET", "/api/cases")).json()["items"]) == 1


async def test_a_resident_adds_information_with_a_photo_and_others_cannot_see_it(
    api: Api, settings: Settings
) -> None:
    case = await api.file("alice")
    await web_login(api.client, "alice")
    page = f"/web/cases/{case['id']}"
    response = await post_form(
        api.client,
        page,
        f"{page}/actions/add_info",
        {"version": str(case["version"]), "note": "The music started again tonight."},
        files={"photo": ("../../etc/passwd.png", png_bytes(), "image/png")},
    )
    assert response.status_code == 303, response.text
    html = (await api.client.get(page)).text
    assert "More information was added." in html
    photo_url = re.search(rf'src="({page}/photos/\d+)"', html).group(1)
    photo = await api.client.get(photo_url)
    assert photo.status_code == 200
    assert photo.headers["content-type"] == "image/png"
    assert same_pixels(photo.content, png_bytes())  # re-encoded without metadata
    stored = [path.name for path in (settings.var_dir / "uploads").iterdir()]
    assert len(stored) == 1 and re.fullmatch(r"[0-9a-f]{32}\.png", stored[0])  # never the sent name
    await web_login(api.client, "bob")
    assert (await api.client.get(photo_url)).status_code == 404
    events = (await api.as_user("alice", "GET", f"/api/cases/{case['id']}/events")).json()
    assert events[-1]["action"] == "add_info"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"GIF89a" + b"\x00" * 100, "Only JPEG, PNG or WebP photos can be attached."),
        (b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024), "The photo is larger than 5 MB."),
    ],
)
@SQLITE_ONLY
async def test_a_photo_of_the_wrong_type_or_size_is_refused_beside_the_field(
    api: Api, content: bytes, message: str
) -> None:
    await web_login(api.client, None)
    response = await post_form(
        api.client,
        "/web/file",
        "/web/file",
        FILING,
        files={"photo": ("photo.jpg", content, "image/jpeg")},
    )
    assert response.status_code == 400
    assert 'id="photo-error"' in response.text and message in response.text
    assert 'value="Loud music"' in response.text  # what was typed is kept
    assert (await api.as_user("disp", "GET", "/api/cases")).json()["items"] == []


@SQLITE_ONLY
async def test_a_form_far_over_the_limit_is_refused_with_a_page(api: Api) -> None:
    await web_login(api.client, None)
    photo = b"\xff\xd8\xff" + b"\x00" * (7 * 1024 * 1024)
    response = await post_form(
        api.client, "/web/file", "/web/file", FILING, files={"photo": ("p.jpg", photo, "image/jpeg")}
    )
    assert response.status_code == 413
    assert response.headers["content-type"].startswith("text/html")
    assert "The photo is larger than 5 MB." in response.text


@SQLITE_ONLY
async def test_a_missing_field_is_named_and_the_input_kept(api: Api) -> None:
    await web_login(api.client, None)
    response = await post_form(api.client, "/web/file", "/web/file", {**FILING, "address": ""})
    assert response.status_code == 400
    assert 'id="address-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert "Music after midnight</textarea>" in response.text


@SQLITE_ONLY
async def test_a_bad_phone_number_is_shown_beside_the_phone_field(api: Api) -> None:
    await web_login(api.client, None)
    response = await post_form(api.client, "/web/file", "/web/file", {**FILING, "contact_phone": "call me"})
    assert response.status_code == 400
    assert 'id="contact_phone-error"' in response.text


async def test_a_stale_form_is_answered_with_the_fresh_case(api: Api) -> None:
    case = await api.file("alice")
    await api.act("disp", case["id"], "dispatch", assignee="w1")
    await web_login(api.client, "w1")
    page = f"/web/cases/{case['id']}"
    response = await post_form(
        api.client, page, f"{page}/actions/contact", {"version": str(case["version"]), "note": "Called"}
    )
    assert response.status_code == 409
    assert "Someone changed this case in the meantime" in response.text


async def test_the_dashboard_counts_the_supervisors_cases_and_exports_csv(api: Api) -> None:
    case = await api.file("alice")
    await api.act("w1", case["id"], "claim")
    await api.act("w1", case["id"], "contact", note="Called")
    await api.act("w1", case["id"], "resolve", outcome="resolved", summary="Quiet now")
    await api.act("sup", case["id"], "approve")
    await api.act("alice", case["id"], "rate", resolved=True, satisfaction=3)
    await api.file("alice", jurisdiction_code="C3")
    await web_login(api.client, "sup")
    html = (await api.client.get("/web/dashboard")).text
    assert 'id="total-received">1<' in html  # the C3 case is outside S1
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
    assert "30% response, 35% resolution, 35% satisfaction" in html  # workflows/reports.yaml
    csv = await api.client.get("/web/dashboard.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    rows = {line.split(",")[0]: line.split(",") for line in csv.text.strip().splitlines()[1:]}
    assert set(rows) == {"S1", "C1", "C2"}
    # rated 3 ("acceptable") is not satisfied: 100 × (30 × 1 + 35 × 1 + 35 × 0) / 100
    assert rows["C1"][5:] == ["1", "1.0000", "1.0000", "0.0000", "65.00"]
    assert rows["S1"][5:] == rows["C1"][5:] and rows["C2"][5:] == ["0", "", "", "", ""]
    bad = await api.client.get("/web/dashboard?start=2026-13-01")
    assert bad.status_code == 400 and 'id="start-error"' in bad.text


async def test_the_dashboard_rows_are_the_rates_report_of_each_place(api: Api) -> None:
    answered = await api.file("alice")
    await api.act("w1", answered["id"], "claim")
    await api.act("w1", answered["id"], "contact", note="Called")
    await api.act("w1", answered["id"], "resolve", outcome="resolved", summary="Quiet now")
    await api.act("sup", answered["id"], "approve")
    await api.act("alice", answered["id"], "rate", resolved=False, satisfaction=5)
    await api.file("bob", jurisdiction_code="G1")  # a grid case counts in its community
    await api.file("bob", jurisdiction_code="C2")
    excluded = await api.file("bob", jurisdiction_code="C2")
    body = {"case_id": excluded["id"], "reason": "Asks for the impossible"}
    assert (await api.as_user("sup", "POST", "/api/reports/exclusions", json=body)).status_code == 201
    await web_login(api.client, "sup")
    html = (await api.client.get("/web/dashboard")).text
    assert 'id="total-received">3<' in html and 'id="excluded">' in html
    rows = {
        line.split(",")[0]: line.split(",")
        for line in (await api.client.get("/web/dashboard.csv")).text.strip().splitlines()[1:]
    }
    for code in ("S1", "C1", "C2"):
        report = await api.as_user("sup", "GET", f"/api/reports/rates?jurisdiction={code}")
        total = report.json()["total"]
        expected = [str(total["received"])] + [
            "" if total[name] is None else f"{total[name]:.4f}"
            for name in ("response_rate", "resolution_rate", "satisfaction_rate")
        ]
        expected.append("" if total["composite_score"] is None else f"{total['composite_score']:.2f}")
        assert rows[code][5:] == expected
    assert rows["C1"][5] == "2" and rows["C2"][5] == "1"


@SQLITE_ONLY
async def test_the_language_comes_from_the_browser_or_the_switch(api: Api) -> None:
    await web_login(api.client, None)
    chinese = await api.client.get("/web/", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in chinese.text and "我要反映" in chinese.text
    english = await api.client.get("/web/", headers={"Accept-Language": "en-GB,en;q=0.8"})
    assert '<html lang="en">' in english.text and "File a case" in english.text
    switched = await api.client.get("/web/lang/zh_CN?next_path=/web/track")
    assert switched.status_code == 303 and switched.headers["location"] == "/web/track"
    again = await api.client.get("/web/", headers={"Accept-Language": "en"})
    assert "我要反映" in again.text
    outside = await api.client.get("/web/lang/en?next_path=//evil.example/")
    assert outside.headers["location"] == "/web/"


async def test_the_dispatcher_picks_a_worker_of_the_cases_branch(api: Api) -> None:
    case = await api.file("alice", category=None)  # no category: waits in intake for a dispatcher
    assert case["state"] == "intake"
    await api.act("disp", case["id"], "accept", category="neighbour_noise")
    await web_login(api.client, "disp")
    page = f"/web/cases/{case['id']}"
    html = (await api.client.get(page)).text
    picker = html.split('id="dispatch-assignee"')[1].split("</select>")[0]
    assert re.findall(r'<option value="(\w+)"', picker) == ["streetw", "w1", "w2"]
    version = str((await api.case("disp", case["id"]))["version"])
    sent = await post_form(
        api.client, page, f"{page}/actions/dispatch", {"version": version, "assignee": "w2"}
    )
    assert sent.status_code == 303
    assert (await api.case("disp", case["id"]))["assignee"] == "w2"


class _Controls(HTMLParser):
    """Form controls and the labels of a page: every control needs a label (for= or around it)."""

    def __init__(self) -> None:
        super().__init__()
        self.label_for: set[str] = set()
        self.unlabelled: list[str] = []
        self.in_label = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if attributes.get("for"):
                self.label_for.add(str(attributes["for"]))
        elif tag in ("input", "select", "textarea"):
            if attributes.get("type") in ("hidden", "submit"):
                return
            if not self.in_label:
                self.unlabelled.append(str(attributes.get("id") or attributes.get("name")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


@SQLITE_ONLY
async def test_every_form_field_has_a_label(api: Api) -> None:
    case = await api.file("alice")
    await api.act("w1", case["id"], "claim")
    pages = [(None, "/web/file"), (None, "/web/login"), (None, "/web/track")]
    pages += [("w1", f"/web/cases/{case['id']}"), ("alice", f"/web/cases/{case['id']}")]
    pages += [("disp", f"/web/cases/{case['id']}"), ("sup", "/web/dashboard")]
    for user, path in pages:
        await web_login(api.client, user)
        html = (await api.client.get(path)).text
        parser = _Controls()
        parser.feed(html)
        missing = [name for name in parser.unlabelled if name not in parser.label_for]
        assert missing == [], (user, path, missing)
        assert "<form" in html, path


async def test_the_stylesheet_is_served_as_css(api: Api) -> None:
    response = await api.client.get("/web/static/site.css")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert "body" in response.text
