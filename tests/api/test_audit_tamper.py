"""The audit trail is tamper-evident: the database refuses changes to events, and verification names
the first broken link of an edited, deleted, reordered or truncated history."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import pytest

from jiesu import db
from jiesu.config import Settings
from tests import rawdb
from tests.conftest import Api


async def history(api: Api, cases: int = 2) -> int:
    """A few cases with several events each; returns the number of events."""
    for _ in range(cases):
        case = await api.file()
        assert (await api.act("disp", case["id"], "dispatch", assignee="w1")).status_code == 200
        assert (await api.act("w1", case["id"], "contact", note="phoned")).status_code == 200
    checkpoint = await verify(api, "/api/audit/checkpoint")
    return checkpoint["seq"]


async def verify(api: Api, url: str = "/api/audit/verify", **params: Any) -> dict[str, Any]:
    response = await api.as_user("sup", "GET", url, params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_database_refuses_update_delete_and_rewinding_the_head(api: Api, settings: Settings) -> None:
    await history(api, cases=1)
    url = settings.database_url
    for statement in (
        "UPDATE jiesu_case_event SET actor = 'mallory' WHERE seq = 1",
        "DELETE FROM jiesu_case_event WHERE seq = 1",
        "UPDATE jiesu_audit_head SET seq = 0",
        "DELETE FROM jiesu_audit_head",
    ):
        with pytest.raises(Exception, match=r"append-only|only moves forward|cannot be deleted"):
            await rawdb.execute(url, statement)
    if db.is_postgres_url(url):
        with pytest.raises(Exception, match="append-only"):
            await rawdb.execute(url, "TRUNCATE jiesu_case_event")
    assert (await verify(api))["ok"] is True


async def test_verify_names_an_edited_event(api: Api, settings: Settings) -> None:
    await history(api)
    await rawdb.execute(
        settings.database_url,
        "UPDATE jiesu_case_event SET actor = 'mallory' WHERE seq = 3",
        bypass_triggers=True,
    )
    report = await verify(api)
    assert (report["ok"], report["first_broken_seq"]) == (False, 3)
    assert "edited" in report["reason"]


async def test_verify_names_a_deleted_event(api: Api, settings: Settings) -> None:
    await history(api)
    await rawdb.execute(
        settings.database_url, "DELETE FROM jiesu_case_event WHERE seq = 4", bypass_triggers=True
    )
    report = await verify(api)
    assert (report["ok"], report["first_broken_seq"]) == (False, 4)
    assert "missing" in report["reason"]


async def test_verify_names_reordered_events(api: Api, settings: Settings) -> None:
    await history(api)
    await rawdb.execute(
        settings.database_url,
        "UPDATE jiesu_case_event SET seq = -1 WHERE seq = 5",
        "UPDATE jiesu_case_event SET seq = 5 WHERE seq = 6",
        "UPDATE jiesu_case_event SET seq = 6 WHERE seq = -1",
        bypass_triggers=True,
    )
    report = await verify(api)
    assert (report["ok"], report["first_broken_seq"]) == (False, 5)


async def truncate_tail(url: str, keep: int) -> None:
    """Cut the last events and rewind the head to match: the shorter chain is valid on its own."""
    [(kept_hash,)] = await rawdb.execute(url, f"SELECT hash FROM jiesu_case_event WHERE seq = {keep}")
    await rawdb.execute(
        url,
        f"DELETE FROM jiesu_case_event WHERE seq > {keep}",
        f"UPDATE jiesu_audit_head SET seq = {keep}, hash = '{kept_hash}'",
        bypass_triggers=True,
    )


async def test_checkpoint_catches_a_truncated_tail_over_http(api: Api, settings: Settings) -> None:
    events = await history(api)
    checkpoint = (await verify(api, "/api/audit/checkpoint"))["checkpoint"]
    assert (await verify(api, checkpoint=checkpoint))["ok"] is True
    await truncate_tail(settings.database_url, keep=events - 2)
    # the cut chain is consistent in itself, but the case rows no longer follow it (issue 16, point 5)
    replayed = await verify(api)
    assert replayed["ok"] is False and replayed["reason"].startswith("case 2: ")
    report = await verify(api, checkpoint=checkpoint)
    assert (report["ok"], report["first_broken_seq"]) == (False, events - 1)
    assert "truncated" in report["reason"]
    bad = await api.as_user("sup", "GET", "/api/audit/verify", params={"checkpoint": "12:nothex"})
    assert bad.status_code == 400 and "checkpoint" in bad.json()["detail"]
    assert (await api.as_user("w1", "GET", "/api/audit/checkpoint")).status_code == 403


async def test_checkpoint_catches_a_rewritten_history(api: Api, settings: Settings) -> None:
    events = await history(api)
    checkpoint = (await verify(api, "/api/audit/checkpoint"))["checkpoint"]
    forged = checkpoint.split(":")[0] + ":" + "f" * 64
    report = await verify(api, checkpoint=forged)
    assert (report["ok"], report["first_broken_seq"]) == (False, events)
    assert "rewritten" in report["reason"]


async def run_cli(settings: Settings, *argv: str) -> tuple[int, str]:
    """``jiesu …`` as an operator runs it, in its own process, against the test's database."""
    env = {"JIESU_DATABASE_URL": settings.database_url, "JIESU_VAR_DIR": str(settings.var_dir), "PATH": ""}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "jiesu.cli", *argv, env=env, stdout=asyncio.subprocess.PIPE
    )
    stdout, _ = await process.communicate()
    return process.returncode or 0, stdout.decode()


async def test_cli_checkpoint_and_verify_catch_a_truncated_tail(api: Api, settings: Settings) -> None:
    events = await history(api)
    code, output = await run_cli(settings, "audit", "checkpoint")
    checkpoint = output.strip()
    assert code == 0 and checkpoint.startswith(f"{events}:") and len(checkpoint.split(":")[1]) == 64
    code, output = await run_cli(settings, "audit", "verify", "--checkpoint", checkpoint)
    assert code == 0 and output.startswith(f"ok: {events} events")
    await truncate_tail(settings.database_url, keep=events - 3)
    code, output = await run_cli(settings, "audit", "verify")  # the case rows no longer follow the chain
    assert code == 1 and "case 2: " in output
    code, output = await run_cli(settings, "audit", "verify", "--checkpoint", checkpoint)
    assert code == 1 and output.startswith(f"BROKEN at event {events - 2}: ")
    assert (await run_cli(settings, "audit", "verify", "--checkpoint", "x"))[0] == 2
