"""What a payment request can be refused for.

PaymentError
 ├── UnknownPerson      (NotFound)
 ├── PaymentNotFound    (NotFound)
 ├── InvalidPurpose     (InvalidInput)
 ├── NothingToCheck     (Conflict)
 ├── TooSoon            (Conflict)
 └── RepeatRequest      (Conflict)  the same phone and amount moments ago
"""

from __future__ import annotations

from models import Payment
from services.errors import CallsheetError, Conflict, InvalidInput, NotFound
from services.money import format_kes
from services.phones import display_phone


class PaymentError(CallsheetError):
    pass


class UnknownPerson(PaymentError, NotFound):
    pass


class InvalidPurpose(PaymentError, InvalidInput):
    pass


class PaymentNotFound(PaymentError, NotFound):
    pass


class NothingToCheck(PaymentError, Conflict):
    pass


class TooSoon(PaymentError, Conflict):
    pass


class RepeatRequest(PaymentError, Conflict):
    """The same phone and amount were asked for moments ago: the manager must confirm."""

    def __init__(self, previous: Payment, seconds_ago: int) -> None:
        self.previous = previous
        self.seconds_ago = seconds_ago
        super().__init__(
            f"You asked {display_phone(previous.phone)} for {format_kes(previous.amount)} "
            f"{_ago(seconds_ago)} (now {previous.status.value}). Send again?"
        )


def _ago(seconds: int) -> str:
    return "just now" if seconds < 10 else f"{seconds} seconds ago"
