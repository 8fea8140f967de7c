"""Intake (POST /api/cases as a resident) at 64 clients, against the ceiling of the same server.

For SQLite and PostgreSQL, with one and with two uvicorn workers: requests/s, p50, p99 and errors of full
intake (token check, validation, routing, one transaction: case row, chained events, outbox row); a bare
Litestar ``GET`` served with the same server settings (jiesu.cli.serve: same loop, HTTP parser, logging,
workers) as the ceiling, and the ratio intake/ceiling; the peak resident memory of a jiesu worker. An
extra line: the bare app doing one INSERT per request through Piccolo (one worker), the database's part.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks._server import LoadResult, fresh_database, login, server, wrk
from jiesu.demo import DEMO_PASSWORD

CASE = {
    "kind": "complaint",
    "category": "neighbour_noise",
    "title": "Loud music after midnight",
    "description": "The flat above plays loud music every night after midnight.",
    "address": "Building 3, Jixiang Lane",
    "jurisdiction_code": "JS-JX",
    "contact": {"name": "Liu Fang", "phone": "13800138000"},
}
WORKER_COUNTS = (1, 2)
CONNECTIONS = 64
WARM_UP_SECONDS = 1


@dataclass
class Row:
    backend: str
    workers: int
    intake: LoadResult
    ceiling: LoadResult
    worker_rss_mb: list[float]

    @property
    def ratio(self) -> float:
        return self.intake.requests_per_second / max(self.ceiling.requests_per_second, 1e-9)


def _load(url: str, seconds: int, **request: object) -> LoadResult:
    """A short run first (not counted), so start-up costs do not land in the measured run."""
    wrk(url, seconds=WARM_UP_SECONDS, connections=CONNECTIONS, **request)  # type: ignore[arg-type]
    return wrk(url, seconds=seconds, connections=CONNECTIONS, **request)  # type: ignore[arg-type]


def _intake(
    backend: str, pg_url: str | None, workdir: Path, workers: int, seconds: int
) -> tuple[LoadResult, list[float]]:
    with server(fresh_database(backend, pg_url, workdir), workdir, workers=workers) as served:
        token = login(served.base, "resident", DEMO_PASSWORD)
        result = _load(
            f"{served.base}/api/cases",
            seconds,
            method="POST",
            body=CASE,
            headers={"Authorization": f"Bearer {token}"},
        )
        return result, served.worker_peak_rss_mb()


def _bare(
    backend: str, pg_url: str | None, workdir: Path, workers: int, seconds: int
) -> tuple[LoadResult, LoadResult | None]:
    """The bare GET; with one worker also the bare one-INSERT POST."""
    with server(fresh_database(backend, pg_url, workdir), workdir, bare=True, workers=workers) as served:
        ceiling = _load(f"{served.base}/health", seconds)
        if workers > 1:
            return ceiling, None
        body = {"title": CASE["title"], "description": CASE["description"]}
        return ceiling, _load(f"{served.base}/insert", seconds, method="POST", body=body)


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _table(rows: list[Row], inserts: dict[str, LoadResult]) -> str:
    head = (
        f"{'database':<9}{'workers':>8}{'intake req/s':>14}{'p50 ms':>9}{'p99 ms':>9}{'errors':>14}"
        f"{'bare GET req/s':>16}{'p99 ms':>9}{'errors':>8}{'ratio':>7}{'peak RSS/worker':>17}"
    )
    lines = [head, "-" * len(head)]
    for row in rows:
        intake, ceiling = row.intake, row.ceiling
        errors = f"{intake.errors}/{intake.requests}"
        rss = f"{max(row.worker_rss_mb):.0f} MB"
        if len(row.worker_rss_mb) > 1:
            rss = "/".join(f"{m:.0f}" for m in row.worker_rss_mb) + " MB"
        lines.append(
            f"{row.backend:<9}{row.workers:>8}{intake.requests_per_second:>14.0f}{_ms(intake.p50_ms):>9}"
            f"{_ms(intake.p99_ms):>9}{errors:>14}{ceiling.requests_per_second:>16.0f}"
            f"{_ms(ceiling.p99_ms):>9}{ceiling.errors:>8}{row.ratio:>7.3f}{rss:>17}"
        )
    for backend, insert in inserts.items():
        lines.append(insert.line(f"{backend}, 1 worker: bare POST, one INSERT"))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    seconds = 3 if args.quick else 10
    pg_url = args.pg_url or os.environ.get("JIESU_BENCH_PG_URL")
    backends = ["sqlite"] + (["postgres"] if pg_url else [])
    print(
        f"wrk -t2 -c{CONNECTIONS}, {seconds} s per run after a {WARM_UP_SECONDS} s warm-up; "
        f"ratio = intake / bare GET on the same server settings; peak RSS = VmHWM of each worker"
    )
    rows: list[Row] = []
    inserts: dict[str, LoadResult] = {}
    for backend in backends:
        for workers in WORKER_COUNTS:
            with tempfile.TemporaryDirectory() as tmp:
                intake, rss = _intake(backend, pg_url, Path(tmp), workers, seconds)
            with tempfile.TemporaryDirectory() as tmp:
                ceiling, insert = _bare(backend, pg_url, Path(tmp), workers, seconds)
            rows.append(Row(backend, workers, intake, ceiling, rss))
            if insert is not None:
                inserts[backend] = insert
            print(f"  {backend}, {workers} worker(s): done", flush=True)
    print(_table(rows, inserts))
