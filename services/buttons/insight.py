"""Buttons on an /activity page (`act:`): ‹ Prev and Next ›."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.buttons._base import CallbackData

AREA = "act"


class Scope(StrEnum):
    ALL = "all"
    DAY = "day"  # ref: the day's date.toordinal(), so a page pressed tomorrow shows that day
    PERSON = "person"  # ref: the person's id
    EVENT = "event"  # ref: the event's id


@dataclass(frozen=True)
class ActivityPage(CallbackData, prefix=AREA, action="page"):
    scope: Scope
    ref: int
    upto: int  # the newest audit row of the first page: later rows do not shift the pages
    page: int
