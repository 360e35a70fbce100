"""Buttons on payment requests, payment messages and an event's payment request (`pay:`)."""

from __future__ import annotations

from dataclasses import dataclass

from services.buttons._base import CallbackData

AREA = "pay"


# --- on a payment's messages (services) -----------------------------------------------------


@dataclass(frozen=True)
class CheckStatus(CallbackData, prefix=AREA, action="check"):
    payment_id: int


@dataclass(frozen=True)
class ResendPayment(CallbackData, prefix=AREA, action="resend"):
    payment_id: int


# --- /request, the one-person form ----------------------------------------------------------


@dataclass(frozen=True)
class CancelRequest(CallbackData, prefix=AREA, action="cancel"):
    unused: int = 0  # old messages carry "pay:cancel:0"


@dataclass(frozen=True)
class SendAgain(CallbackData, prefix=AREA, action="again"):
    """Send a request that repeats one made minutes ago: the draft is kept under `token`."""

    token: str


@dataclass(frozen=True)
class DontSend(CallbackData, prefix=AREA, action="drop"):
    token: str


# --- an event's payment request (a batch) ---------------------------------------------------


@dataclass(frozen=True)
class RequestForEvent(CallbackData, prefix=AREA, action="event"):
    event_id: int


@dataclass(frozen=True)
class TogglePerson(CallbackData, prefix=AREA, action="tog"):
    person_id: int


@dataclass(frozen=True)
class PickDone(CallbackData, prefix=AREA, action="done"):
    unused: int = 0


@dataclass(frozen=True)
class SendBatch(CallbackData, prefix=AREA, action="bsend"):
    unused: int = 0


@dataclass(frozen=True)
class StopBatch(CallbackData, prefix=AREA, action="bstop"):
    unused: int = 0


@dataclass(frozen=True)
class ResendFailed(CallbackData, prefix=AREA, action="bresend"):
    batch_id: int


@dataclass(frozen=True)
class SendAnyway(CallbackData, prefix=AREA, action="banyway"):
    batch_id: int
