"""Date arithmetic that stays on the calendar, for plugins and core alike.

Python raises OverflowError when a date or time is moved past year 1 or 9999; a number a
user typed (an SLA's hours, a segment's recency in days, a reminder window) must never
turn into that error. These shift a date or a time and stop at the calendar's first or
last day: "bought in the last 10^9 days" starts at the beginning of the calendar, which is
what it means.
"""

from __future__ import annotations

import datetime as dt

UTC = dt.timezone.utc
FIRST_MOMENT = dt.datetime.min.replace(tzinfo=UTC)
LAST_MOMENT = dt.datetime.max.replace(tzinfo=UTC)


def add_days(day: dt.date, days: float) -> dt.date:
    """``day`` moved by ``days`` (negative: back), at most to the calendar's first or last day."""
    try:
        return day + dt.timedelta(days=days)
    except OverflowError:
        return dt.date.max if days > 0 else dt.date.min


def add_hours(moment: dt.datetime, hours: float) -> dt.datetime:
    """An aware ``moment`` moved by ``hours``, at most to the calendar's first or last instant."""
    try:
        return moment + dt.timedelta(hours=hours)
    except OverflowError:
        return (LAST_MOMENT if hours > 0 else FIRST_MOMENT).astimezone(moment.tzinfo)
