from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from jiesu.routing.geo import contains
from jiesu.sla.calendar import BusinessCalendar

FRIDAY_4PM_BEIJING = datetime(2026, 11, 6, 8, 0, tzinfo=UTC)


def test_natural_clock_ignores_the_calendar() -> None:
    calendar = BusinessCalendar(clocks=["resolution"])
    assert calendar.add(
        "response", FRIDAY_4PM_BEIJING, timedelta(hours=24)
    ) == FRIDAY_4PM_BEIJING + timedelta(hours=24)


def test_weekend_does_not_count_on_a_calendar_clock() -> None:
    calendar = BusinessCalendar(clocks=["response"])
    # 8 h left on Friday, Saturday and Sunday skipped, 16 h on Monday.
    due = calendar.add("response", FRIDAY_4PM_BEIJING, timedelta(hours=24))
    assert due == datetime(2026, 11, 9, 8, 0, tzinfo=UTC)


def test_holiday_and_worked_weekend_day() -> None:
    calendar = BusinessCalendar(
        clocks=["resolution"], holidays=[date(2026, 11, 9)], extra_workdays=[date(2026, 11, 8)]
    )
    due = calendar.add("resolution", FRIDAY_4PM_BEIJING, timedelta(hours=24))
    assert due == datetime(2026, 11, 8, 8, 0, tzinfo=UTC)  # Sunday the 8th is worked


def test_point_in_polygon() -> None:
    square = [[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]]
    assert contains(square, 1.0, 1.0)
    assert not contains(square, 3.0, 1.0)
    concave = [[0, 0], [4, 0], [4, 4], [2, 1], [0, 4]]
    assert not contains(concave, 2.0, 3.0)
    assert contains(concave, 1.0, 1.0)
