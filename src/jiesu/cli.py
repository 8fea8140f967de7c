"""The ``jiesu`` command: serve, migrate, workflow diagram, audit verify, demo, sweep."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jiesu import db
from jiesu.config import Settings, skip_migrations_in_workers


def _with_database(settings: Settings, work: Callable[[], Awaitable[Any]], migrate: bool = True) -> Any:
    async def run() -> Any:
        await db.start(settings.database_url, migrate=migrate)
        try:
            return await work()
        finally:
            await db.stop()

    return asyncio.run(run())


def serve(app: str, *, host: str, port: int, workers: int, log_level: str) -> None:
    """uvicorn as `jiesu serve` runs it. The intake benchmark serves its bare ceiling app through here
    too, so both run with the same server settings (loop, HTTP parser, logging, workers)."""
    import uvicorn

    from jiesu.ops.logs import configure_logging

    configure_logging(log_level)
    uvicorn.run(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=None,  # uvicorn's own loggers go through jiesu's JSON logging
        access_log=False,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.migrate_on_start:
        # Once, here, before any worker starts; the workers then find the database migrated.
        try:
            report = _with_database(settings, db.run_migrations, migrate=False)
        except Exception as exc:
            print(f"jiesu serve: the migrations failed, the server is not started: {exc}", file=sys.stderr)
            return 1
        print(report.strip() or "migrations: nothing to do", file=sys.stderr)
        skip_migrations_in_workers()
    serve(
        "jiesu.app:create_app",
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        log_level=settings.log_level,
    )
    return 0


def cmd_migrate(_: argparse.Namespace) -> int:
    settings = Settings.from_env()

    async def run() -> str:
        await db.start(settings.database_url, migrate=False)
        try:
            return await db.run_migrations()
        finally:
            await db.stop()

    report = asyncio.run(run())
    print(report.strip() or "migrations: nothing to do")
    return 0


def cmd_workflow_diagram(_: argparse.Namespace) -> int:
    from jiesu.workflow import load_workflow

    settings = Settings.from_env()
    print(load_workflow(settings.workflows_dir / "case.yaml").mermaid())
    return 0


def _register_integrity_checks() -> None:
    """The checks the app registers at start-up, for the commands that verify without the app."""
    from jiesu.mediation.integrity import register_with_audit

    register_with_audit()


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from jiesu.audit.chain import Checkpoint, verify_chain, verify_with_checkpoint

    _register_integrity_checks()

    checkpoint = getattr(args, "checkpoint", None)
    if checkpoint is not None:
        try:
            parsed = Checkpoint.parse(checkpoint)
        except ValueError as exc:
            print(f"jiesu: --checkpoint: {exc}", file=sys.stderr)
            return 2
        report = _with_database(Settings.from_env(), lambda: verify_with_checkpoint(parsed))
    else:
        report = _with_database(Settings.from_env(), verify_chain)
    if report.ok:
        print(f"ok: {report.checked} events, head {report.head_seq} {report.head_hash}")
        return 0
    print(f"BROKEN at event {report.first_broken_seq}: {report.reason}")
    return 1


def cmd_audit_checkpoint(_: argparse.Namespace) -> int:
    """Print the verified head as SEQ:HASH, to keep somewhere the database's operators cannot edit."""
    from jiesu.audit.chain import head_checkpoint, verify_chain

    _register_integrity_checks()

    async def work() -> tuple[Any, Any]:
        return await verify_chain(), await head_checkpoint()

    report, checkpoint = _with_database(Settings.from_env(), work)
    if not report.ok:
        print(f"BROKEN at event {report.first_broken_seq}: {report.reason}", file=sys.stderr)
        return 1
    print(checkpoint)
    return 0


def cmd_demo(_: argparse.Namespace) -> int:
    from jiesu.app import create_app
    from jiesu.demo import load_demo_data

    settings = Settings.from_env()
    app = create_app(settings)
    loaded = _with_database(settings, lambda: load_demo_data(app.state.accounts, app.state.cases))
    print("demo data loaded" if loaded else "demo data already present")
    return 0


def cmd_sweep(_: argparse.Namespace) -> int:
    """One sweeper pass, for cron; safe to run next to the servers' own sweepers."""
    import json

    from jiesu.app import create_app

    settings = Settings.from_env()
    app = create_app(settings)
    report = _with_database(settings, app.state.sweeper.sweep)
    print(json.dumps(report.as_dict()))
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from jiesu.ops.backup import BackupError, backup

    try:
        print(backup(Settings.from_env().database_url, Path(args.path)))
    except BackupError as exc:
        print(f"jiesu backup: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from jiesu.ops.backup import BackupError, restore

    try:
        print(restore(Settings.from_env().database_url, Path(args.path), force=args.force))
    except BackupError as exc:
        print(f"jiesu restore: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_retention_run(_: argparse.Namespace) -> int:
    from jiesu.app import register_personal_data
    from jiesu.clock import system_clock
    from jiesu.rights.service import RightsService

    settings = Settings.from_env()
    if settings.retention_days <= 0:
        print("retention: JIESU_RETENTION_DAYS is not set; nothing is anonymised")
        return 0
    register_personal_data(Path(settings.var_dir))
    rights = RightsService(system_clock, settings.retention_days)
    count = _with_database(settings, rights.anonymise_expired)
    print(f"retention: anonymised {count} cases closed more than {settings.retention_days} days ago")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jiesu", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve the API and pages")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=cmd_serve)

    commands.add_parser("migrate", help="apply pending migrations").set_defaults(run=cmd_migrate)
    commands.add_parser("demo", help="load demo data once").set_defaults(run=cmd_demo)
    commands.add_parser(
        "sweep", help="one SLA sweeper pass (reminders, escalation, auto-close)"
    ).set_defaults(run=cmd_sweep)

    workflow = commands.add_parser("workflow", help="the case workflow").add_subparsers(
        dest="sub", required=True
    )
    workflow.add_parser("diagram", help="print a Mermaid diagram").set_defaults(run=cmd_workflow_diagram)

    audit = commands.add_parser("audit", help="the audit chain").add_subparsers(dest="sub", required=True)
    verify = audit.add_parser("verify", help="recompute the hash chain")
    verify.add_argument("--checkpoint", help="SEQ:HASH printed by `jiesu audit checkpoint`")
    verify.set_defaults(run=cmd_audit_verify)
    audit.add_parser("checkpoint", help="print the head as SEQ:HASH").set_defaults(run=cmd_audit_checkpoint)

    backup = commands.add_parser("backup", help="back up the database to PATH (safe while serving)")
    backup.add_argument("path")
    backup.set_defaults(run=cmd_backup)
    restore = commands.add_parser("restore", help="restore PATH into an empty database")
    restore.add_argument("path")
    restore.add_argument("--force", action="store_true", help="replace a database that holds data")
    restore.set_defaults(run=cmd_restore)
    retention = commands.add_parser("retention", help="residents' data retention").add_subparsers(
        dest="sub", required=True
    )
    retention.add_parser(
        "run", help="anonymise cases closed longer ago than JIESU_RETENTION_DAYS"
    ).set_defaults(run=cmd_retention_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except Exception as exc:  # a clear message for an operator, not a traceback
        from jiesu.workflow import WorkflowError

        if isinstance(exc, WorkflowError):
            print(f"jiesu: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
