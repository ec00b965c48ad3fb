"""Reporting periods of PerformanceMetrics: [start, end) in UTC, identified by their start date."""

from __future__ import annotations

import datetime as dt

from cradlepose.domain.enums import PeriodType


def bounds(period: PeriodType, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The period of type `period` that contains `day` (weeks start on Monday)."""
    if period is PeriodType.DAILY:
        start = day
        end = day + dt.timedelta(days=1)
    elif period is PeriodType.WEEKLY:
        start = day - dt.timedelta(days=day.weekday())
        end = start + dt.timedelta(days=7)
    elif period is PeriodType.MONTHLY:
        start = day.replace(day=1)
        end = (start + dt.timedelta(days=32)).replace(day=1)
    else:
        first_month = 3 * ((day.month - 1) // 3) + 1
        start = day.replace(month=first_month, day=1)
        end_month = first_month + 3
        end = (
            start.replace(year=start.year + 1, month=1) if end_month > 12 else start.replace(month=end_month)
        )
    return _midnight(start), _midnight(end)


def previous(period: PeriodType, start: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return bounds(period, (start - dt.timedelta(days=1)).date())


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
