"""Access that ends when it should: revocation of tokens and page sessions, names that are never given
twice, replays that reveal nothing, keys derived per use with a key id (issue 16, points 1, 2 and 13)."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager

from jiesu.accounts.tables import User
from jiesu.app import create_app
from jiesu.audit.tables import CaseEvent
from jiesu.config import Settings
from tests.conftest import ADMIN_PASSWORD, PASSWORD, Api, MovableClock, test_settings

CONTACT = {"name": "Li Xiaohong", "phone": "13611112222"}
BODY = {
    "kind": "complaint",
    "category": "neighbour_noise",
    "title": "Loud music every night",
    "description": "The flat above plays loud music after midnight.",
    "address": "Building 3, Jixiang Lane",
    "jurisdiction_code": "C1",
    "contact": CONTACT,
}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(api: Api, username: str, password: str = PASSWORD) -> httpx.Response:
    return await api.client.post("/api/auth/token", json={"username": username, "password": password})


async def token_of(api: Api, username: str, password: str = PASSWORD) -> str:
    response = await login(api, username, password)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def admin(api: Api, method: str, url: str, **kwargs: Any) -> httpx.Response:
    response: httpx.Response = await api.as_user("admin", method, url, **kwargs)
    return response


def _csrf(html: str) -> str:
    match = re.search(r'name="_csrf_token" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def web_login(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> httpx.Response:
    client.cookies.clear()
    client.follow_redirects = False
    client.headers["Accept-Language"] = "en"
    token = _csrf((await client.get("/web/login")).text)
    return await client.post(
        "/web/login", data={"_csrf_token": token, "username": username, "password": password}
    )


async def post_form(
    client: httpx.AsyncClient, page: str, action: str, data: dict[str, str]
) -> httpx.Response:
    token = _csrf((await client.get(page)).text)
    return await client.post(action, data={"_csrf_token": token, **data})


# ---- 1. revocation --------------------------------------------------------------------------------


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """A short account check, so a change made behind the app's back shows within the test."""
    return test_settings(database_url, tmp_path, account_check_seconds=0.3)


async def test_an_account_disabled_in_the_database_loses_its_token_and_session_within_seconds(
    api: Api,
) -> None:
    token = await token_of(api, "w1")
    assert (await web_login(api.client, "w1")).status_code == 303
    assert (await api.client.get("/web/work")).status_code == 200
    assert (await api.client.get("/api/cases", headers=bearer(token))).status_code == 200
    await User.update({User.active: False}).where(User.username == "w1")
    await asyncio.sleep(0.4)  # the account check's cache (JIESU_ACCOUNT_CHECK_SECONDS) runs out
    listed = await api.client.get("/api/cases", headers=bearer(token))
    assert listed.status_code == 401 and "token" in listed.json()["detail"]
    page = await api.client.get("/web/work")
    assert page.status_code == 303 and page.headers["location"].startswith("/web/login")


async def test_an_admin_disables_an_account_and_its_tokens_and_sessions_end_at_once(api: Api) -> None:
    token = await token_of(api, "w1")
    await web_login(api.client, "w1")
    changed = await admin(api, "PATCH", "/api/users/w1", json={"active": False})
    assert changed.status_code == 200, changed.text
    assert changed.json()["active"] is False
    assert (await api.client.get("/api/cases", headers=bearer(token))).status_code == 401
    assert (await api.client.get("/web/work")).status_code == 303
    assert (await login(api, "w1")).status_code == 401
    again = await admin(api, "PATCH", "/api/users/w1", json={"active": True})
    assert again.status_code == 200 and again.json()["active"] is True
    assert (await login(api, "w1")).status_code == 200


async def test_a_role_or_jurisdiction_change_ends_earlier_tokens_and_is_recorded_in_the_chain(
    api: Api,
) -> None:
    token = await token_of(api, "w1")
    changed = await admin(api, "PATCH", "/api/users/w1", json={"jurisdiction_code": "C3"})
    assert changed.status_code == 200 and changed.json()["jurisdiction_code"] == "C3"
    assert (await api.client.get("/api/cases", headers=bearer(token))).status_code == 401
    token = await token_of(api, "w1")
    promoted = await admin(
        api, "PATCH", "/api/users/w1", json={"role": "supervisor", "display_name": "W One"}
    )
    assert promoted.status_code == 200 and promoted.json()["role"] == "supervisor"
    assert (await api.client.get("/api/cases", headers=bearer(token))).status_code == 401
    fresh = await token_of(api, "w1")
    assert (await api.client.get("/api/reports/overdue", headers=bearer(fresh))).status_code == 200
    events = await CaseEvent.select().where(CaseEvent.action == "account_change").order_by(CaseEvent.seq)
    assert [json.loads(e["fields"])["changed"] for e in events] == [
        {"jurisdiction_code": "C3"},
        {"role": "supervisor", "display_name": "changed"},
    ]
    assert {e["actor"] for e in events} == {"admin"}
    assert "W One" not in json.dumps(events, default=str)
    assert (await admin(api, "GET", "/api/audit/verify")).json()["ok"] is True


