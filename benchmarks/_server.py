"""Shared by benchmarks: fresh databases, a server in a subprocess, wrk runs and their figures."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fresh_database(kind: str, pg_url: str | None, workdir: Path) -> str:
    """A new empty database: an SQLite file in ``workdir`` or a recreated PostgreSQL database."""
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    assert pg_url, "PostgreSQL URL needed"
    parsed = urlparse(pg_url)
    name = parsed.path.lstrip("/")
    admin = urlunparse(parsed._replace(path="/postgres"))
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run(["psql", admin, "-q", "-c", sql], check=True, capture_output=True)
    return pg_url


@dataclass
class Served:
    """A running server: its base URL and the process ``server()`` started."""

    base: str
    process: subprocess.Popen[bytes]

    def worker_peak_rss_mb(self) -> list[float]:
        """Peak resident memory (VmHWM) of each worker: uvicorn's spawned children when there are
        several, else the one process that serves."""
        tree = _descendants(self.process.pid)
        workers = [pid for pid in tree if b"spawn_main" in _cmdline(pid)] or [self.process.pid]
        return [peak_rss_mb(pid) for pid in workers]


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


@contextmanager
def server(
    database_url: str, workdir: Path, *, bare: bool = False, workers: int = 1, demo: bool = True
) -> Iterator[Served]:
    """Serve jiesu (migrated, with the demo data) or, with ``bare``, benchmarks/bare_app.py, both
    through jiesu.cli.serve (the same uvicorn settings), on a free port."""
    port = free_port()
    env = {
        **os.environ,
        "JIESU_DATABASE_URL": database_url,
        "JIESU_VAR_DIR": str(workdir),
        "JIESU_SECRET_KEY": "bench-secret-key-bench-secret-key-012345",
        "JIESU_DEMO": "0",
    }
    if bare:
        command = [
            sys.executable,
            "-m",
            "benchmarks.bare_app",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
    else:
        subprocess.run([BIN / "jiesu", "migrate"], env=env, check=True, capture_output=True)
        if demo:
            subprocess.run([BIN / "jiesu", "demo"], env=env, check=True, capture_output=True)
        command = [str(BIN / "jiesu"), "serve", "--port", str(port), "--workers", str(workers)]
    log_path = workdir / f"server-{port}.log"
    log = log_path.open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            if process.poll() is not None:
                break
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not start: {log_path.read_text()[-2000:]}")
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log_path.read_text()[-2000:]}")
        if workers > 1:
            _wait_for_workers(log_path, workers)
        yield Served(base, process)
    finally:
        process.terminate()
        process.wait(timeout=20)
        log.close()


def _wait_for_workers(log_path: Path, workers: int) -> None:
    """The first worker answering /health does not mean all are up: each logs its start-up."""
    for _ in range(300):
        if log_path.read_text().count("Application startup complete") >= workers:
            return
        time.sleep(0.1)
    raise RuntimeError(f"not all {workers} workers started: {log_path.read_text()[-2000:]}")


def peak_rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    match = re.search(r"VmHWM:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else 0.0


@dataclass
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int

    def line(self, label: str) -> str:
        return (
            f"{label:<44} {self.requests_per_second:8.0f} req/s   p50 {self.p50_ms:7.1f} ms   "
            f"p99 {self.p99_ms:7.1f} ms   errors {self.errors}/{self.requests}"
        )


def _ms(text: str) -> float:
    match = re.match(r"([\d.]+)(\w+)", text)
    if match is None:
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(
    url: str,
    *,
    method: str = "GET",
    body: dict | None = None,
    headers: dict | None = None,
    connections: int = 64,
    seconds: int = 10,
    threads: int = 2,
    timeout: int = 10,
) -> LoadResult:
    """Run wrk against ``url``; non-2xx answers and socket errors count as errors. An answer slower than
    ``timeout`` seconds is an error whose time is not in the percentiles (wrk's default is 2 s, which hid
    the slowest answers from the p99)."""
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed (scripts/bench installs it with apt-get)")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(f'wrk.method = "{method}"\n')
        if body is not None:
            script.write(f"wrk.body = {json.dumps(json.dumps(body))}\n")
            script.write('wrk.headers["Content-Type"] = "application/json"\n')
        for key, value in (headers or {}).items():
            script.write(f'wrk.headers["{key}"] = "{value}"\n')
    output = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            f"--timeout={timeout}s",
            "--latency",
            "-s",
            script.name,
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    # The latency distribution's own lines: "  50%  12.34ms" (a Stdev column can end in "50%" too).
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = int(non2xx.group(1)) if non2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return LoadResult(rps, p50, p99, errors, total)


def login(base: str, username: str, password: str) -> str:
    response = httpx.post(f"{base}/api/auth/token", json={"username": username, "password": password})
    response.raise_for_status()
    return str(response.json()["access_token"])
