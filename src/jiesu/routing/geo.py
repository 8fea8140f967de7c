"""Point-in-polygon by ray casting, for grids that have a boundary."""

from __future__ import annotations

from collections.abc import Sequence

Point = tuple[float, float]


def contains(polygon: Sequence[Sequence[float]], lon: float, lat: float) -> bool:
    """True when (lon, lat) lies inside ``polygon`` (a ring of [lon, lat] vertices, closed or not)."""
    inside = False
    count = len(polygon)
    for index in range(count):
        x1, y1 = polygon[index][0], polygon[index][1]
        x2, y2 = polygon[(index + 1) % count][0], polygon[(index + 1) % count][1]
        if (y1 > lat) != (y2 > lat):
            crossing = x1 + (lat - y1) * (x2 - x1) / (y2 - y1)
            if lon < crossing:
                inside = not inside
    return inside
