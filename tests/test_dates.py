"""The date parser: the forms people type, and exactly what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.clock import format_span, format_when
from services.dates import DateError, is_time_only, parse_time, parse_when

TZ = ZoneInfo("Africa/Nairobi")
NOW = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Mon 23 Nov, 10:00 in Nairobi


def shown(text: str, **kw: object) -> str:
    # Without a clock the year is never shown: these cases are about what was understood.
    return format_when(parse_when(text, now=NOW, tz=TZ, **kw), TZ, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("2026-12-05 18:00", "Sat 5 Dec, 18:00"),
        ("5/12 18:00", "Sat 5 Dec, 18:00"),
        ("5/12/2026 6pm", "Sat 5 Dec, 18:00"),
        ("sat 18:00", "Sat 28 Nov, 18:00"),
        ("Saturday 6:30pm", "Sat 28 Nov, 18:30"),
        ("tomorrow 9am", "Tue 24 Nov, 09:00"),
        ("today 18.30", "Mon 23 Nov, 18:30"),
        ("mon 9:00", "Mon 30 Nov, 09:00"),  # today's 09:00 has passed: next Monday
        ("1/1 12am", "Fri 1 Jan, 00:00"),  # past in this year: next year
    ],
)
def test_accepted_forms(typed: str, expected: str) -> None:
    assert shown(typed) == expected


def test_a_bare_time_means_the_given_day() -> None:
    start = parse_when("2026-12-05 18:00", now=NOW, tz=TZ)
    assert shown("23:00", day_of=start) == "Sat 5 Dec, 23:00"


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("23:00", "a time without a day"),
        ("2026-12-05", "has a date but no time"),
        ("next week 18:00", "I could not read the date “next”"),
        ("sat 25:00", "is not a time of day"),
        ("sat 18", "I could not read the time “18”"),
        ("31/2 18:00", "“31/2” is not a date in the calendar"),
        ("sat 13pm", "with am/pm the hour must be 1 to 12"),
        ("", "empty"),
    ],
)
def test_refusals_say_what_was_not_understood(typed: str, says: str) -> None:
    with pytest.raises(DateError) as caught:
        parse_when(typed, now=NOW, tz=TZ)
    assert says in str(caught.value)


def test_parse_time() -> None:
    assert parse_time("9:05pm").isoformat() == "21:05:00"


def test_the_year_is_shown_only_when_it_is_not_this_year_in_the_company_timezone() -> None:
    june = parse_when("12/6 18:00", now=NOW, tz=TZ)
    assert format_when(june, TZ, NOW) == "Sat 12 Jun 2027, 18:00"
    assert format_when(parse_when("5/12 18:00", now=NOW, tz=TZ), TZ, NOW) == "Sat 5 Dec, 18:00"
    # 31 Dec 21:30 UTC is already 1 Jan in Nairobi: "this year" is the company's year.
    new_year_eve = datetime(2026, 12, 31, 21, 30, tzinfo=UTC)
    assert format_when(new_year_eve, TZ, new_year_eve) == "Fri 1 Jan, 00:30"
    assert format_when(NOW, TZ, new_year_eve) == "Mon 23 Nov 2026, 10:00"


def test_a_span_says_the_date_once_unless_it_changes() -> None:
    starts = parse_when("5/12 18:00", now=NOW, tz=TZ)
    same_day = parse_when("23:00", now=NOW, tz=TZ, day_of=starts)
    next_day = parse_when("6/12 02:00", now=NOW, tz=TZ)
    assert format_span(starts, same_day, TZ, NOW) == "Sat 5 Dec, 18:00 to 23:00"
    assert format_span(starts, next_day, TZ, NOW) == "Sat 5 Dec, 18:00 to Sun 6 Dec, 02:00"


@pytest.mark.parametrize(
    ("typed", "alone"), [("02:00", True), ("2am", True), ("6/12 02:00", False), ("sat", False)]
)
def test_a_time_alone_is_told_apart_from_a_date(typed: str, alone: bool) -> None:
    assert is_time_only(typed) is alone
