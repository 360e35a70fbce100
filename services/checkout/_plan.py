"""Reading `/deposit <event id> | <client name> | <phone> | <amount> [| <instalments>]`, and
splitting a deposit into monthly instalments."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from services.checkout._errors import BadDeposit
from services.ids import parse_id
from services.money import MAX_AMOUNT, format_kes, parse_amount
from services.phones import normalise_phone

USAGE = (
    "Send /deposit <event number> | <client name> | <phone> | <amount>, like "
    "/deposit 12 | Tamu Weddings | 0712 345 678 | 60000. Add | 3 to split it into 3 monthly "
    "instalments."
)
CLIENT_MAX = 100
MAX_INSTALMENTS = 12
DUE_HOUR = time(10, 0)  # later instalments are pushed at 10:00 on their date, company time
TOTAL_MAX = MAX_AMOUNT * MAX_INSTALMENTS


@dataclass(frozen=True)
class DepositAsk:
    event_id: int
    client_name: str
    phone: str  # E.164
    total: int
    instalments: int


def parse_event(text: str) -> int:
    event_id = parse_id(text)
    if event_id is None:
        shown = " ".join(text.split())[:20]
        what = f"“{shown}” is not an event number." if shown else "Say which event."
        raise BadDeposit(f"{what} Send the number from /events, like 12.")
    return event_id


def clean_client(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise BadDeposit("Say who the client is, like “Tamu Weddings” or “Wanjiru Kamau”.")
    if len(name) > CLIENT_MAX:
        raise BadDeposit(f"The client's name is {len(name)} characters; keep it under 100.")
    return name


def parse_total(text: str) -> int:
    return parse_amount(text, TOTAL_MAX)


def parse_count(text: str) -> int:
    shown = " ".join(text.split())[:20]
    if not shown:
        return 1
    if not shown.isascii() or not shown.isdigit() or not 1 <= int(shown) <= MAX_INSTALMENTS:
        raise BadDeposit(
            f"“{shown}” is not a number of instalments: send 1 to {MAX_INSTALMENTS} "
            "(one a month), or leave it out to be paid at once."
        )
    return int(shown)


def split(total: int, count: int) -> list[int]:
    """Whole shillings, the remainder on the first: 100,000 in 3 is 33,334 + 33,333 + 33,333."""
    if total < count:
        raise BadDeposit(f"{format_kes(total)} cannot be split into {count} instalments.")
    share, rest = divmod(total, count)
    parts = [share + rest] + [share] * (count - 1)
    if parts[0] > MAX_AMOUNT:
        raise BadDeposit(
            f"Each M-Pesa payment is at most {format_kes(MAX_AMOUNT)}: split "
            f"{format_kes(total)} into more instalments (up to {MAX_INSTALMENTS})."
        )
    return parts


def parse_deposit(text: str) -> DepositAsk:
    parts = [p.strip() for p in text.split("|")]
    if len(parts) == 4:
        parts.append("")
    if len(parts) != 5:
        raise BadDeposit(USAGE)
    total = parse_total(parts[3])
    count = parse_count(parts[4])
    split(total, count)
    return DepositAsk(
        parse_event(parts[0]), clean_client(parts[1]), normalise_phone(parts[2]), total, count
    )


def _months_later(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def due_dates(now: datetime, count: int, tz: ZoneInfo) -> list[datetime]:
    """The first instalment is due now (the link is its ask); each next one a month later,
    the same day of the month (or the month's last), at 10:00 company time."""
    today = now.astimezone(tz).date()
    dates = [now]
    for n in range(1, count):
        local = datetime.combine(_months_later(today, n), DUE_HOUR, tzinfo=tz)
        dates.append(local.astimezone(now.tzinfo))
    return dates


def link_expiry(last_due: datetime, days: int) -> datetime:
    return last_due + timedelta(days=days)
