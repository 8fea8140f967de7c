"""Login lockout, the rate limit on anonymous intake, and no personal data in any log line."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from jiesu.accounts.lockout import MAX_FAILURES, WINDOW
from jiesu.app import create_app
from jiesu.config import Settings
from tests.conftest import PASSWORD, Api

ANONYMOUS_PER_MINUTE = 3


class MovableClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 9, 0, 10, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def client(settings: Settings, clock: MovableClock) -> AsyncIterator[AsyncTestClient]:
    """The conftest client, with a movable clock and a small anonymous intake limit."""
    limited = dataclasses.replace(settings, anonymous_intake_per_minute=ANONYMOUS_PER_MINUTE)
    async with AsyncTestClient(create_app(limited, clock=clock)) as test_client:
        yield test_client


async def _login(api: Api, username: str, password: str) -> object:
    return await api.client.post("/api/auth/token", json={"username": username, "password": password})


async def test_five_failed_logins_lock_the_account_and_each_is_logged_without_the_password(
    api: Api, clock: MovableClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    wrong = "not-the-password-9f3k"
    for _ in range(MAX_FAILURES):
        assert (await _login(api, "w1", wrong)).status_code == 401
    locked = await _login(api, "w1", PASSWORD)  # even the right password now waits
    assert locked.status_code == 429, locked.text
    assert "username" in locked.json()["detail"]
    assert 0 < int(locked.headers["retry-after"]) <= WINDOW.total_seconds()
    assert (await _login(api, "w2", PASSWORD)).status_code == 200  # other accounts are not affected

    failures = [r for r in caplog.records if r.name == "jiesu.accounts.login"]
    assert len(failures) == MAX_FAILURES + 1
    assert all("'w1'" in r.getMessage() for r in failures)
    assert not [r for r in caplog.records if wrong in r.getMessage() or PASSWORD in r.getMessage()]

    clock.now += WINDOW + timedelta(seconds=1)
    assert (await _login(api, "w1", PASSWORD)).status_code == 200


async def test_unknown_usernames_lock_like_real_ones(api: Api) -> None:
    for _ in range(MAX_FAILURES):
        assert (await _login(api, "nobody-here", "whatever-123")).status_code == 401
    assert (await _login(api, "nobody-here", "whatever-123")).status_code == 429


async def test_a_successful_login_forgets_earlier_failures(api: Api) -> None:
    for _ in range(MAX_FAILURES - 1):
        await _login(api, "w1", "wrong-password-1")
    assert (await _login(api, "w1", PASSWORD)).status_code == 200
    for _ in range(MAX_FAILURES - 1):
        await _login(api, "w1", "wrong-password-1")
    assert (await _login(api, "w1", PASSWORD)).status_code == 200


async def test_anonymous_intake_is_rate_limited_per_address_and_window(api: Api, clock: MovableClock) -> None:
    for _ in range(ANONYMOUS_PER_MINUTE):
        await api.file(username=None)
    refused = await api.as_user(None, "POST", "/api/cases", json=_case_body())
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["retry-after"]) == 50  # the window ends at 09:01:00
    assert (await api.file("alice"))["state"]  # signed-in residents are not limited
    assert (await api.as_user("admin", "GET", "/api/cases?limit=100")).json()["items"].__len__() == 4
    clock.now += timedelta(minutes=1)
    await api.file(username=None)


def _case_body() -> dict[str, object]:
    return {
        "kind": "complaint",
        "category": "neighbour_noise",
        "title": "t",
        "description": "d",
        "address": "a",
        "jurisdiction_code": "C1",
        "contact": {"name": "Anon Filer", "phone": "13700000000"},
    }


# ---- no personal data in any log line --------------------------------------------------------

NAMES = ("Zhang Weiguo", "欧阳娜娜")
PHONES = ("13987654321", "+86 139-1234-5678")


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "httpx" and "//testserver" in record.getMessage():
            return  # the test client's own request log, not the server's
        self.lines.append(logging.Formatter("%(name)s %(levelname)s %(message)s").format(record))
        self.lines.append(repr(record.__dict__))  # args, extras and exception text too


@pytest.fixture
def every_log_line() -> Iterator[list[str]]:
    """A handler on the root logger and on every logger that does not propagate to it."""
    handler = _Everything()
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger) and not logger.propagate
    ]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    yield handler.lines
    for logger, level in zip(loggers, levels, strict=True):
        logger.removeHandler(handler)
        logger.setLevel(level)


async def test_no_name_or_phone_appears_in_any_log_line(api: Api, every_log_line: list[str]) -> None:
    contact = {"name": NAMES[0], "phone": PHONES[0]}
    anonymous = await api.file(username=None, contact=contact)
    hotline = await api.file("disp", contact={"name": NAMES[1], "phone": PHONES[1]})
    resident = await api.file("alice", contact=contact)
    for case in (anonymous, hotline, resident):
        await api.act("disp", case["id"], "dispatch", assignee="w1")
        await api.act("w1", case["id"], "contact", note="Called the filer back")
    # Refusals that carry the personal data in the request: they must not echo it into a log.
    bad_phone = {"name": NAMES[0], "phone": PHONES[0] + "x"}
    refused = await api.as_user(None, "POST", "/api/cases", json={**_case_body(), "contact": bad_phone})
    assert refused.status_code == 400
    await api.client.post("/api/auth/token", json={"username": "w1", "password": PHONES[0]})
    await api.client.post("/api/track", json={"tracking_no": NAMES[0], "access_code": PHONES[0]})
    await api.as_user("admin", "GET", f"/api/cases?assignee={PHONES[0]}")
    assert every_log_line, "nothing was logged: the capture is not working"
    text = "\n".join(every_log_line)
    for secret in (*NAMES, *PHONES, "13987654321", "欧阳"):
        assert secret not in text, secret
