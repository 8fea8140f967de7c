"""The keyed chain (issue 16, point 4): whoever can write the database but holds no audit key can neither
append an event nor rewrite one and recompute the hashes after it unnoticed; the key lives outside the
database, rotations are events of the chain, and signed checkpoints in a file outside the database catch a
history cut short or replaced. The CLI and the HTTP endpoint name the same findings."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from jiesu.app import create_app
from jiesu.audit import keys as audit_keys
from jiesu.audit.chain import event_hash, record_key_in_force, write_checkpoint
from jiesu.config import Settings
from tests import rawdb
from tests.api.test_audit_tamper import history, run_cli, truncate_tail, verify
from tests.conftest import ADMIN_PASSWORD, Api, test_settings

EVENT_COLUMNS = (
    "seq, case_id, actor, actor_role, action, from_state, to_state, fields, created_at, prev_hash, hash,"
    " key_id, changes"
)


async def events(url: str) -> list[dict[str, Any]]:
    names = [n.strip() for n in EVENT_COLUMNS.split(",")]
    rows = await rawdb.execute(url, f"SELECT {EVENT_COLUMNS} FROM jiesu_case_event ORDER BY seq")
    return [dict(zip(names, row, strict=True)) for row in rows]


def sql_text(value: Any) -> str:
    return "NULL" if value is None else "'" + str(value).replace("'", "''") + "'"


def insert_sql(event: dict[str, Any]) -> str:
    values = ", ".join(sql_text(event[n.strip()]) for n in EVENT_COLUMNS.split(","))
    return f"INSERT INTO jiesu_case_event ({EVENT_COLUMNS}) VALUES ({values})"


def unkeyed_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """The hash a writer without the key can compute: plain SHA-256, as the chain was before."""
    return event_hash(prev_hash, {**event, "key_id": None})


async def test_a_staff_event_appended_without_the_key_is_named(api: Api, settings: Settings) -> None:
    await history(api, cases=1)
    url = settings.database_url
    chain = await events(url)
    last = chain[-1]
    for key_id, found in ((last["key_id"], "does not match its HMAC"), (None, "carries no key id")):
        forged = {
            **last,
            "seq": last["seq"] + 1,
            "actor": "w1",
            "actor_role": "worker",
            "action": "contact",
            "fields": '{"note":"phoned"}',
            "prev_hash": last["hash"],
            "key_id": key_id,
        }
        forged["hash"] = unkeyed_hash(last["hash"], forged)
        # the triggers allow the INSERT, and the head may move forward
        await rawdb.execute(
            url,
            insert_sql(forged),
            f"UPDATE jiesu_audit_head SET seq = {forged['seq']}, hash = '{forged['hash']}'",
        )
        report = await verify(api)
        assert (report["ok"], report["first_broken_seq"]) == (False, forged["seq"]), report
        assert found in report["reason"]
        code, output = await run_cli(settings, "audit", "verify")
        assert code == 1 and output.startswith(f"BROKEN at event {forged['seq']}: {report['reason']}")
        await rawdb.execute(
            url,
            f"DELETE FROM jiesu_case_event WHERE seq = {forged['seq']}",
            f"UPDATE jiesu_audit_head SET seq = {last['seq']}, hash = '{last['hash']}'",
            bypass_triggers=True,
        )


async def test_a_rewrite_after_the_last_checkpoint_with_recomputed_hashes_is_named(
    api: Api, settings: Settings
) -> None:
    checkpointed = await history(api, cases=1)
    await write_checkpoint(audit_keys.checkpoint_file_of(settings))
    await history(api, cases=1)
    url = settings.database_url
    chain = await events(url)
    rewritten, statements = [], []
    prev = chain[checkpointed - 1]["hash"]
    for event in chain[checkpointed:]:
        if event["seq"] == checkpointed + 3:
            event = {**event, "actor": "w2"}
        event = {**event, "prev_hash": prev}
        event["hash"] = prev = unkeyed_hash(prev, event)
        rewritten.append(event)
        statements.append(
            f"UPDATE jiesu_case_event SET actor = {sql_text(event['actor'])},"
            f" prev_hash = '{event['prev_hash']}', hash = '{event['hash']}' WHERE seq = {event['seq']}"
        )
    statements.append(f"UPDATE jiesu_audit_head SET hash = '{prev}'")
    await rawdb.execute(url, *statements, bypass_triggers=True)
    report = await verify(api)
    assert (report["ok"], report["first_broken_seq"]) == (False, checkpointed + 1), report
    assert "HMAC" in report["reason"] and report["checkpoint"].startswith(f"{checkpointed}:")


async def test_the_key_file_is_made_once_outside_the_database_readable_by_its_owner(
    api: Api, settings: Settings
) -> None:
    await history(api, cases=1)
    path = audit_keys.key_file_of(settings)
    assert path.parent == Path(settings.var_dir) and path.name == "audit.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text().strip()
    assert len(key) == 64
    [(kid,)] = await rawdb.execute(settings.database_url, "SELECT key_id FROM jiesu_audit_head")
    assert kid == audit_keys.key_id(key.encode())
    dump = await rawdb.execute(settings.database_url, "SELECT fields, changes FROM jiesu_case_event")
    assert key not in json.dumps(dump)
    # JIESU_AUDIT_KEY replaces the file
    ring = audit_keys.Keyring.load("k" * 40, Path(settings.var_dir) / "absent.key")
    assert ring.source == "JIESU_AUDIT_KEY" and not (Path(settings.var_dir) / "absent.key").exists()


async def test_a_key_rotation_is_an_event_and_each_event_verifies_with_the_key_in_force(
    api: Api, settings: Settings
) -> None:
    before = await history(api, cases=1)
    old = audit_keys.keyring().current
    code, output = await run_cli(settings, "audit", "rotate-key")
    assert code == 0, output
    new = output.split()[2]
    assert new != old
    # the running server reads the key file again when the chain names a key it does not hold
    await history(api, cases=1)
    chain = await events(settings.database_url)
    rotation = chain[before]
    assert (rotation["action"], rotation["key_id"]) == ("audit_key", old)
    assert json.loads(rotation["fields"]) == {"key_id": new, "previous_key_id": old}
    assert {e["key_id"] for e in chain[: before + 1]} == {old}
    assert {e["key_id"] for e in chain[before + 1 :]} == {new}
    report = await verify(api)
    assert report["ok"] is True and report["key_id"] == new, report
    code, output = await run_cli(settings, "audit", "verify")
    assert code == 0 and f"key in force {new}" in output

    # without the old key, its events cannot be checked: verify says which key is missing
    path = audit_keys.key_file_of(settings)
    path.write_text(path.read_text().splitlines()[-1] + "\n")
    audit_keys.install(audit_keys.Keyring.load("", path))
    report = await verify(api)
    assert (report["ok"], report["first_broken_seq"]) == (False, 1)
    assert f"key {old}, which is not configured" in report["reason"]


async def test_an_unkeyed_history_is_sealed_by_the_first_keyed_event(api: Api, settings: Settings) -> None:
    """A chain written before the upgrade (key_id NULL, SHA-256) stays valid; the first start keys it
    with an event whose HMAC covers its last event, so rewriting it afterwards shows."""
    legacy = await history(api, cases=1)
    url = settings.database_url
    statements, prev = [], "0" * 64
    for event in await events(url):
        event = {**event, "key_id": None, "prev_hash": prev}
        event["hash"] = prev = unkeyed_hash(prev, event)
        statements.append(
            f"UPDATE jiesu_case_event SET key_id = NULL, prev_hash = '{event['prev_hash']}',"
            f" hash = '{event['hash']}' WHERE seq = {event['seq']}"
        )
    statements.append(f"UPDATE jiesu_audit_head SET hash = '{prev}', key_id = NULL")
    await rawdb.execute(url, *statements, bypass_triggers=True)
    head = await record_key_in_force()  # what every start does
    assert head.seq == legacy + 1
    report = await verify(api)
    assert report["ok"] is True and report["legacy_events"] == legacy, report
    sealing = (await events(url))[legacy]
    assert sealing["action"] == "audit_key" and json.loads(sealing["fields"])["previous_key_id"] is None

    # rewrite a legacy event and every legacy hash after it: the sealing event no longer fits
    chain = await events(url)
    statements, prev = [], chain[1]["prev_hash"]
    for event in chain[1:legacy]:
        event = {**event, "actor": "mallory" if event["seq"] == 2 else event["actor"], "prev_hash": prev}
        event["hash"] = prev = unkeyed_hash(prev, event)
        statements.append(
            f"UPDATE jiesu_case_event SET actor = '{event['actor']}', prev_hash = '{event['prev_hash']}',"
            f" hash = '{event['hash']}' WHERE seq = {event['seq']}"
        )
    await rawdb.execute(url, *statements, bypass_triggers=True)
    report = await verify(api)
    assert (report["ok"], report["first_broken_seq"]) == (False, legacy + 1), report


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def wait_for_lines(path: Path, count: int) -> list[dict[str, Any]]:
    for _ in range(100):
        lines = lines_of(path)
        if len(lines) >= count:
            return [json.loads(line) for line in lines]
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} has fewer than {count} checkpoints")


ANONYMOUS_FILING = {
    "kind": "suggestion",
    "title": "More benches",
    "description": "In the park, please.",
    "address": "Building 3, Jixiang Lane",
    "contact": {"name": "Alice Liu", "phone": "13812345678"},
}


async def test_a_new_last_key_in_the_environment_is_recorded_as_a_rotation_at_start(
    database_url: str, tmp_path: Path
) -> None:
    old, new = "o" * 40, "n" * 40
    for configured in (old, f"{old},{new}"):
        app = create_app(test_settings(database_url, tmp_path, audit_key=configured))
        async with (
            LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
        ):
            filed = await http.post("/api/cases", json=ANONYMOUS_FILING)
            assert filed.status_code == 201, filed.text
            served = Api(http)
            await served.login("admin", ADMIN_PASSWORD)
            report = (await served.as_user("admin", "GET", "/api/audit/verify")).json()
    assert report["ok"] is True and report["key_id"] == audit_keys.key_id(new.encode()), report
    chain = await events(database_url)
    [rotation] = [e for e in chain if e["action"] == "audit_key"]
    assert json.loads(rotation["fields"]) == {
        "key_id": audit_keys.key_id(new.encode()),
        "previous_key_id": audit_keys.key_id(old.encode()),
    }
    assert rotation["key_id"] == audit_keys.key_id(old.encode())
    assert chain[-1]["key_id"] == audit_keys.key_id(new.encode())
    assert not (tmp_path / "audit.key").exists()  # the environment's key, no file


async def test_checkpoints_are_written_every_n_events_and_at_shutdown(
    database_url: str, tmp_path: Path
) -> None:
    settings = test_settings(database_url, tmp_path, audit_checkpoint_every=4)
    app = create_app(settings)
    path = audit_keys.checkpoint_file_of(settings)
    body = {
        "kind": "suggestion",
        "title": "More benches",
        "description": "In the park, please.",
        "address": "Building 3, Jixiang Lane",
        "contact": {"name": "Alice Liu", "phone": "13812345678"},
    }
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        for _ in range(4):
            filed = await http.post("/api/cases", json=body)
            assert filed.status_code == 201, filed.text
        [first] = await wait_for_lines(path, 1)
        assert first["seq"] >= 4 and first["key_id"] == audit_keys.keyring().current
        assert (await http.post("/api/cases", json=body)).status_code == 201
    lines = await wait_for_lines(path, 2)
    assert lines[-1]["seq"] == 5 and set(lines[-1]) == {"seq", "hash", "key_id", "at", "mac"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_verify_uses_the_latest_signed_checkpoint_by_default_on_the_cli_and_over_http(
    api: Api, settings: Settings
) -> None:
    events_now = await history(api)
    path = audit_keys.checkpoint_file_of(settings)
    await write_checkpoint(path)
    assert (await verify(api))["checkpoint"].startswith(f"{events_now}:")
    await truncate_tail(settings.database_url, keep=events_now - 2)
    report = await verify(api)
    assert (report["ok"], report["first_broken_seq"]) == (False, events_now - 1)
    assert "truncated" in report["reason"] and str(path) in report["checkpoint"]
    code, output = await run_cli(settings, "audit", "verify")
    assert code == 1 and output.startswith(f"BROKEN at event {events_now - 1}: {report['reason']}\n")
    assert f"checkpoint {report['checkpoint']}" in output

    # a checkpoint line written without the key is named as such
    line = json.loads(path.read_text().splitlines()[-1])
    with path.open("a") as handle:
        handle.write(json.dumps({**line, "seq": events_now - 2, "mac": "0" * 64}) + "\n")
    report = await verify(api)
    assert report["ok"] is False and "signature that does not match (forged)" in report["reason"]
    code, output = await run_cli(settings, "audit", "verify")
    assert code == 1 and report["reason"] in output