@pytest.mark.parametrize(
    ("username", "body", "status", "field"),
    [
        ("w1", {}, 400, "body"),
        ("w1", {"role": "wizard"}, 400, "role"),
        ("w1", {"active": None}, 400, "active"),
        ("w1", {"jurisdiction_code": "NOPE"}, 400, "jurisdiction_code"),
        ("w1", {"jurisdiction_code": None}, 400, "jurisdiction_code"),
        ("w1", {"display_name": ""}, 400, "display_name"),
        ("w1", {"username": "x"}, 400, "username"),
        ("nobody", {"active": False}, 404, None),
        ("admin", {"role": "resident"}, 409, "role"),
        ("admin", {"active": False}, 409, "active"),
    ],
)
async def test_an_account_change_is_validated(
    api: Api, username: str, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = await admin(api, "PATCH", f"/api/users/{username}", json=body)
    assert response.status_code == status, response.text
    if field is not None:
        assert field in response.text
    assert (await login(api, "w1")).status_code == 200


async def test_only_an_admin_changes_accounts(api: Api) -> None:
    for user in ("sup", "w1", "alice"):
        response = await api.as_user(user, "PATCH", "/api/users/w2", json={"active": False})
        assert response.status_code == 403
        reset = await api.as_user(user, "POST", "/api/users/w2/password-reset")
        assert reset.status_code == 403


async def test_a_password_change_ends_every_earlier_token_and_session(api: Api) -> None:
    old_token = await token_of(api, "alice")
    await web_login(api.client, "alice")
    wrong = await api.client.post(
        "/api/me/password",
        json={"old_password": "not-it-at-all", "new_password": "a-new-pass-456"},
        headers=bearer(old_token),
    )
    assert wrong.status_code == 400 and "old_password" in wrong.json()["detail"]
    short = await api.client.post(
        "/api/me/password",
        json={"old_password": PASSWORD, "new_password": "short"},
        headers=bearer(old_token),
    )
    assert short.status_code == 400 and "new_password" in short.text
    changed = await api.client.post(
        "/api/me/password",
        json={"old_password": PASSWORD, "new_password": "a-new-pass-456"},
        headers=bearer(old_token),
    )
    assert changed.status_code == 200, changed.text
    new_token = changed.json()["access_token"]
    assert (await api.client.get("/api/cases", headers=bearer(old_token))).status_code == 401
    assert (await api.client.get("/api/cases", headers=bearer(new_token))).status_code == 200
    assert (await api.client.get("/web/my")).status_code == 303
    assert (await login(api, "alice")).status_code == 401
    assert (await login(api, "alice", "a-new-pass-456")).status_code == 200


async def test_an_admin_reset_gives_a_one_time_password_that_can_only_be_changed(api: Api) -> None:
    old_token = await token_of(api, "alice")
    reset = await admin(api, "POST", "/api/users/alice/password-reset")
    assert reset.status_code == 200, reset.text
    one_time = reset.json()["one_time_password"]
    assert reset.json()["must_change_password"] is True
    assert (await api.client.get("/api/cases", headers=bearer(old_token))).status_code == 401
    assert (await login(api, "alice")).status_code == 401
    logged_in = await login(api, "alice", one_time)
    assert logged_in.status_code == 200 and logged_in.json()["must_change_password"] is True
    limited = logged_in.json()["access_token"]
    for method, url in [("GET", "/api/cases"), ("GET", "/api/me/export"), ("DELETE", "/api/me")]:
        refused = await api.client.request(method, url, headers=bearer(limited))
        assert refused.status_code == 403 and "password" in refused.json()["detail"], (url, refused.text)
    filed = await api.client.post(
        "/api/cases",
        json={
            "kind": "complaint",
            "title": "t",
            "description": "d",
            "address": "a",
            "jurisdiction_code": "C1",
        },
        headers=bearer(limited),
    )
    assert filed.status_code == 403
    changed = await api.client.post(
        "/api/me/password",
        json={"old_password": one_time, "new_password": "mine-again-789"},
        headers=bearer(limited),
    )
    assert changed.status_code == 200 and changed.json()["must_change_password"] is False
    assert (
        await api.client.get("/api/cases", headers=bearer(changed.json()["access_token"]))
    ).status_code == 200
    events = await CaseEvent.select().where(CaseEvent.action == "password_reset")
    assert len(events) == 1 and one_time not in json.dumps(events, default=str)


async def test_a_one_time_password_on_the_pages_leads_only_to_the_password_page(api: Api) -> None:
    one_time = (await admin(api, "POST", "/api/users/alice/password-reset")).json()["one_time_password"]
    response = await web_login(api.client, "alice", one_time)
    assert response.status_code == 303 and response.headers["location"] == "/web/password"
    for path in ("/web/my", "/web/file", "/web/"):
        page = await api.client.get(path)
        assert page.status_code == 303 and page.headers["location"] == "/web/password", path
    form = {"old_password": one_time, "new_password": "x", "new_password_again": "x"}
    short = await post_form(api.client, "/web/password", "/web/password", form)
    assert short.status_code == 400 and "at least 8" in short.text
    form = {"old_password": one_time, "new_password": "mine-789-abc", "new_password_again": "mine-789-abc"}
    changed = await post_form(api.client, "/web/password", "/web/password", form)
    assert changed.status_code == 303 and changed.headers["location"] == "/web/my"
    assert (await api.client.get("/web/my")).status_code == 200


async def test_logout_ends_the_token_and_the_session_on_the_server(api: Api) -> None:
    token = await token_of(api, "alice")
    assert (await api.client.post("/api/auth/logout", headers=bearer(token))).status_code == 204
    assert (await api.client.get("/api/cases", headers=bearer(token))).status_code == 401
    assert (await api.client.post("/api/auth/logout", headers=bearer(token))).status_code == 204
    await web_login(api.client, "alice")
    assert (await api.client.get("/web/my")).status_code == 200
    kept = dict(api.client.cookies)  # what a thief copied from the browser
    assert (await post_form(api.client, "/web/my", "/web/logout", {})).status_code == 303
    api.client.cookies.clear()
    for name, value in kept.items():
        api.client.cookies.set(name, value, path="/web")
    page = await api.client.get("/web/my")
    assert page.status_code == 303 and page.headers["location"].startswith("/web/login")


async def test_erasure_ends_the_residents_tokens(api: Api) -> None:
    token = await token_of(api, "bob")
    deleted = await api.client.delete("/api/me", headers=bearer(token))
    assert deleted.status_code == 200, deleted.text
    assert (await api.client.get("/api/me/export", headers=bearer(token))).status_code == 401


# ---- 2. names -------------------------------------------------------------------------------------


async def register(api: Api, username: str) -> httpx.Response:
    body = {
        "username": username,
        "password": "their-pass-123",
        "display_name": "Someone",
        "phone": "13700000000",
    }
    return await api.client.post("/api/residents", json=body)


async def test_a_deleted_residents_username_is_never_given_again(api: Api) -> None:
    assert (await api.as_user("bob", "DELETE", "/api/me")).status_code == 200
    for name in ("bob", "BOB", "Bob"):
        again = await register(api, name)
        assert again.status_code == 409 and "username" in again.json()["detail"], again.text
    made = await admin(
        api,
        "POST",
        "/api/users",
        json={"username": "bob", "password": PASSWORD, "role": "resident", "display_name": "B"},
    )
    assert made.status_code == 409


async def test_usernames_differing_only_in_case_are_one_name(api: Api) -> None:
    assert (await register(api, "Alice")).status_code == 409
    assert (await register(api, "carol")).status_code == 201
    assert (await register(api, "CAROL")).status_code == 409


@pytest.mark.parametrize("name", ["admin", "Admin", "SYSTEM", "anonymous", "Root", "deleted-7", "case-12"])
async def test_reserved_usernames_cannot_be_registered(api: Api, name: str) -> None:
    response = await register(api, name)
    assert response.status_code == 400 and "username" in response.json()["detail"], response.text


async def test_a_resident_named_admin_does_not_stop_the_start(
    database_url: str, tmp_path: Path, clock: MovableClock
) -> None:
    """An account registered as ``admin`` before names were reserved: the start still makes an admin."""
    plain = replace(test_settings(database_url, tmp_path), admin_password=None)
    app = create_app(plain, clock=clock)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        accounts = app.state.accounts
        await User.insert(
            User(
                username="admin",
                password_hash=accounts.passwords.hash("residents-pass"),
                role="resident",
                display_name="Not an admin",
                created_at=clock(),
            )
        )
    app = create_app(test_settings(database_url, tmp_path), clock=clock)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=60):
        rows = await User.select(User.username, User.role).order_by(User.username)
    assert {r["username"]: r["role"] for r in rows} == {"admin": "resident", "admin-2": "admin"}


