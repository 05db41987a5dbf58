"""The periods the reports cover (`--period day|week|month`), as [since, until) in the configured time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from providers.calendar import local_date, local_midnight
from server.wiring import App
from storage.windows import day_window, month_window

ReportPeriod = Literal["day", "week", "month"]
REPORT_PERIODS: tuple[ReportPeriod, ...] = ("day", "week", "month")


def period_bounds(app: App, period: ReportPeriod) -> tuple[datetime, datetime]:
    """[since, until) of `period` ending now: today, the last 7 days (today included) or this month."""
    now = app.clock()
    tz = app.config.settings.timezone
    until = now + timedelta(seconds=1)
    if period == "day":
        return day_window(now, tz).start, until
    if period == "month":
        return month_window(now, tz).start, until
    return local_midnight(local_date(now, tz) - timedelta(days=6), tz), until


def local_day(instant: datetime, app: App) -> str:
    """The calendar day (YYYY-MM-DD) of `instant` in the configured time zone."""
    return local_date(instant, app.config.settings.timezone).isoformat()
