"""Backups that can be taken while the server runs, and restores into an empty database.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot while other
connections keep writing (WAL lets the copy read while writers append). PostgreSQL: ``pg_dump`` in its
custom format (one consistent snapshot of a running database) and ``pg_restore`` in one transaction.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from jiesu.db import SQLITE_BUSY_TIMEOUT_SECONDS, is_postgres_url, sqlite_path

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
# A database counts as empty when none of these tables holds a row.
DATA_TABLES = ("jiesu_user", "jiesu_case", "jiesu_case_event")


class BackupError(RuntimeError):
    pass


def backup(database_url: str, target: Path) -> str:
    target = target.expanduser().resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    if is_postgres_url(database_url):
        return _pg_backup(database_url, target)
    return _sqlite_backup(sqlite_path(database_url), target)


def restore(database_url: str, source: Path, force: bool = False) -> str:
    source = source.expanduser().resolve()
    if not source.is_file():
        raise BackupError(f"{source}: no such backup file")
    with source.open("rb") as handle:
        head = handle.read(16)
    if is_postgres_url(database_url):
        if not head.startswith(PG_CUSTOM_MAGIC):
            raise BackupError(f"{source}: not a PostgreSQL backup made by 'jiesu backup'")
        return _pg_restore(database_url, source, force)
    if head != SQLITE_MAGIC:
        raise BackupError(f"{source}: not an SQLite backup made by 'jiesu backup'")
    return _sqlite_restore(source, sqlite_path(database_url), force)


# ---- SQLite ---------------------------------------------------------------------------------------


def _sqlite_rows(connection: sqlite3.Connection) -> int:
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return sum(
        connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in DATA_TABLES
        if table in tables
    )


def _copy(source: sqlite3.Connection, destination: sqlite3.Connection) -> None:
    with destination:
        source.backup(destination)  # all pages in one step: one consistent snapshot


def _sqlite_backup(database: Path, target: Path) -> str:
    if not database.is_file():
        raise BackupError(f"{database}: no such SQLite database")
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    source = sqlite3.connect(database, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    destination = sqlite3.connect(partial)
    try:
        _copy(source, destination)
        destination.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        check = destination.execute("PRAGMA integrity_check").fetchone()[0]
        if check != "ok":
            raise BackupError(f"the copy failed its integrity check: {check}")
        rows = _sqlite_rows(destination)
    finally:
        destination.close()
        source.close()
    os.chmod(partial, 0o600)  # a backup holds personal data
    os.replace(partial, target)
    return f"backed up {database} to {target} ({rows} rows in users, cases and events)"


def _sqlite_restore(source: Path, database: Path, force: bool) -> str:
    database.parent.mkdir(parents=True, exist_ok=True)
    destination = sqlite3.connect(database, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    backup_copy = sqlite3.connect(source)
    try:
        if _sqlite_rows(destination) and not force:
            raise BackupError(f"{database} is not empty: restore into an empty database (or --force)")
        _copy(backup_copy, destination)
        destination.execute("PRAGMA journal_mode=WAL")
        rows = _sqlite_rows(destination)
    finally:
        backup_copy.close()
        destination.close()
    return f"restored {source} into {database} ({rows} rows in users, cases and events)"


# ---- PostgreSQL -----------------------------------------------------------------------------------


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(f"{name} is not installed (Debian: apt-get install postgresql-client)")
    return found


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()}")


def _pg_backup(database_url: str, target: Path) -> str:
    partial = target.with_name(target.name + ".partial")
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}", f"--dbname={database_url}"])
    os.chmod(partial, 0o600)  # a backup holds personal data
    os.replace(partial, target)
    return f"backed up the PostgreSQL database to {target}"


def _psql(database_url: str, sql: str) -> str:
    result = subprocess.run(
        [_tool("psql"), "-tA", "-v", "ON_ERROR_STOP=1", f"--dbname={database_url}", "-c", sql],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BackupError(f"psql failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _pg_state(database_url: str) -> tuple[bool, int]:
    """Whether jiesu's tables exist (a server started once makes them), and the rows they hold."""
    names = ", ".join(f"'{t}'" for t in DATA_TABLES)
    present = _psql(
        database_url,
        f"SELECT relname FROM pg_class WHERE relkind = 'r' AND relname IN ({names}) "
        "AND relnamespace = 'public'::regnamespace",
    ).split()
    if not present:
        return False, 0
    rows = _psql(database_url, "SELECT " + " + ".join(f"(SELECT COUNT(*) FROM {t})" for t in present))
    return True, int(rows or 0)


def _pg_restore(database_url: str, source: Path, force: bool) -> str:
    command = [_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction"]
    tables, rows = _pg_state(database_url)
    if rows and not force:
        raise BackupError("the target database is not empty: restore into an empty database (or --force)")
    if tables:  # empty tables from a first start, or --force: replace them
        command += ["--clean", "--if-exists"]
    _run([*command, f"--dbname={database_url}", str(source)])
    return f"restored {source} into the PostgreSQL database"