# ---- 13. replays and keys -------------------------------------------------------------------------


async def test_an_idempotency_replay_shows_neither_the_access_code_nor_the_contact(api: Api) -> None:
    headers = {"Idempotency-Key": "anon-key-1"}
    first = await api.client.post("/api/cases", json=BODY, headers=headers)
    again = await api.client.post("/api/cases", json=BODY, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["access_code"] and first.json()["contact"]["phone"] == CONTACT["phone"]
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    assert again.json()["access_code"] is None
    assert CONTACT["phone"] not in again.text and CONTACT["name"] not in again.text
    assert again.json()["allowed_actions"] == []


def token_header(token: str) -> dict[str, Any]:
    head = token.split(".")[0]
    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


@asynccontextmanager
async def app_client(settings: Settings, clock: MovableClock) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, clock=clock)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        yield http


async def test_a_rotated_secret_keeps_earlier_tokens_and_access_codes_while_it_is_retired(
    database_url: str, tmp_path: Path, clock: MovableClock
) -> None:
    old, new = "the-old-secret-" * 4, "the-new-secret-" * 4
    login_body = {"username": "admin", "password": ADMIN_PASSWORD}
    async with app_client(replace(test_settings(database_url, tmp_path), secret_key=old), clock) as http:
        old_token = (await http.post("/api/auth/token", json=login_body)).json()["access_token"]
        await http.post(
            "/api/jurisdictions",
            json={"code": "D1", "name": "D", "level": "district"},
            headers=bearer(old_token),
        )
        body = {**BODY, "jurisdiction_code": "D1", "category": None}
        filed = (await http.post("/api/cases", json={k: v for k, v in body.items() if v})).json()
    track = {"tracking_no": filed["tracking_no"], "access_code": filed["access_code"]}
    old_kid = token_header(old_token)["kid"]
    assert old_kid and old_kid not in old  # a key id, not the secret
    rotated = replace(test_settings(database_url, tmp_path), secret_key=new, retired_secret_keys=(old,))
    async with app_client(rotated, clock) as http:
        assert (await http.get("/api/users", headers=bearer(old_token))).status_code == 200
        assert (await http.post("/api/track", json=track)).status_code == 200
        new_token = (await http.post("/api/auth/token", json=login_body)).json()["access_token"]
        assert token_header(new_token)["kid"] not in (old_kid, None)
    async with app_client(replace(test_settings(database_url, tmp_path), secret_key=new), clock) as http:
        assert (await http.get("/api/users", headers=bearer(old_token))).status_code == 401
        assert (await http.get("/api/users", headers=bearer(new_token))).status_code == 200
        assert (await http.post("/api/track", json=track)).status_code == 404


