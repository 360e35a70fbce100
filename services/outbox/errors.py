"""What a sender raises (the dispatcher decides from its class what happens next), and the
outbox's refusals to a manager.

    DeliveryError
     ├── RetryLater        the service asked us to wait (Telegram 429): not an attempt
     ├── Transient         timeouts, 5xx, a mail server down: retried with backoff
     ├── Permanent         never deliverable as it is
     │    └── ChatUnreachable   Telegram 403: blocked, or never started
     ├── OutcomeUnknown    may have arrived: sent again at most once
     └── MessageGone       the live message to edit is gone: send a new one

    OutboxError (CallsheetError)
     └── NothingToResend (Conflict)
"""

from __future__ import annotations

from services.errors import CallsheetError, Conflict


class DeliveryError(Exception):
    """Raised by senders; the dispatcher decides from its class what happens next."""


class RetryLater(DeliveryError):
    """The service asked us to wait (Telegram 429): not a failure, not counted as an attempt."""

    def __init__(self, seconds: float, reason: str) -> None:
        super().__init__(reason)
        self.seconds = seconds


class Transient(DeliveryError):
    """Timeouts, 5xx, a mail server that is down: try again with backoff."""


class Permanent(DeliveryError):
    """The message can never be delivered as it is (bad request, refused address)."""


class ChatUnreachable(Permanent):
    """Telegram answered 403: the person blocked the bot or never started it."""


class OutcomeUnknown(DeliveryError):
    """The message may have been delivered (a timeout after it was sent, an answer we could
    not read): sent again at most once more, so a person gets at most one duplicate."""


class MessageGone(DeliveryError):
    """The live message to edit no longer exists: send a new one instead."""


class OutboxError(CallsheetError):
    pass


class NothingToResend(OutboxError, Conflict):
    pass
