"""Row ids that people type or that button data carries: only numbers a row can have."""

from __future__ import annotations

# Primary keys are PostgreSQL `integer`; a larger number makes the query itself fail
# (DataError there, OverflowError on SQLite) instead of finding nothing.
MAX_ID = 2**31 - 1


def parse_id(text: str) -> int | None:
    """`12` or `#12` as an id; None for anything else, including numbers no row can have."""
    digits = text.strip().removeprefix("#")
    # isascii: str.isdigit() also accepts "²", which int() refuses.
    if not digits.isascii() or not digits.isdigit() or len(digits) > 10:
        return None
    value = int(digits)
    return value if 0 < value <= MAX_ID else None
