"""How a deposit is split and when each instalment falls due: pure functions, no app."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.checkout import parse_deposit
from services.checkout._plan import due_dates, split
from services.errors import InvalidInput

NAIROBI = ZoneInfo("Africa/Nairobi")


@pytest.mark.parametrize(
    ("total", "count", "parts"),
    [
        (60000, 1, [60000]),
        (100000, 3, [33334, 33333, 33333]),
        (10, 4, [4, 2, 2, 2]),
        (3, 3, [1, 1, 1]),
    ],
)
def test_a_deposit_splits_into_whole_shillings_with_the_remainder_first(
    total: int, count: int, parts: list[int]
) -> None:
    assert split(total, count) == parts and sum(parts) == total


def test_each_later_instalment_falls_on_the_same_day_of_later_months_at_ten() -> None:
    made = datetime(2027, 1, 31, 6, 30, tzinfo=UTC)  # 09:30 in Nairobi, the 31st
    dates = [d.astimezone(NAIROBI) for d in due_dates(made, 4, NAIROBI)]
    assert dates[0] == made
    # February has no 31st: its last day. Then the 31st again where the month has one.
    assert [(d.month, d.day, d.hour) for d in dates[1:]] == [(2, 28, 10), (3, 31, 10), (4, 30, 10)]


def test_the_schedule_crosses_the_year() -> None:
    made = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    dates = [d.astimezone(NAIROBI) for d in due_dates(made, 3, NAIROBI)]
    assert [(d.year, d.month, d.day) for d in dates] == [
        (2026, 11, 23),
        (2026, 12, 23),
        (2027, 1, 23),
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("1 | Tamu | 0712345678", "Send /deposit <event number>"),
        ("1 | Tamu | 0712345678 | 100 | 0", "“0” is not a number of instalments"),
        ("1 | Tamu | 0712345678 | 100 | ３", "“３” is not a number of instalments"),
        ("1 | Tamu | 0712345678 | 3,000,001 | 12", "is too large"),
        ("1 | " + "x" * 101 + " | 0712345678 | 100", "keep it under 100"),
    ],
)
def test_a_bad_line_says_what_is_expected(text: str, said: str) -> None:
    with pytest.raises(InvalidInput) as error:  # BadDeposit, or the amount's own error
        parse_deposit(text)
    assert said in str(error.value)
