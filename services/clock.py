"""Time: stored as aware UTC, shown and parsed in the company's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock the tests and the demo move by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)


class ShiftedClock:
    """Real time plus a shift that only grows: the demo jumps ahead to the next reminder,
    while retries and backoffs still see time pass."""

    def __init__(self) -> None:
        self._shift = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._shift

    def advance(self, delta: timedelta) -> None:
        self._shift += delta


def format_when(when: datetime, tz: ZoneInfo) -> str:
    """'Sat 5 Dec, 18:00' in the company's timezone."""
    local = when.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"
