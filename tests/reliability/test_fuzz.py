"""Schemathesis over the whole API, Open311 included, as every kind of caller, with every check
(tests/reliability/fuzzing.py): no 500, nothing off the document, derandomized so every run sends the
same cases.

The suite's run fits its time budget: schemathesis's coverage cases once, each sent as the next role in
turn, then ``SUITE_EXAMPLES`` random cases per operation for EACH role (about 4,000 requests on SQLite;
the coverage cases alone on PostgreSQL). The long mode, ``JIESU_FUZZ_EXAMPLES=N``, sends every coverage
case as every role and N random cases per operation and role, on both databases:

    JIESU_FUZZ_EXAMPLES=200 JIESU_TEST_SKIP_LINT=1 scripts/test -p no:xdist tests/reliability/test_fuzz.py
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.conftest import PG_URL, reset_postgres, worker_pg_url
from tests.reliability.fuzzing import ROLES, FuzzReport, fuzz

SUITE_EXAMPLES = {"sqlite": 2, "postgres": 0}
LONG_EXAMPLES = int(os.environ.get("JIESU_FUZZ_EXAMPLES", "0") or 0)


def _run(url: str, tmp_path: Path, backend: str) -> FuzzReport:
    if LONG_EXAMPLES:
        report = fuzz(url, tmp_path, LONG_EXAMPLES, ROLES, "every_role")
        print(f"fuzz {backend}: {report.requests} requests in {report.seconds:.0f} s, {report.statuses}")
        return report
    return fuzz(url, tmp_path, SUITE_EXAMPLES[backend], ROLES, "rotate")


def _assert_clean(report: FuzzReport) -> None:
    assert not report.failures, "\n\n".join(f"{k}\n{v}" for k, v in report.failures.items())
    assert report.requests > 0
    # The fuzzing got past authentication and validation: real answers, not only rejections.
    assert {200, 201, 400, 401, 403, 404, 405, 409} <= set(report.statuses), report.statuses


def test_fuzzing_every_operation_as_every_role_with_every_check_finds_no_failure_on_sqlite(
    tmp_path: Path,
) -> None:
    _assert_clean(_run(f"sqlite:///{tmp_path / 'fuzz.db'}", tmp_path, "sqlite"))


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason="PostgreSQL tests skipped: JIESU_TEST_PG_URL is not set")
def test_fuzzing_every_operation_as_every_role_with_every_check_finds_no_failure_on_postgres(
    tmp_path: Path,
) -> None:
    url = asyncio.run(worker_pg_url())
    asyncio.run(reset_postgres(url))
    _assert_clean(_run(url, tmp_path, "postgres"))
