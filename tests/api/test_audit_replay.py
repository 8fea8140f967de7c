"""The rates follow the chain (issue 16, point 5): a case row or a row of the reports' copy edited in the
database does not move the rates (the copy is built from the events), and verify replays the events and
names the case and the field that differ; on PostgreSQL the application role cannot undo the audit
tables' protection."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from jiesu import db
from jiesu.app import create_app
from jiesu.config import Settings
from tests import rawdb
from tests.api.test_audit_tamper import run_cli, verify
from tests.conftest import ADMIN_PASSWORD, Api, test_settings


async def c1_rates(api: Api) -> dict[str, Any]:
    response = await api.as_user("admin", "GET", "/api/reports/rates", params={"group_by": "jurisdiction"})
    assert response.status_code == 200, response.text
    [c1] = [group for group in response.json()["groups"] if group["group"] == "C1"]
    return c1


async def dispatched_case(api: Api) -> int:
    case = await api.file()
    assert (await api.act("disp", case["id"], "dispatch", assignee="w1")).status_code == 200
    return int(case["id"])


async def test_setting_responded_at_in_the_database_moves_no_rate_and_verify_names_the_case(
    api: Api, settings: Settings
) -> None:
    case_id = await dispatched_case(api)
    await rawdb.execute(
        settings.database_url, f"UPDATE jiesu_case SET responded_at = received_at WHERE id = {case_id}"
    )
    c1 = await c1_rates(api)  # the first report builds the copy: from the events, not the case rows
    assert (c1["received"], c1["response_rate"], c1["contact_hours_p50"]) == (1, None, None)
    report = await verify(api)
    assert report["ok"] is False
    assert report["reason"].startswith(f"case {case_id}: responded_at is ")
    assert report["reason"].endswith("in jiesu_case but the events say NULL")
    code, output = await run_cli(settings, "audit", "verify")
    assert code == 1 and report["reason"] in output


async def test_an_edited_row_of_the_reports_copy_is_named(api: Api, settings: Settings) -> None:
    case_id = await dispatched_case(api)
    assert (await c1_rates(api))["response_rate"] is None
    assert (await verify(api))["ok"] is True
    await rawdb.execute(
        settings.database_url,
        "UPDATE jiesu_report_case SET responded_at = received_at, contact_centihours = 0"
        f" WHERE id = {case_id}",
    )
    report = await verify(api)
    assert report["ok"] is False
    assert report["reason"].startswith(f"case {case_id}: responded_at is ")
    assert "in the reports' copy (jiesu_report_case) but the events say NULL" in report["reason"]


async def test_a_case_row_written_outside_the_chain_is_named(api: Api, settings: Settings) -> None:
    case_id = await dispatched_case(api)
    await rawdb.execute(
        settings.database_url,
        f"UPDATE jiesu_case SET assignee = 'w2', reopen_count = 3 WHERE id = {case_id}",
    )
    report = await verify(api)
    assert report["ok"] is False and report["reason"].startswith(f"case {case_id}: assignee is 'w2'")


async def test_events_that_set_no_report_column_keep_the_case_replayable(
    api: Api, settings: Settings
) -> None:
    """An exclusion (an event written by another domain) records that it set nothing, so the case's
    history stays complete and an edit after it is still named."""
    case_id = await dispatched_case(api)
    excluded = await api.as_user(
        "sup", "POST", "/api/reports/exclusions", json={"case_id": case_id, "reason": "demands a new road"}
    )
    assert excluded.status_code == 201, excluded.text
    assert (await verify(api))["ok"] is True
    await rawdb.execute(
        settings.database_url, f"UPDATE jiesu_case SET closed_at = received_at WHERE id = {case_id}"
    )
    report = await verify(api)
    assert report["ok"] is False and report["reason"].startswith(f"case {case_id}: closed_at is ")


def as_role(url: str, role: str) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(netloc=f"{role}:{role}@{parsed.hostname}:{parsed.port or 5432}"))


ROLE = "jiesu_app_test"


@pytest.mark.postgres
async def test_the_application_role_cannot_undo_the_audit_tables_protection(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    if not db.is_postgres_url(settings.database_url):
        pytest.skip("roles are PostgreSQL's")
    await dispatched_case(api)
    await rawdb.execute(
        settings.database_url,
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN"
        f" CREATE ROLE {ROLE}; END IF; END $$",
        f"ALTER ROLE {ROLE} LOGIN PASSWORD '{ROLE}'",
    )
    code, output = await run_cli(settings, "db", "app-role", ROLE)
    assert code == 0, output
    assert (await run_cli(settings, "db", "app-role", "postgres"))[0] == 1  # a superuser is refused
    app_url = as_role(settings.database_url, ROLE)
    connection = await asyncpg.connect(app_url)
    try:
        for statement in (
            "DROP TRIGGER jiesu_case_event_append_only ON jiesu_case_event",
            "ALTER TABLE jiesu_case_event DISABLE TRIGGER ALL",
            "ALTER TABLE jiesu_audit_head DROP COLUMN key_id",
            "DROP TABLE jiesu_case_event",
            "DROP TABLE jiesu_audit_head",
            "DROP TABLE jiesu_event_text",
            "TRUNCATE jiesu_case_event",
            "DELETE FROM jiesu_case_event",
            "UPDATE jiesu_case_event SET actor = 'mallory'",
            "DELETE FROM jiesu_audit_head",
            "DELETE FROM jiesu_event_text",
            "SET session_replication_role = replica",
            "DROP FUNCTION jiesu_refuse_event_change() CASCADE",
            "CREATE TABLE jiesu_mine (id INTEGER)",
        ):
            with pytest.raises(asyncpg.PostgresError, match=r"denied|must be owner|must be superuser"):
                await connection.execute(statement)
    finally:
        await connection.close()

    # the servers work as that role: filing, acting, reports and verification
    app = create_app(test_settings(app_url, Path(settings.var_dir), migrate_on_start=False))
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        served = Api(http)
        await served.login("admin", ADMIN_PASSWORD)
        case_id = await dispatched_case(served)
        assert (await served.act("w1", case_id, "contact", note="phoned")).status_code == 200
        assert (await c1_rates(served))["received"] == 2
        assert (await verify(served))["ok"] is True
