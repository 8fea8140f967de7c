"""Fixtures: every test gets its own database (a fresh SQLite file, or a fresh PostgreSQL schema)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager

from jiesu.app import create_app
from jiesu.config import PROJECT_ROOT, Settings

PG_URL = os.environ.get("JIESU_TEST_PG_URL")
ADMIN_PASSWORD = "admin-pass-123"
PASSWORD = "test-pass-123"

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not PG_URL, reason="PostgreSQL tests skipped: JIESU_TEST_PG_URL is not set"),
        ],
    ),
]


async def reset_postgres(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()


async def database_beside(url: str, suffix: str) -> str:
    """The URL of database ``<url's database>_<suffix>`` on the same server, created when missing."""
    parsed = urlparse(url)
    name = f"{parsed.path.lstrip('/')}_{suffix}"
    connection = await asyncpg.connect(url)
    try:
        if not await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return urlunparse(parsed._replace(path=f"/{name}"))


async def worker_pg_url() -> str:
    """JIESU_TEST_PG_URL, or under pytest-xdist a database of this worker's own beside it."""
    assert PG_URL
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return await database_beside(PG_URL, worker) if worker else PG_URL


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url = await worker_pg_url()
        await reset_postgres(url)
        return url
    return f"sqlite:///{tmp_path / 'jiesu.db'}"


def test_settings(database_url: str, var_dir: Path, **overrides: Any) -> Settings:
    """The settings every test app runs with: its own database and var/, fast hashing, no demo."""
    return Settings.from_env(
        database_url=database_url,
        var_dir=var_dir,
        workflows_dir=PROJECT_ROOT / "workflows",
        secret_key="test-secret-key-test-secret-key-0123456789",
        admin_password=ADMIN_PASSWORD,
        password_hash_profile="fast",
        demo=False,
        **overrides,
    )


test_settings.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return test_settings(database_url, tmp_path)


class MovableClock:
    """Real time plus an offset that a test can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
async def client(settings: Settings, clock: MovableClock) -> AsyncIterator[httpx.AsyncClient]:
    """The app in the test's own event loop, so concurrent requests really run concurrently."""
    app = create_app(settings, clock=clock)
    async with (
        # Start-up migrates a fresh database: give it time on a loaded CI machine (the default is 5 s).
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http,
    ):
        http.app = app  # type: ignore[attr-defined]
        yield http


@dataclass
class Api:
    """A thin helper over the test client: log in once per user, then call as that user."""

    client: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)

    async def login(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        if username not in self.tokens:
            response = await self.client.post(
                "/api/auth/token", json={"username": username, "password": password}
            )
            assert response.status_code == 200, response.text
            self.tokens[username] = response.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def as_user(self, username: str | None, method: str, url: str, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        if username is not None:
            headers.update(await self.login(username))
        return await self.client.request(method, url, headers=headers, **kwargs)

    async def case(self, username: str | None, case_id: int) -> dict[str, Any]:
        response = await self.as_user(username, "GET", f"/api/cases/{case_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def act(
        self,
        username: str | None,
        case_id: int,
        action: str,
        version: int | None = None,
        **fields: Any,
    ) -> Any:
        if version is None:
            version = (await self.case(username, case_id))["version"]
        return await self.as_user(
            username,
            "POST",
            f"/api/cases/{case_id}/actions/{action}",
            json={"version": version, **fields},
        )

    async def file(self, username: str | None = "alice", **overrides: Any) -> dict[str, Any]:
        body = {
            "kind": "complaint",
            "category": "neighbour_noise",
            "title": "Loud music every night",
            "description": "The flat above plays loud music after midnight.",
            "address": "Building 3, Jixiang Lane",
            "jurisdiction_code": "C1",
            "contact": {"name": "Alice Liu", "phone": "13812345678"},
        }
        body.update(overrides)
        body = {k: v for k, v in body.items() if v is not None}
        response = await self.as_user(username, "POST", "/api/cases", json=body)
        assert response.status_code == 201, response.text
        return response.json()


WORLD_JURISDICTIONS = [
    ("D1", "District One", "district", None),
    ("S1", "Street One", "street", "D1"),
    ("C1", "Community One", "community", "S1"),
    ("C2", "Community Two", "community", "S1"),
    ("G1", "Grid One", "grid", "C1"),
    ("S2", "Street Two", "street", "D1"),
    ("C3", "Community Three", "community", "S2"),
]

WORLD_USERS = [
    ("alice", "resident", None),
    ("bob", "resident", None),
    ("disp", "dispatcher", None),
    ("disp2", "dispatcher", "S2"),
    ("sup", "supervisor", "S1"),
    ("sup2", "supervisor", "S2"),
    ("w1", "worker", "C1"),
    ("w2", "worker", "C1"),
    ("w3", "worker", "C3"),
    ("streetw", "worker", "S1"),
]


@pytest.fixture
async def api(client: httpx.AsyncClient) -> Api:
    """An API helper over a small world: a district, two streets, three communities, one user each."""
    helper = Api(client)
    await helper.login("admin", ADMIN_PASSWORD)
    for code, name, level, parent in WORLD_JURISDICTIONS:
        response = await helper.as_user(
            "admin",
            "POST",
            "/api/jurisdictions",
            json={"code": code, "name": name, "level": level, "parent_code": parent},
        )
        assert response.status_code == 201, response.text
    for username, role, jurisdiction in WORLD_USERS:
        response = await helper.as_user(
            "admin",
            "POST",
            "/api/users",
            json={
                "username": username,
                "password": PASSWORD,
                "role": role,
                "display_name": username.title(),
                "phone": "13900000000",
                "jurisdiction_code": jurisdiction,
            },
        )
        assert response.status_code == 201, response.text
    return helper
