"""Issue 16, points 3, 8, 12 and 14 over the API: throttling counted before hashing (per account and per
address, on logins, tracking codes and registrations), the hashing slots, the password policy, the disk
floor, the public Open311 listing, anchored public paths, the metrics token, no-store, PGPASSWORD and
restores refused while a server holds the database."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from jiesu.accounts.lockout import MAX_FAILURES
from jiesu.accounts.policy import check_password_policy
from jiesu.config import Settings
from jiesu.db import is_postgres_url
from jiesu.errors import InvalidInput
from jiesu.ops import backup
from tests.api.test_backup import jiesu
from tests.conftest import PASSWORD, Api, test_settings


class FixedClock:
    """A clock that stays inside one minute, so per-minute windows do not roll over mid-test."""

    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 9, 0, 5, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """The suite's settings, with the overrides of the test's ``settings`` marker."""
    marker = request.node.get_closest_marker("settings")
    return test_settings(database_url, tmp_path, **(marker.kwargs if marker else {}))


def slow_verify(api: Api, seconds: float) -> list[str]:
    """Make every password check take ``seconds`` (in its thread) and record each one."""
    accounts = api.client.app.state.accounts  # type: ignore[attr-defined]
    real: Callable[[str | None, str], bool] = accounts.passwords.verify
    tried: list[str] = []

    def verify(password_hash: str | None, password: str) -> bool:
        tried.append(password)
        time.sleep(seconds)
        return real(password_hash, password)

    accounts.passwords.verify = verify
    return tried


async def login(api: Api, username: str, password: str) -> Any:
    return await api.client.post("/api/auth/token", json={"username": username, "password": password})


# ---- 3. throttling before hashing ------------------------------------------------------------------


@pytest.mark.settings(password_hash_concurrency=32)
async def test_parallel_wrong_guesses_are_counted_before_hashing_so_only_the_limit_is_tried(api: Api) -> None:
    tried = slow_verify(api, 0.05)
    answers = await asyncio.gather(*(login(api, "w1", f"guess-number-{n}") for n in range(12)))
    statuses = sorted(a.status_code for a in answers)
    assert len(tried) <= MAX_FAILURES, tried  # the others never reached the hash
    assert statuses.count(401) == len(tried) and statuses.count(429) == 12 - len(tried), statuses
    assert all(int(a.headers["retry-after"]) > 0 for a in answers if a.status_code == 429)
    assert (await login(api, "w1", PASSWORD)).status_code == 429  # locked, even with the right one


async def test_the_login_page_and_the_api_share_one_lockout(api: Api) -> None:
    from tests.web.test_pages import post_form, web_login

    for _ in range(MAX_FAILURES):
        assert (await login(api, "w1", "wrong-password-1")).status_code == 401
    await web_login(api.client, None)
    page = await post_form(api.client, "/web/login", "/web/login", {"username": "w1", "password": PASSWORD})
    assert page.status_code == 429 and "Too many attempts" in page.text
    assert int(page.headers["retry-after"]) > 0

    for _ in range(MAX_FAILURES):  # wrong guesses on the page lock the API too
        wrong = await post_form(
            api.client, "/web/login", "/web/login", {"username": "w2", "password": "wrong-password-2"}
        )
        assert wrong.status_code == 400
    assert (await login(api, "w2", PASSWORD)).status_code == 429


@pytest.mark.settings(failed_attempts_per_address=4)
async def test_failures_from_one_address_are_limited_across_accounts(api: Api) -> None:
    assert (await login(api, "w2", PASSWORD)).status_code == 200  # a success does not count
    for username in ("w1", "bob", "nobody-1", "nobody-2"):
        assert (await login(api, username, "wrong-password-3")).status_code == 401
    refused = await login(api, "nobody-3", "wrong-password-3")
    assert refused.status_code == 429 and "address" in refused.json()["detail"]
    assert (await login(api, "alice", PASSWORD)).status_code == 429  # the address waits, whoever it is


async def test_wrong_tracking_codes_lock_the_tracking_number_on_the_api_and_the_page(api: Api) -> None:
    from tests.web.test_pages import post_form, web_login

    filed = await api.file(username=None)
    number, code = filed["tracking_no"], filed["access_code"]
    for n in range(MAX_FAILURES):
        wrong = await api.client.post("/api/track", json={"tracking_no": number, "access_code": f"WRONG{n}"})
        assert wrong.status_code == 404
    locked = await api.client.post("/api/track", json={"tracking_no": number, "access_code": code})
    assert locked.status_code == 429 and locked.json()["detail"].startswith("access_code:")
    await web_login(api.client, None)
    page = await post_form(
        api.client, "/web/track", "/web/track", {"tracking_no": number, "access_code": code}
    )
    assert page.status_code == 429


@pytest.mark.settings(failed_attempts_per_address=3)
async def test_failed_registrations_are_limited_per_address(api: Api) -> None:
    body = {"display_name": "Carol", "phone": "13700000001", "password": "carol-long-pass-1"}
    for _ in range(3):  # the name is taken: each refusal counts
        taken = await api.client.post("/api/residents", json={**body, "username": "alice"})
        assert taken.status_code == 409
    refused = await api.client.post("/api/residents", json={**body, "username": "carol"})
    assert refused.status_code == 429 and refused.json()["detail"].startswith("username:")


@pytest.mark.settings(password_hash_concurrency=1)
async def test_hashing_beyond_its_slots_is_refused_at_once_with_retry_after(api: Api) -> None:
    slow_verify(api, 0.4)
    started = time.monotonic()
    first, second = await asyncio.gather(login(api, "w1", PASSWORD), login(api, "w2", PASSWORD))
    answers = sorted([first, second], key=lambda a: a.status_code)
    assert [a.status_code for a in answers] == [200, 429]
    assert answers[1].headers["retry-after"] == "1"
    assert answers[1].json()["detail"].startswith("password:")
    assert time.monotonic() - started < 5
    assert (await login(api, "w2", PASSWORD)).status_code == 200  # the busy answer was not a failure


@pytest.mark.parametrize("password", ["qwertyuiop", "Password123", "short-1"])
async def test_common_or_short_passwords_are_refused_for_every_account(api: Api, password: str) -> None:
    registered = await api.client.post(
        "/api/residents",
        json={"username": "carol", "display_name": "Carol", "phone": "13700000001", "password": password},
    )
    assert registered.status_code == 400, registered.text
    assert registered.json()["detail"].startswith("password")
    created = await api.as_user(
        "admin",
        "POST",
        "/api/users",
        json={
            "username": "w9",
            "password": password,
            "role": "worker",
            "display_name": "W9",
            "jurisdiction_code": "C1",
        },
    )
    assert created.status_code == 400 and created.json()["detail"].startswith("password")


def test_the_password_policy_names_the_field_it_checks() -> None:
    with pytest.raises(InvalidInput) as refused:
        check_password_policy("iloveyou1", field="new_password")
    assert refused.value.detail.startswith("new_password:")
    check_password_policy("a-long-and-rare-passphrase")


# ---- 8. the disk floor -----------------------------------------------------------------------------


async def test_writes_are_refused_with_507_when_the_disk_is_nearly_full(api: Api, settings: Settings) -> None:
    app = api.client.app  # type: ignore[attr-defined]
    app.state.settings = dataclasses.replace(settings, min_free_disk_mb=10**12)  # more than any disk has
    body = {
        "kind": "complaint",
        "category": "neighbour_noise",
        "title": "t",
        "description": "d",
        "address": "a",
        "jurisdiction_code": "C1",
    }
    refused = await api.as_user("alice", "POST", "/api/cases", json=body)
    assert refused.status_code == 507 and refused.json()["detail"].startswith("storage:")
    assert "nothing was saved" in refused.json()["detail"]
    assert (await api.as_user("admin", "GET", "/api/cases")).json()["items"] == []  # reads go on
    assert (await login(api, "w1", PASSWORD)).status_code == 200  # and so do logins


# ---- 12. the public Open311 listing ----------------------------------------------------------------


async def test_the_public_listing_shows_the_community_never_the_home_address(api: Api) -> None:
    home = "Flat 7788, Building 3, Jixiang Lane"
    await api.file(address=home, category="sanitation", jurisdiction_code="G1")
    listing = await api.client.get("/open311/v2/requests.json")
    assert listing.status_code == 200, listing.text
    [item] = listing.json()
    assert item["address"] == "Community One"  # the grid's community, nothing finer
    assert "Jixiang" not in listing.text and "7788" not in listing.text
    xml = await api.client.get(f"/open311/v2/requests/{item['service_request_id']}.xml")
    assert "Jixiang" not in xml.text and "Community One" in xml.text


@pytest.mark.settings(open311_reads_per_minute=3)
async def test_the_public_listing_is_rate_limited_per_address(api: Api) -> None:
    for _ in range(3):
        assert (await api.client.get("/open311/v2/requests.json")).status_code == 200
    refused = await api.client.get("/open311/v2/requests.json")
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) == 55
    assert (await api.client.get("/open311/v2/requests/NOPE.json")).status_code == 429


# ---- 14. hardening ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/cases/1/actions/health", "/api/cases/1/actions/metrics"])
async def test_a_path_that_merely_contains_a_public_one_still_needs_a_token(api: Api, path: str) -> None:
    case = await api.file("alice")
    response = await api.client.post(path.replace("/1/", f"/{case['id']}/"), json={"version": 1})
    assert response.status_code == 401, response.text
    assert (await api.client.get("/health")).status_code == 200
    assert (await api.client.get("/schema/openapi.json")).status_code == 200


@pytest.mark.settings(metrics_token="metrics-token-0123456789")
async def test_metrics_need_the_bearer_token_when_one_is_set(api: Api) -> None:
    assert (await api.client.get("/metrics")).status_code == 401
    wrong = await api.client.get("/metrics", headers={"Authorization": "Bearer metrics-token-0123456780"})
    assert wrong.status_code == 401
    user_token = await api.login("admin", "admin-pass-123")  # a user's token is not the metrics token
    assert (await api.client.get("/metrics", headers=user_token)).status_code == 401
    right = await api.client.get("/metrics", headers={"Authorization": "Bearer metrics-token-0123456789"})
    assert right.status_code == 200 and "jiesu_cases" in right.text


async def test_metrics_stay_open_without_a_token(api: Api) -> None:
    assert (await api.client.get("/metrics")).status_code == 200


async def test_answers_with_personal_data_are_never_stored_by_a_cache(api: Api) -> None:
    from tests.web.test_pages import web_login

    filed = await api.file(username=None)
    answers = [
        await api.as_user("alice", "GET", "/api/cases"),
        await api.as_user("admin", "GET", f"/api/cases/{filed['id']}"),
        await api.client.post(
            "/api/track", json={"tracking_no": filed["tracking_no"], "access_code": filed["access_code"]}
        ),
        await api.as_user("alice", "GET", "/api/me/export"),
    ]
    await web_login(api.client, "alice")
    answers.append(await api.client.get("/web/my"))
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store", answer.request.url
    static = await api.client.get("/web/static/style.css")
    assert "no-store" not in static.headers.get("cache-control", "")


async def test_postgres_tools_get_the_password_in_the_environment_not_in_argv(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[tuple[list[str], dict[str, str]]] = []

    def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.append((argv, kwargs["env"]))
        Path(next(a for a in argv if a.startswith("--file=")).split("=", 1)[1]).write_bytes(b"PGDMP")
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(backup.subprocess, "run", run)
    monkeypatch.setattr(backup, "_tool", lambda name: f"/usr/bin/{name}")
    backup.backup("postgresql://jiesu:s%40cret-pw@db.example:5433/jiesu", tmp_path / "b.dump")
    [(argv, env)] = seen
    assert not any("cret-pw" in a for a in argv), argv
    assert "--dbname=postgresql://jiesu@db.example:5433/jiesu" in argv
    assert env["PGPASSWORD"] == "s@cret-pw"


async def test_a_restore_is_refused_while_a_server_holds_the_database(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    await api.file("alice")
    backup_file = tmp_path / "backups" / "jiesu.backup"
    made = await jiesu(settings.database_url, tmp_path, "backup", str(backup_file))
    assert made.code == 0, made.err
    refused = await jiesu(settings.database_url, tmp_path, "restore", "--force", str(backup_file))
    assert refused.code == 1 and "a jiesu server is using this database" in refused.err, refused.err
    assert len((await api.as_user("admin", "GET", "/api/cases")).json()["items"]) == 1
    if not is_postgres_url(settings.database_url):
        elsewhere = f"sqlite:///{tmp_path / 'other' / 'jiesu.db'}"  # a database no server holds
        restored = await jiesu(elsewhere, tmp_path, "restore", str(backup_file))
        assert restored.code == 0, restored.err
