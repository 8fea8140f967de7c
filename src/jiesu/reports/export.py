"""CSV rendering of the reports with the standard csv module: one table, then titled sections."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

# A cell a spreadsheet would run as a formula (CSV injection) gets a leading apostrophe.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def render_csv(sections: list[tuple[str, list[dict[str, Any]]]]) -> str:
    """The first section is the report's main table; the others follow, each after a blank line and
    a ``# title`` line."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for index, (title, rows) in enumerate(sections):
        if index:
            writer.writerow([])
            writer.writerow([f"# {title}"])
        columns = list(rows[0]) if rows else []
        for row in rows[1:]:
            columns.extend(key for key in row if key not in columns)
        writer.writerow(columns or ["(none)"])
        for row in rows:
            writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()
