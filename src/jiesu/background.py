"""A periodic job inside the server's lifespan: run, sleep, repeat; log failures and keep going."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar

log = logging.getLogger("jiesu.jobs")


def periodic(name: str, interval: float, job: Callable[[], Awaitable[Any]]):  # type: ignore[no-untyped-def]
    """A lifespan hook running ``job`` every ``interval`` seconds (not at all when interval <= 0)."""

    async def loop() -> None:
        while True:
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s failed; trying again in %.0f s", name, interval)
            await asyncio.sleep(interval)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        task = asyncio.create_task(loop(), name=name) if interval > 0 else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan
