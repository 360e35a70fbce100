"""Amounts of money as typed in chat: whole Kenya shillings, as `int`."""

from __future__ import annotations

import re

from services.errors import InvalidInput

MIN_AMOUNT = 1
MAX_AMOUNT = 250_000  # M-Pesa's limit per transaction


class AmountError(InvalidInput, ValueError):
    """An amount we cannot request; the message is written for the person who typed it."""


class AmountNotANumber(AmountError):
    pass


class AmountHasCents(AmountError):
    pass


class AmountOutOfRange(AmountError):
    pass


_EXAMPLE = "Use whole shillings, like 1500 or KES 1,500."
_CURRENCY = r"(?:kes|kshs?|shs?)\.?"
_AMOUNT = re.compile(
    rf"(?P<sign>[-−]?)\s*(?:{_CURRENCY})?\s*(?P<sign2>[-−]?)"
    r"(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<cents>[0-9]+))?"
    rf"\s*(?:/[=-]|{_CURRENCY})?",
    re.IGNORECASE,
)


def parse_amount(text: str, maximum: int = MAX_AMOUNT) -> int:
    """Parse "1500", "1,500", "KES 1,500", "Ksh1500", "1500.00" into whole shillings, from
    KES 1 to `maximum` (M-Pesa's limit unless the money comes another way)."""
    stripped = text.strip()
    shown = stripped if len(stripped) <= 30 else stripped[:29] + "…"
    match = _AMOUNT.fullmatch(stripped)
    if match is None:
        raise AmountNotANumber(f"“{shown}” is not an amount. {_EXAMPLE}")
    if match["cents"] is not None and match["cents"].strip("0"):
        raise AmountHasCents(f"“{shown}” has cents; amounts are in whole shillings.")
    digits = match["whole"].replace(",", "").lstrip("0")
    negative = bool(match["sign"] or match["sign2"])
    limits = f"An amount must be between KES {MIN_AMOUNT:,} and {format_kes(maximum)}."
    if negative or not digits:
        raise AmountOutOfRange(f"“{shown}” is not a positive amount. {limits}")
    # Compare lengths before int(): a thousand-digit string is too much either way.
    if len(digits) > len(str(maximum)) or int(digits) > maximum:
        raise AmountOutOfRange(f"“{shown}” is too large. {limits}")
    return int(digits)


def format_kes(amount: int) -> str:
    return f"KES {amount:,}"


def format_cents(cents: int) -> str:
    """'KES 1,500' for whole shillings, 'KES 22.40' otherwise (statement fees)."""
    sign = "−" if cents < 0 else ""
    shillings, rest = divmod(abs(int(cents)), 100)
    return f"{sign}KES {shillings:,}" + (f".{rest:02d}" if rest else "")
