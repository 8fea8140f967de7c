"""Backups that can be taken while the server runs, and restores into an empty database.

SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot while other
connections keep writing (WAL lets the copy read while writers append). PostgreSQL: ``pg_dump`` in its
custom format (one consistent snapshot of a running database) and ``pg_restore`` in one transaction.
The PostgreSQL tools get the password in the environment (PGPASSWORD), never on their command line, where
every local user could read it in the process list.

A restore while a server uses the database is refused: each server process holds ``hold_database`` for its
lifetime (a shared advisory lock on PostgreSQL, a shared ``flock`` on ``<database>.lock`` beside an SQLite
file), and ``restore`` needs the exclusive one.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse, urlunparse

from piccolo.engine.postgres import PostgresEngine

from jiesu.db import SQLITE_BUSY_TIMEOUT_SECONDS, is_postgres_url, sqlite_path

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_CUSTOM_MAGIC = b"PGDMP"
# A database counts as empty when none of these tables holds a row.
DATA_TABLES = ("jiesu_user", "jiesu_case", "jiesu_case_event")


# The advisory lock every server holds shared while it runs ("jies" in ASCII).
SERVER_LOCK_KEY = 0x6A696573
SERVER_RUNNING = "a jiesu server is using this database: stop every server process before restoring"


class BackupError(RuntimeError):
    pass


# ---- a running server holds its database -----------------------------------------------------------


def _lock_file(database: Path) -> Path:
    return database.with_name(database.name + ".lock")


@contextlib.contextmanager
def _flocked(database: Path, mode: int) -> Iterator[None]:
    """``flock`` ``mode`` (non-blocking) on the lock file beside ``database``; BlockingIOError if taken."""
    database.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_lock_file(database), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, mode | fcntl.LOCK_NB)
        yield
    finally:
        os.close(fd)  # closing releases the lock


@contextlib.asynccontextmanager
async def hold_database(database_url: str) -> AsyncIterator[None]:
    """Held by a server for its lifetime, so ``restore`` can tell that the database is in use."""
    if is_postgres_url(database_url):
        connection = await PostgresEngine(config={"dsn": database_url}).get_new_connection()
        try:
            await connection.execute("SELECT pg_advisory_lock_shared($1)", SERVER_LOCK_KEY)
            yield
        finally:
            await connection.close()
        return
    try:
        with _flocked(sqlite_path(database_url), fcntl.LOCK_SH):
            yield
    except BlockingIOError as exc:
        raise BackupError("a restore of this database is running: start the server when it is done") from exc


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
    try:
        with _flocked(database, fcntl.LOCK_EX):
            return _sqlite_restore_unused(source, database, force)
    except BlockingIOError as exc:
        raise BackupError(SERVER_RUNNING) from exc


def _sqlite_restore_unused(source: Path, database: Path, force: bool) -> str:
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


def without_password(database_url: str) -> tuple[str, dict[str, str]]:
    """The URL without its password, and the environment that gives the password to libpq instead."""
    parsed = urlparse(database_url)
    env = dict(os.environ)
    if parsed.password is None:
        return database_url, env
    env["PGPASSWORD"] = unquote(parsed.password)
    user = parsed.username or ""
    host = parsed.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}@{host}" if user else host
    if parsed.port is not None:
        netloc += f":{parsed.port}"
    return urlunparse(parsed._replace(netloc=netloc)), env


def _run(command: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL tool on ``database_url`` (its --dbname, without the password)."""
    url, env = without_password(database_url)
    argv = [command[0], f"--dbname={url}", *command[1:]]
    result = subprocess.run(argv, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {result.stderr.strip()}")
    return result


def _pg_backup(database_url: str, target: Path) -> str:
    partial = target.with_name(target.name + ".partial")
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={partial}"], database_url)
    os.chmod(partial, 0o600)  # a backup holds personal data
    os.replace(partial, target)
    return f"backed up the PostgreSQL database to {target}"


def _psql(database_url: str, sql: str) -> str:
    return _run([_tool("psql"), "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql], database_url).stdout.strip()


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
    if _psql(database_url, f"SELECT pg_try_advisory_lock({SERVER_LOCK_KEY})") != "t":
        raise BackupError(SERVER_RUNNING)
    tables, rows = _pg_state(database_url)
    if rows and not force:
        raise BackupError("the target database is not empty: restore into an empty database (or --force)")
    if tables:  # empty tables from a first start, or --force: replace them
        command += ["--clean", "--if-exists"]
    _run([*command, str(source)], database_url)
    return f"restored {source} into the PostgreSQL database"
