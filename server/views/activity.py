"""`activity_view` (`status --json`'s `activity`, the dashboard's live overview): requests per minute over the
last hour, and the newest decision."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field

from providers.types import Frozen
from server.wiring import App
from storage.analytics import Analytics

WINDOW_MINUTES = 60


class ActivityView(Frozen):
    generated_at: datetime
    #: requests (non dry-run decisions) in each of the last 60 minutes, oldest first; the last is the current minute
    per_minute: list[int] = Field(default_factory=list)
    last_minute: int
    last_hour: int
    last_decision_id: int
    last_decision_at: datetime | None = None


async def activity_view(app: App) -> ActivityView:
    """Requests per minute over the last hour, and the newest decision's id and time."""
    now = app.clock()
    end = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    start = end - timedelta(minutes=WINDOW_MINUTES)
    analytics = Analytics(app.store)
    times = await analytics.decision_times(start, end)
    counts = [0] * WINDOW_MINUTES
    for instant in times:
        counts[min(WINDOW_MINUTES - 1, int((instant - start) // timedelta(minutes=1)))] += 1
    mark = await analytics.watermark()
    return ActivityView(
        generated_at=now,
        per_minute=counts,
        last_minute=counts[-1],
        last_hour=sum(counts),
        last_decision_id=mark.decision_id,
        last_decision_at=times[-1] if times else None,
    )
