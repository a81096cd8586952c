"""Relative periods of reports and dashboards: ``this_quarter``, ``last_90_days``, ``next_month``...

A period is a range of days: ``bounds`` gives its first day and the day after its last, as of a
given day (the reader's today). Weeks start on Monday; quarters are calendar quarters.
"""

from __future__ import annotations

import datetime as dt
import re

from core.dates import add_days

UNITS = ("week", "month", "quarter", "year")
RANGE_PATTERN = r"all_time|today|yesterday|(this|last|next)_(week|month|quarter|year)|(last|next)_[1-9][0-9]{0,3}_days"


def valid(text: str) -> bool:
    return re.fullmatch(RANGE_PATTERN, text or "") is not None


def bounds(text: str, today: dt.date) -> tuple[dt.date, dt.date] | None:
    """The first day of the period and the day after its last; None for all_time."""
    if text == "all_time":
        return None
    if text == "today":
        return today, add_days(today, 1)
    if text == "yesterday":
        return add_days(today, -1), today
    days = re.fullmatch(r"(last|next)_(\d+)_days", text)
    if days:
        count = int(days.group(2))
        return (add_days(today, -count + 1), add_days(today, 1)) if days.group(1) == "last" else (today, add_days(today, count))
    when, unit = text.split("_")
    start = _start(unit, today)
    if when == "last":
        start = _shift(unit, start, -1)
    elif when == "next":
        start = _shift(unit, start, 1)
    return start, _shift(unit, start, 1)


def _start(unit: str, day: dt.date) -> dt.date:
    if unit == "week":
        return day - dt.timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    return day.replace(month=1, day=1)


def _shift(unit: str, start: dt.date, steps: int) -> dt.date:
    if unit == "week":
        return add_days(start, 7 * steps)
    months = {"month": 1, "quarter": 3, "year": 12}[unit] * steps
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        return dt.date.max if steps > 0 else dt.date.min
    return dt.date(year, month + 1, 1)
