"""The hash chain: every change one event, and an edited event is found."""

from __future__ import annotations

import asyncio
import sys

from jiesu.audit.tables import CaseEvent
from jiesu.config import Settings
from tests.conftest import Api
from tests.rawdb import append_only_bypassed


async def test_every_change_writes_exactly_one_chained_event(api: Api) -> None:
    case = await api.file()
    await api.act("disp", case["id"], "dispatch", assignee="w1")
    await api.act("w1", case["id"], "contact", note="Phoned the filer")
    events = (await api.as_user("disp", "GET", f"/api/cases/{case['id']}/events")).json()
    assert [e["action"] for e in events] == ["file", "accept", "dispatch", "contact"]
    assert [e["seq"] for e in events] == list(range(1, 5))
    assert events[2]["actor"] == "disp" and events[2]["fields"] == {"assignee": "w1"}
    assert events[3]["fields"]["first_contact"] is True
    report = (await api.as_user("sup", "GET", "/api/audit/verify")).json()
    assert report["ok"] is True
    assert report["checked"] == report["head_seq"] == 4


async def test_verification_names_the_first_edited_event(api: Api) -> None:
    for _ in range(3):
        await api.file()
    async with append_only_bypassed():
        await CaseEvent.update({CaseEvent.fields: '{"kind":"suggestion"}'}).where(CaseEvent.seq == 3)
    report = (await api.as_user("admin", "GET", "/api/audit/verify")).json()
    assert report["ok"] is False
    assert report["first_broken_seq"] == 3
    assert "edited" in report["reason"]


async def test_verification_finds_a_deleted_event_and_a_truncated_tail(api: Api) -> None:
    for _ in range(3):
        await api.file()
    async with append_only_bypassed():
        await CaseEvent.delete().where(CaseEvent.seq == 2)
    report = (await api.as_user("admin", "GET", "/api/audit/verify")).json()
    assert report["ok"] is False and report["first_broken_seq"] == 2

    async with append_only_bypassed():
        await CaseEvent.delete().where(CaseEvent.seq >= 2)
    report = (await api.as_user("admin", "GET", "/api/audit/verify")).json()
    assert report["ok"] is False
    assert "truncated" in report["reason"]


async def _cli(settings: Settings, *args: str) -> tuple[int, str]:
    env = {"JIESU_DATABASE_URL": settings.database_url, "JIESU_VAR_DIR": str(settings.var_dir), "PATH": ""}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jiesu.cli", *args, env=env, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await process.communicate()
    return process.returncode or 0, stdout.decode()


async def test_the_cli_verifies_the_same_database(api: Api, settings: Settings) -> None:
    await api.file()
    code, output = await _cli(settings, "audit", "verify")
    assert code == 0
    assert output.startswith("ok: 2 events")
    async with append_only_bypassed():
        await CaseEvent.update({CaseEvent.actor: "mallory"}).where(CaseEvent.seq == 1)
    code, output = await _cli(settings, "audit", "verify")
    assert code == 1
    assert "BROKEN at event 1" in output
