"""Insight in the chat: /stats (the month in numbers, and its chart as a photo) and
/activity (who did what and when, paged). One registration per module."""

from __future__ import annotations

from bot.context import CallsheetApplication
from handlers.insight import activity, stats

__all__ = ["register"]


def register(application: CallsheetApplication) -> None:
    stats.register(application)
    activity.register(application)