WEB_FILING = {
    "kind": "complaint",
    "category": "neighbour_noise",
    "title": "Loud music",
    "description": "Music after midnight",
    "address": "Building 3",
    "jurisdiction_code": "C1",
    "contact_name": CONTACT["name"],
    "contact_phone": CONTACT["phone"],
}


async def test_a_replayed_filing_form_neither_shows_the_access_code_nor_opens_the_case(api: Api) -> None:
    client = api.client
    client.cookies.clear()
    client.follow_redirects = False
    client.headers["Accept-Language"] = "en"
    form = await client.get("/web/file")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form.text)
    assert key, "the filing form has no idempotency key"
    data = {**WEB_FILING, "idempotency_key": key.group(1), "_csrf_token": _csrf(form.text)}
    first = await client.post("/web/file", data=data)
    assert first.status_code == 200 and 'id="access-code"' in first.text
    link = re.search(r"/web/cases/(\d+)", first.text)
    assert link, "the receipt links to the case"
    case_id = int(link.group(1))
    client.cookies.clear()  # someone else, who knows (or guessed) the key and the form's content
    again = await post_form(client, "/web/file", "/web/file", {**WEB_FILING, "idempotency_key": key.group(1)})
    assert again.status_code == 200 and 'id="access-code"' not in again.text
    page = await client.get(f"/web/cases/{case_id}")
    assert page.status_code in (303, 404) and CONTACT["phone"] not in page.text
