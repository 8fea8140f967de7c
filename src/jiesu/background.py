"""A periodic job inside the server's lifespan: run, sleep, repeat; log failures and keep going."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass
from typing import Any

log = logging.getLogger("jiesu.jobs")

# On shutdown a running pass may finish this long before it is cancelled. Cancelling a pass in the middle
# of a database call can strand a pooled connection and make the pool's close wait forever.
STOP_GRACE_SECONDS = 15.0


@dataclass
class JobReport:
    """What one pass of a periodic job did: counters, given as a dict to the API and the logs."""

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


# What Litestar's ``lifespan`` list takes: called with the app, entered for the app's lifetime.
Lifespan = Callable[[Any], AbstractAsyncContextManager[None]]


def periodic(name: str, interval: float, job: Callable[[], Awaitable[Any]]) -> Lifespan:
    """A lifespan hook running ``job`` every ``interval`` seconds (not at all when interval <= 0)."""

    async def loop(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await job()
            except Exception:
                log.exception("%s failed; trying again in %.0f s", name, interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(loop(stop), name=name) if interval > 0 else None
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                try:
                    await asyncio.wait_for(task, STOP_GRACE_SECONDS)
                except TimeoutError:
                    log.warning("%s did not finish within %.0f s of shutdown", name, STOP_GRACE_SECONDS)

    return lifespan
