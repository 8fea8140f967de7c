"""Intake (POST /api/cases as a resident) at 64 clients, against a bare one-INSERT handler.

For SQLite and PostgreSQL: requests/s, p50 and p99 of full intake (token check, validation, one
transaction: case row, two hash-chained events, outbox row, immediate acceptance) and of the bare handler,
and their ratio.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from benchmarks._server import fresh_database, login, server, wrk
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


def run(args: argparse.Namespace) -> None:
    seconds = 3 if args.quick else 10
    pg_url = args.pg_url or os.environ.get("JIESU_BENCH_PG_URL")
    backends = ["sqlite"] + (["postgres"] if pg_url else [])
    print(f"64 connections, {seconds} s per run, wrk -t2; one uvicorn worker")
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            workdir = Path(tmp)
            url = fresh_database(backend, pg_url, workdir)
            with server(url, workdir) as base:
                token = login(base, "resident", DEMO_PASSWORD)
                intake = wrk(
                    f"{base}/api/cases",
                    method="POST",
                    body=CASE,
                    headers={"Authorization": f"Bearer {token}"},
                    seconds=seconds,
                )
            url = fresh_database(backend, pg_url, workdir)
            with server(url, workdir, app="benchmarks.bare_app:create_app") as base:
                bare = wrk(
                    f"{base}/insert",
                    method="POST",
                    body={"title": CASE["title"], "description": CASE["description"]},
                    seconds=seconds,
                )
        print(intake.line(f"{backend}: intake POST /api/cases"))
        print(bare.line(f"{backend}: bare Litestar handler, one INSERT"))
        print(f"{backend}: ratio intake/bare = {intake.requests_per_second / bare.requests_per_second:.2f}")
