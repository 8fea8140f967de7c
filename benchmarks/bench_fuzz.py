"""The long API fuzzing run (only with --fuzz): every coverage case and 100 examples per operation for
EACH role, both databases."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def ensure_database(url: str) -> None:
    """Create the benchmark database when it is missing."""
    import asyncpg

    try:
        await (await asyncpg.connect(url)).close()
    except asyncpg.InvalidCatalogNameError:
        base, _, name = url.rpartition("/")
        admin = await asyncpg.connect(f"{base}/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()


def run(args: argparse.Namespace) -> None:
    if not getattr(args, "fuzz", False):
        print("skipped: the long fuzzing run needs --fuzz")
        return
    sys.path.insert(0, str(ROOT))  # the harness lives with the tests
    from tests.conftest import reset_postgres
    from tests.reliability.fuzzing import ROLES, fuzz

    examples = 20 if args.quick else 100
    pg_url = args.pg_url or os.environ.get("JIESU_BENCH_PG_URL")
    targets = [("sqlite", None)] + ([("postgres", pg_url)] if pg_url else [])
    failed = False
    for name, url in targets:
        with tempfile.TemporaryDirectory() as tmp:
            if url is None:
                url = f"sqlite:///{Path(tmp) / 'fuzz.db'}"
            else:
                asyncio.run(ensure_database(url))
                asyncio.run(reset_postgres(url))
            report = fuzz(url, Path(tmp), examples, ROLES, "every_role")
        print(
            f"fuzz {name}: {examples} examples/operation/role x {len(ROLES)} roles, "
            f"{report.requests} requests in {report.seconds:.1f} s, "
            f"statuses {dict(sorted(report.statuses.items()))}, failures {len(report.failures)}"
        )
        for key, example in report.failures.items():
            failed = True
            print(f"  FAIL {key}\n{example}\n")
    if failed:
        raise SystemExit(1)
