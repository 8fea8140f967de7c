"""`jiesu backup` while cases are being filed, `jiesu restore` into an empty database, then verify."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from jiesu.config import Settings
from jiesu.db import is_postgres_url
from tests.conftest import Api, database_beside, reset_postgres


@dataclass
class Run:
    code: int
    out: str
    err: str


async def jiesu(database_url: str, tmp_path: Path, *args: str) -> Run:
    env = {
        **os.environ,
        "JIESU_DATABASE_URL": database_url,
        "JIESU_SECRET_KEY": "test-secret-key-test-secret-key-0123456789",
        "JIESU_VAR_DIR": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "jiesu.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    return Run(process.returncode or 0, out.decode(), err.decode())


async def test_backup_while_writing_restores_into_an_empty_database_that_verifies(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    await api.file()
    filed = 0
    stop = asyncio.Event()

    async def keep_filing() -> None:
        nonlocal filed
        while not stop.is_set():
            case = await api.file("alice")
            await api.act("disp", case["id"], "dispatch", assignee="w1")
            filed += 1

    writer = asyncio.create_task(keep_filing())
    await asyncio.sleep(0.3)
    filed_at_start = filed
    backup_file = tmp_path / "backups" / "jiesu.backup"
    made = await jiesu(settings.database_url, tmp_path, "backup", str(backup_file))
    filed_at_end = filed
    stop.set()
    await writer
    assert made.code == 0, made.err
    assert backup_file.is_file() and not backup_file.with_name("jiesu.backup.partial").exists()
    assert backup_file.stat().st_mode & 0o077 == 0  # personal data: readable by the owner only
    assert filed_at_end > filed_at_start  # the server kept writing while the backup ran

    if is_postgres_url(settings.database_url):
        # Another, empty database: the server still holds this one, and a restore into it is refused.
        target = await database_beside(settings.database_url, "restored")
        await reset_postgres(target)
    else:
        target = f"sqlite:///{tmp_path / 'restored' / 'jiesu.db'}"
    restored = await jiesu(target, tmp_path, "restore", str(backup_file))
    assert restored.code == 0, restored.err
    verified = await jiesu(target, tmp_path, "audit", "verify")
    assert verified.code == 0, verified.out + verified.err
    events = int(verified.out.split()[1])
    # 2 events for the first case, 3 per case filed and dispatched by the writer: a whole snapshot
    assert 2 + 3 * filed_at_start <= events <= 2 + 3 * (filed_at_end + 1)

    again = await jiesu(target, tmp_path, "restore", str(backup_file))
    assert again.code == 1 and "not empty" in again.err
    wrong = await jiesu(target, tmp_path, "restore", str(tmp_path / "nothing-here"))
    assert wrong.code == 1 and "no such backup file" in wrong.err
