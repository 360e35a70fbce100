"""Every state the domain knows, as enums stored by name (CharEnumField)."""

from enum import StrEnum


class Access(StrEnum):
    MANAGER = "manager"
    CREW = "crew"


class EventStatus(StrEnum):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class AssignmentStatus(StrEnum):
    INVITED = "invited"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    COMPLETED = "completed"  # the event was completed with this person confirmed
    CANCELLED = "cancelled"  # event cancelled or person removed from it


class PaymentStatus(StrEnum):
    INITIATED = "initiated"  # row written, STK push not yet answered
    PENDING = "pending"  # Daraja accepted; waiting for the payer's PIN
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the payer dismissed the prompt (1032)
    TIMEOUT = "timeout"  # no answer from the payer's phone (1037, 1019)
    UNKNOWN = "unknown"  # the push may have reached Daraja but its fate cannot be learned


class BatchMemberStatus(StrEnum):
    """One person in an event's payment request (a PaymentBatch)."""

    QUEUED = "queued"  # to be asked: the batch sender has not written their payment yet
    ASKED = "asked"  # their payment is written (and pushed, or being pushed)
    SKIPPED = "skipped"  # not asked (same phone and amount asked moments ago, …): see reason


class LedgerKind(StrEnum):
    CHARGE = "charge"  # raises what the person owes
    PAYMENT = "payment"  # an M-Pesa payment received; lowers the balance
    ADJUSTMENT = "adjustment"


class Channel(StrEnum):
    TELEGRAM = "telegram"
    EMAIL = "email"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a dispatcher until lease_until
    SENT = "sent"
    FAILED = "failed"  # gave up; a manager may resend
    SKIPPED = "skipped"  # nothing to deliver to (no chat, no email)


class JobKind(StrEnum):
    REMINDER = "reminder"
    NUDGE = "nudge"
    MANAGER_ALERT = "manager_alert"
    PAYMENT_QUERY = "payment_query"


class JobStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"  # claimed until lease_until
    DONE = "done"
    CANCELLED = "cancelled"
    FAILED = "failed"


class CallbackStatus(StrEnum):
    RECEIVED = "received"
    APPLIED = "applied"
    UNMATCHED = "unmatched"  # no payment with that CheckoutRequestID (yet)
    DUPLICATE = "duplicate"
    FLAGGED = "flagged"  # success whose amount or phone differs from the request
