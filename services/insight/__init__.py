"""Insight across the company, read only: the month in numbers with its chart (`/stats`,
`_stats.py`, drawn by `_chart.py`), and who did what and when (`/activity`, `_activity.py`,
its lines worded by `_describe.py`)."""

from services.insight._activity import (
    PAGE_SIZE,
    USAGE,
    Activity,
    ActivityError,
    ActivityLine,
    ActivityView,
    InvalidActivity,
    UnknownSubject,
)
from services.insight._chart import draw_chart
from services.insight._stats import (
    LATE_WINDOW,
    MONTHS_CHARTED,
    LateDropout,
    MonthStats,
    Stats,
    StatsReport,
)

__all__ = [
    "LATE_WINDOW",
    "MONTHS_CHARTED",
    "PAGE_SIZE",
    "USAGE",
    "Activity",
    "ActivityError",
    "ActivityLine",
    "ActivityView",
    "InvalidActivity",
    "LateDropout",
    "MonthStats",
    "Stats",
    "StatsReport",
    "UnknownSubject",
    "draw_chart",
]
