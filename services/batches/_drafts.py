"""What an event's payment request is made of before anything is saved: the crew who can be
asked (and why others cannot), the amount and purpose as typed, and the refusals."""

from __future__ import annotations

from dataclasses import dataclass

from models import AssignmentStatus, Event, Person
from services.errors import CallsheetError, Conflict, InvalidInput
from services.money import parse_amount
from services.payments import clean_purpose
from services.phones import PhoneError, msisdn

PAYABLE = (AssignmentStatus.CONFIRMED, AssignmentStatus.COMPLETED)


class BatchError(CallsheetError):
    pass


class NobodyToAsk(BatchError, Conflict):
    pass


class InvalidDetails(BatchError, InvalidInput):
    pass


@dataclass(frozen=True)
class Candidate:
    """A confirmed crew member, and why they cannot be asked (None: they can)."""

    person: Person
    role: str
    problem: str | None = None


@dataclass(frozen=True)
class Details:
    amount: int
    purpose: str
    reference: str  # the purpose as the payer's prompt shows it (≤ 12 characters)
    description: str  # ≤ 13 characters


@dataclass(frozen=True)
class BatchDraft:
    """Checked and ready to send; nothing is saved until `start`."""

    event: Event
    people: list[Candidate]
    details: Details
    warnings: list[str]  # people who will be skipped, and why


def parse_details(text: str) -> Details | int:
    """`1500 | Setup fee` → Details; a bare amount → the amount (the purpose comes next).

    Raises the amount's or the purpose's own error, saying what is expected."""
    amount_text, bar, purpose_text = text.partition("|")
    if not bar:
        if not text.strip():
            raise InvalidDetails("Send the amount and what it is for, like 1500 | Setup fee.")
        return parse_amount(text)
    return details(parse_amount(amount_text), purpose_text)


def details(amount: int, purpose_text: str) -> Details:
    purpose, reference, description = clean_purpose(purpose_text)
    return Details(amount, purpose, reference, description)


def ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return "moments ago" if seconds < 10 else f"{seconds} seconds ago"
    minutes = seconds // 60
    return f"{minutes} min ago"


def problem(person: Person) -> str | None:
    """Why this person cannot get an M-Pesa prompt; None when they can."""
    if not person.active:
        return "deactivated"
    try:
        msisdn(person.phone)
    except PhoneError:
        return f"{person.phone} cannot get an M-Pesa prompt"
    return None
