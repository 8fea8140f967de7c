"""Reading and erasing the personal text kept beside the event log."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jiesu.audit import seals
from jiesu.audit.tables import EventText
from jiesu.privacy import ERASED


async def texts_by_seq(seqs: Iterable[int]) -> dict[int, dict[str, dict[str, Any]]]:
    wanted = sorted(set(seqs))
    found: dict[int, dict[str, dict[str, Any]]] = {}
    for start in range(0, len(wanted), 1000):
        rows = await EventText.select().where(EventText.event_seq.is_in(wanted[start : start + 1000]))
        for row in rows:
            found.setdefault(row["event_seq"], {})[row["field"]] = row
    return found


async def reveal_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Events (rows with seq, actor, fields) with their personal text in place, for timelines."""
    texts = await texts_by_seq(e["seq"] for e in events) if events else {}
    return [seals.reveal(e, texts.get(e["seq"], {})) for e in events]


async def erase_texts(seqs: Iterable[int]) -> None:
    wanted = sorted(set(seqs))
    for start in range(0, len(wanted), 1000):
        await EventText.update({EventText.value: ERASED, EventText.salt: None}).where(
            EventText.event_seq.is_in(wanted[start : start + 1000])
        )
