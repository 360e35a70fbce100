"""A small, strict parser for the dates and times people type, in the company's timezone.

Accepted: `2026-12-05 18:00`, `5/12 18:00`, `5/12/2026 6pm`, `sat 18:00`, `today 9:30`,
`tomorrow 9am`, and (only where a day is already known) a bare time such as `23:00`.
Anything else is refused with a message naming the part that was not understood.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.errors import InvalidInput


class DateError(InvalidInput):
    pass


EXAMPLES = "2026-12-05 18:00, 5/12 18:00, sat 18:00 or tomorrow 9am"

_WEEKDAYS = {
    "mon": 0,
    "monday": 0,
    "tue": 1,
    "tues": 1,
    "tuesday": 1,
    "wed": 2,
    "wednesday": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "thursday": 3,
    "fri": 4,
    "friday": 4,
    "sat": 5,
    "saturday": 5,
    "sun": 6,
    "sunday": 6,
}
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?$")
_TIME = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm)?$")


def parse_time(text: str) -> time:
    """`18:00`, `18.00`, `9am`, `9:30pm`; refuses `25:00`, `18`, `noonish`."""
    cleaned = text.strip().lower()
    match = _TIME.match(cleaned)
    if not match or (match.group(2) is None and match.group(3) is None):
        raise DateError(f"I could not read the time “{text.strip()}”. Write it like 18:00 or 6pm.")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    suffix = match.group(3)
    if suffix:
        if not 1 <= hour <= 12:
            raise DateError(f"“{text.strip()}”: with am/pm the hour must be 1 to 12.")
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    if hour > 23 or minute > 59:
        raise DateError(f"“{text.strip()}” is not a time of day. Use 00:00 to 23:59.")
    return time(hour, minute)


def _parse_day(word: str, today: date) -> date:
    lower = word.lower()
    if lower == "today":
        return today
    if lower == "tomorrow":
        return today + timedelta(days=1)
    if lower in _WEEKDAYS:
        ahead = (_WEEKDAYS[lower] - today.weekday()) % 7
        return today + timedelta(days=ahead)
    try:
        if match := _ISO.match(lower):
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
        if match := _DMY.match(lower):
            day, month = int(match.group(1)), int(match.group(2))
            if match.group(3):
                year = int(match.group(3))
                return date(year + 2000 if year < 100 else year, month, day)
            found = date(today.year, month, day)
            # A day and month without a year mean the next time that date comes round.
            return found if found >= today else date(today.year + 1, month, day)
    except ValueError as exc:
        raise DateError(f"“{_shown(word)}” is not a date in the calendar.") from exc
    raise DateError(f"I could not read the date “{_shown(word)}”. Write it like {EXAMPLES}.")


def _shown(word: str) -> str:
    """A typed word quoted back in a refusal: a page of text would make the reply too long
    for Telegram."""
    return word if len(word) <= 30 else word[:29] + "…"


def parse_when(
    text: str, *, now: datetime, tz: ZoneInfo, day_of: datetime | None = None
) -> datetime:
    """An aware datetime (UTC) from what was typed.

    With `day_of` a bare time means that day (in `tz`); without it a day is required.
    A weekday name means its next occurrence (today counts if the time is still ahead).
    """
    cleaned = " ".join(text.strip().split())
    if not cleaned:
        raise DateError(f"The date and time are empty. Write them like {EXAMPLES}.")
    today = now.astimezone(tz).date()
    parts = cleaned.split(" ", 1)
    if len(parts) == 1 or _TIME.match(cleaned.lower()):
        try:
            clock_time = parse_time(cleaned)
        except DateError:
            day = _parse_day(parts[0], today)  # a date alone: say a time is missing
            raise DateError(
                f"“{cleaned}” has a date but no time. Add the time, like {day:%Y-%m-%d} 18:00."
            ) from None
        if day_of is None:
            raise DateError(f"“{cleaned}” is a time without a day. Add the day, like {EXAMPLES}.")
        return _at(day_of.astimezone(tz).date(), clock_time, tz)
    day_word, time_text = parts
    day = _parse_day(day_word, today)
    clock_time = parse_time(time_text)
    result = _at(day, clock_time, tz)
    if day_word.lower() in _WEEKDAYS and result <= now:
        result = _at(day + timedelta(days=7), clock_time, tz)
    return result


def is_time_only(text: str) -> bool:
    """Whether `text` is a time of day with no date (`02:00`, `2am`)."""
    cleaned = " ".join(text.strip().split()).lower()
    try:
        parse_time(cleaned)
    except DateError:
        return False
    return True


def _at(day: date, clock_time: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, clock_time, tzinfo=tz).astimezone(UTC)


DAY_EXAMPLES = "24/12, 24/12/2026, 2026-12-24, tomorrow or sat"


def parse_day(text: str, *, today: date) -> date:
    """A calendar day typed alone, day first: `24/12` (the next 24 December), `24/12/2026`,
    `2026-12-24`, `today`, `tomorrow`, a weekday name."""
    cleaned = " ".join(text.strip().split())
    if not cleaned:
        raise DateError(f"The date is empty. Write it like {DAY_EXAMPLES}.")
    if " " in cleaned:
        raise DateError(f"I could not read the date “{cleaned}”. Write it like {DAY_EXAMPLES}.")
    return _parse_day(cleaned, today)


def format_day(day: date, today: date) -> str:
    """'Sat 5 Dec', or 'Sat 12 Jun 2027' in another year than `today`'s."""
    year = f" {day.year}" if day.year != today.year else ""
    return f"{day:%a} {day.day} {day:%b}{year}"


def format_days(first: date, last: date, today: date) -> str:
    """A span of whole days, said short: 'Sat 5 Dec', '24–26 Dec', '30 Nov – 2 Dec',
    '30 Dec 2026 – 2 Jan 2027' (the year only when one of them is not `today`'s)."""
    if first == last:
        return format_day(first, today)
    with_year = first.year != today.year or last.year != today.year
    if first.year == last.year and first.month == last.month:
        year = f" {last.year}" if with_year else ""
        return f"{first.day}–{last.day} {last:%b}{year}"
    if first.year == last.year and not with_year:
        return f"{first.day} {first:%b} – {last.day} {last:%b}"
    return f"{first.day} {first:%b} {first.year} – {last.day} {last:%b} {last.year}"
