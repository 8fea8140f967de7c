"""The response-time chart as SVG drawn on the server: no chart library, readable without colour.

The median is a solid line with round markers, the 90th percentile a dashed line with square markers;
each line is also named in a legend, and every point carries its value as a tooltip title.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

from jiesu.web.dashboard import DayTimes

WIDTH, HEIGHT = 360, 280
LEFT, RIGHT, TOP, BOTTOM = 74, 14, 44, 40


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def response_chart(
    days: list[DayTimes], title: str, unit_labels: tuple[str, str], median: str, p90: str
) -> Markup:
    """``unit_labels`` is (hours, minutes): minutes are used when every time is under an hour."""
    peak = max((d.p90_hours for d in days), default=1.0)
    scale, hours_label = (60.0, unit_labels[1]) if peak < 1 else (1.0, unit_labels[0])
    days = [DayTimes(d.day, d.count, d.median_hours * scale, d.p90_hours * scale) for d in days]
    top = _nice_max(peak * scale)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return LEFT + (i * step if len(days) > 1 else plot_w / 2)

    def y(hours: float) -> float:
        return TOP + plot_h - (hours / top) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title" class="chart" font-size="16" font-family="sans-serif">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
    ]
    for tick in range(5):
        value = top * tick / 4
        ty = y(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{ty:.1f}" x2="{WIDTH - RIGHT}" y2="{ty:.1f}" stroke="#999" '
            f'stroke-width="1"/><text x="{LEFT - 6}" y="{ty + 5:.1f}" text-anchor="end">{value:.3g}</text>'
        )
    parts.append(
        f'<text x="14" y="{TOP + plot_h / 2:.0f}" transform="rotate(-90 14 {TOP + plot_h / 2:.0f})" '
        f'text-anchor="middle">{escape(hours_label)}</text>'
    )
    label_every = max(1, math.ceil(len(days) / 5))
    for i, day in enumerate(days):
        if i % label_every == 0:
            parts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - BOTTOM + 20}" text-anchor="middle">{day.day:%m-%d}</text>'
            )
    # The p90 squares first and larger, so a median dot on the same value stays visible inside one.
    parts.append(_series(days, x, y, "p90_hours", p90, dashed=True))
    parts.append(_series(days, x, y, "median_hours", median, dashed=False))
    parts.append(_legend(median, p90))
    parts.append("</svg>")
    return Markup("".join(parts))


def _series(days: list[DayTimes], x, y, attr: str, name: str, dashed: bool) -> str:  # type: ignore[no-untyped-def]
    points = [(x(i), y(getattr(d, attr)), d) for i, d in enumerate(days)]
    dash = ' stroke-dasharray="8 5"' if dashed else ""
    out = []
    if len(points) > 1:
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="#000" stroke-width="2.5"{dash}/>')
    for px, py, day in points:
        tip = f"<title>{escape(name)} {day.day:%m-%d}: {getattr(day, attr):.1f}</title>"
        if dashed:
            out.append(
                f'<rect x="{px - 7:.1f}" y="{py - 7:.1f}" width="14" height="14" fill="#fff" '
                f'stroke="#000" stroke-width="2">{tip}</rect>'
            )
        else:
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="#000">{tip}</circle>')
    return "".join(out)


def _legend(median: str, p90: str) -> str:
    return (
        f'<g transform="translate(8,12)">'
        '<line x1="0" y1="6" x2="28" y2="6" stroke="#000" stroke-width="2.5"/>'
        '<circle cx="14" cy="6" r="5" fill="#000"/>'
        f'<text x="34" y="11">{escape(median)}</text>'
        '<line x1="150" y1="6" x2="178" y2="6" stroke="#000" stroke-width="2.5" stroke-dasharray="8 5"/>'
        '<rect x="159" y="1" width="10" height="10" fill="#fff" stroke="#000" stroke-width="2"/>'
        f'<text x="184" y="11">{escape(p90)}</text></g>'
    )
