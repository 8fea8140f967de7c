"""A real server (uvicorn in a subprocess) and Debian's Chromium driven by Playwright.

Every browser test runs against a server on a fresh SQLite file, and again against one on PostgreSQL
when JIESU_TEST_PG_URL is set (skipped otherwise), as the API tests do. One server per backend serves
all the browser tests, so the run stays short.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from jiesu.config import PROJECT_ROOT
from tests.conftest import (
    ADMIN_PASSWORD,
    BACKENDS,
    PASSWORD,
    WORLD_JURISDICTIONS,
    WORLD_USERS,
    database_beside,
    reset_postgres,
    worker_pg_url,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "screens"
PHONE = {"width": 360, "height": 780}

pytest.importorskip("playwright.sync_api", reason="the playwright package is installed by scripts/test")
if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is missing: scripts/test installs it with apt-get", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the server did not start within 30 s")


def _make_world(base: str) -> None:
    with httpx.Client(base_url=base, timeout=10) as client:
        token = client.post("/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        for code, name, level, parent in WORLD_JURISDICTIONS:
            body = {"code": code, "name": name, "level": level, "parent_code": parent}
            assert client.post("/api/jurisdictions", json=body, headers=headers).status_code == 201
        for username, role, jurisdiction in WORLD_USERS:
            body = {
                "username": username,
                "password": PASSWORD,
                "role": role,
                "display_name": username.title(),
                "phone": "13900000000",
                "jurisdiction_code": jurisdiction,
            }
            assert client.post("/api/users", json=body, headers=headers).status_code == 201


async def _fresh_postgres() -> str:
    """A database of its own beside the test database: the server outlives the tests that reset that one."""
    url = await database_beside(await worker_pg_url(), "e2e")
    await reset_postgres(url)
    return url


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    var_dir = tmp_path_factory.mktemp(f"e2e-var-{request.param}")
    if request.param == "postgres":
        # In a thread of its own: a test's event loop may be running in this one (pytest-asyncio).
        with ThreadPoolExecutor(max_workers=1) as pool:
            database_url = pool.submit(asyncio.run, _fresh_postgres()).result()
    else:
        database_url = f"sqlite:///{var_dir / 'jiesu.db'}"
    port = _free_port()
    env = {
        **os.environ,
        "JIESU_DATABASE_URL": database_url,
        "JIESU_VAR_DIR": str(var_dir),
        "JIESU_SECRET_KEY": "e2e-secret-key-e2e-secret-key-0123456789",
        "JIESU_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "JIESU_PASSWORD_HASH_PROFILE": "fast",
        "JIESU_DEMO": "0",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "jiesu.app:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=PROJECT_ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        _make_world(base)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def new_page(browser, server):  # type: ignore[no-untyped-def]
    """A fresh phone-sized browser (own cookies) per person: new_page(locale="en-US")."""
    contexts = []

    def make(locale: str = "en-US"):  # type: ignore[no-untyped-def]
        context = browser.new_context(viewport=PHONE, locale=locale, base_url=server)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    """Save the whole page at phone width, after checking that nothing makes it scroll sideways."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name}: the page is {width} px wide at {PHONE['width']} px"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
