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


def format_when(when: datetime, tz: ZoneInfo, now: datetime | None) -> str:
    """'Sat 5 Dec, 18:00' in the company's timezone; 'Sat 12 Jun 2027, 18:00' when the date
    is not in the year of `now` (the injected clock's time; None only where no clock is known,
    as in a template rendered without one)."""
    local = when.astimezone(tz)
    year = ""
    if now is not None and local.year != now.astimezone(tz).year:
        year = f" {local.year}"
    return f"{local:%a} {local.day} {local:%b}{year}, {local:%H:%M}"


def format_span(starts: datetime, ends: datetime, tz: ZoneInfo, now: datetime | None = None) -> str:
    """'Sat 5 Dec, 18:00 to 23:00' on one day; 'Sat 5 Dec, 18:00 to Sun 6 Dec, 02:00' across
    midnight: the date is said once unless it changes."""
    first = format_when(starts, tz, now)
    if starts.astimezone(tz).date() == ends.astimezone(tz).date():
        return f"{first} to {ends.astimezone(tz):%H:%M}"
    return f"{first} to {format_when(ends, tz, now)}"
