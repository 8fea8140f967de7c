from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from jiesu.config import PROJECT_ROOT
from jiesu.routing.geo import contains
from jiesu.sla.calendar import BusinessCalendar, load_sla_config

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


def _days(first: date, last: date) -> set[date]:
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


# 国务院办公厅关于2026年部分节假日安排的通知 (State Council notice of 4 Nov 2025, published by Xinhua).
STATE_COUNCIL_2026_DAYS_OFF = (
    _days(date(2026, 1, 1), date(2026, 1, 3))  # New Year
    | _days(date(2026, 2, 15), date(2026, 2, 23))  # Spring Festival, 9 days
    | _days(date(2026, 4, 4), date(2026, 4, 6))  # Qingming
    | _days(date(2026, 5, 1), date(2026, 5, 5))  # Labour Day
    | _days(date(2026, 6, 19), date(2026, 6, 21))  # Dragon Boat
    | _days(date(2026, 9, 25), date(2026, 9, 27))  # Mid-Autumn
    | _days(date(2026, 10, 1), date(2026, 10, 7))  # National Day
)
STATE_COUNCIL_2026_WORKED_WEEKEND_DAYS = {
    date(2026, 1, 4),  # Sunday
    date(2026, 2, 14),  # Saturday
    date(2026, 2, 28),  # Saturday
    date(2026, 5, 9),  # Saturday
    date(2026, 9, 20),  # Sunday
    date(2026, 10, 10),  # Saturday
}


def shipped_calendar() -> BusinessCalendar:
    """workflows/sla.yaml's calendar, switched on for the resolution and response clocks."""
    calendar = load_sla_config(PROJECT_ROOT / "workflows" / "sla.yaml").calendar
    return calendar.model_copy(update={"clocks": ["response", "resolution"]})


def test_shipped_2026_calendar_is_the_state_councils() -> None:
    calendar = shipped_calendar()
    days_2026 = _days(date(2026, 1, 1), date(2026, 12, 31))
    assert {d for d in calendar.holidays if d.year == 2026} == STATE_COUNCIL_2026_DAYS_OFF
    assert {d for d in calendar.extra_workdays if d.year == 2026} == STATE_COUNCIL_2026_WORKED_WEEKEND_DAYS
    assert all(d.weekday() >= 5 for d in STATE_COUNCIL_2026_WORKED_WEEKEND_DAYS)
    working = [d for d in days_2026 if calendar.is_working_day(d)]
    # 365 days - 104 Saturdays and Sundays - 19 holidays on weekdays + 6 worked weekend days.
    assert len(working) == 248


def test_spring_festival_is_skipped_and_its_make_up_saturdays_count() -> None:
    friday_10am_beijing = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)
    due = shipped_calendar().add("resolution", friday_10am_beijing, timedelta(days=7))
    # 13 Feb 14 h, Sat 14 Feb (worked) 24 h, 15-23 Feb off, 24-27 Feb 96 h, Sat 28 Feb (worked) 24 h,
    # Sunday 1 Mar off, then the last 10 h on Monday 2 Mar: 10:00 in Beijing.
    assert due == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def test_national_day_make_up_sunday_counts_and_the_holiday_does_not() -> None:
    calendar = shipped_calendar()
    friday_4pm_beijing = datetime(2026, 9, 18, 8, 0, tzinfo=UTC)
    # 8 h on Friday 18 Sep, Saturday off, the last 16 h on Sunday 20 Sep, a worked day.
    assert calendar.add("response", friday_4pm_beijing, timedelta(hours=24)) == datetime(
        2026, 9, 20, 8, 0, tzinfo=UTC
    )
    wednesday_4pm_beijing = datetime(2026, 9, 30, 8, 0, tzinfo=UTC)
    # 8 h on 30 Sep, 1-7 Oct off, the last 16 h on Thursday 8 Oct.
    assert calendar.add("response", wednesday_4pm_beijing, timedelta(hours=24)) == datetime(
        2026, 10, 8, 8, 0, tzinfo=UTC
    )


def test_point_in_polygon() -> None:
    square = [[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 2.0]]
    assert contains(square, 1.0, 1.0)
    assert not contains(square, 3.0, 1.0)
    concave = [[0, 0], [4, 0], [4, 4], [2, 1], [0, 4]]
    assert not contains(concave, 2.0, 3.0)
    assert contains(concave, 1.0, 1.0)
