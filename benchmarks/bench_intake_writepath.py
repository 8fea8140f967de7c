"""The SQLite write path: full intake (token, validation, routing, event, outbox) against a real server,
Piccolo's own SQLiteEngine (a connection per query) against jiesu's SerialSQLiteEngine (one writer with
group commit, reused readers). Prints requests/s, p50/p99 and errors for each."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


async def _load(url: str, token: str, clients: int, requests: int) -> tuple[float, list[float], int]:
    from tests.reliability.test_crash import BODY

    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(requests):
        queue.put_nowait(n)
    headers = {"Authorization": f"Bearer {token}"}

    async def client_loop(client: httpx.AsyncClient) -> None:
        nonlocal errors
        while not queue.empty():
            n = queue.get_nowait()
            started = time.perf_counter()
            try:
                response = await client.post(
                    "/api/cases", json={**BODY, "title": f"bench-{n}"}, headers=headers
                )
                ok = response.status_code == 201
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            errors += not ok

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(client_loop(client) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return elapsed, latencies, errors


def _measure(write_path: str, clients: int, requests: int) -> str:
    from tests.reliability.test_crash import _build_world, _env, _jiesu, serving

    with tempfile.TemporaryDirectory() as tmp:
        env = _env(
            f"sqlite:///{Path(tmp) / 'bench.db'}",
            Path(tmp),
            JIESU_ANONYMOUS_INTAKE_PER_MINUTE="0",
            JIESU_SQLITE_WRITE_PATH=write_path,
        )
        assert _jiesu(env, "migrate").returncode == 0
        with serving(env, Path(tmp) / "server.log") as server:
            _build_world(server.url)
            resident = {
                "username": "bench",
                "password": "bench-pass-123",
                "display_name": "B",
                "phone": "12345",
            }
            httpx.post(f"{server.url}/api/residents", json=resident).raise_for_status()
            login = {"username": "bench", "password": "bench-pass-123"}
            token = httpx.post(f"{server.url}/api/auth/token", json=login).json()["access_token"]
            asyncio.run(_load(server.url, token, clients, min(200, requests)))  # warm-up
            elapsed, latencies, errors = asyncio.run(_load(server.url, token, clients, requests))
    cuts = statistics.quantiles(latencies, n=100)
    return (
        f"{write_path:8s} {clients} clients, {requests} intakes: {requests / elapsed:7.0f} req/s, "
        f"p50 {cuts[49] * 1000:6.1f} ms, p99 {cuts[98] * 1000:7.1f} ms, errors {errors}"
    )


def run(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(ROOT))  # the server harness lives with the crash test
    clients, requests = (16, 1_000) if args.quick else (64, 10_000)
    for write_path in ("piccolo", "serial"):
        print(_measure(write_path, clients, requests), flush=True)
