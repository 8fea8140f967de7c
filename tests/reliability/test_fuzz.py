"""Schemathesis over the whole API, every kind of caller, fixed seed: no 500, nothing off the schema.

In the suite: 30 examples per operation (about 35 operations), the caller drawn among the roles, on
SQLite, and 10 on PostgreSQL, to keep the suite fast. ``scripts/bench fuzz --fuzz`` runs 100 examples per
operation for EACH role on both databases.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.conftest import PG_URL, reset_postgres, worker_pg_url
from tests.reliability.fuzzing import ROLES, FuzzReport, fuzz

SUITE_EXAMPLES = {"sqlite": 30, "postgres": 10}


def _assert_clean(report: FuzzReport) -> None:
    assert not report.failures, "\n\n".join(f"{k}\n{v}" for k, v in report.failures.items())
    assert report.requests > 0
    # The fuzzing got past authentication and validation: real answers, not only rejections.
    assert {200, 201, 400, 401, 403, 404, 409} <= set(report.statuses), report.statuses


def test_fuzzing_every_operation_as_every_role_finds_no_failure_on_sqlite(tmp_path: Path) -> None:
    report = fuzz(f"sqlite:///{tmp_path / 'fuzz.db'}", tmp_path, SUITE_EXAMPLES["sqlite"], ROLES, False)
    _assert_clean(report)


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="PostgreSQL tests skipped: JIESU_TEST_PG_URL is not set")
def test_fuzzing_every_operation_as_every_role_finds_no_failure_on_postgres(tmp_path: Path) -> None:
    url = asyncio.run(worker_pg_url())
    asyncio.run(reset_postgres(url))
    _assert_clean(fuzz(url, tmp_path, SUITE_EXAMPLES["postgres"], ROLES, False))
