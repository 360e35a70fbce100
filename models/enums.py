"""Every state the domain knows, as enums stored by name (CharEnumField)."""

from __future__ import annotations

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


class AuditAction(StrEnum):
    """What an AuditLog row records: `<subject>.<what happened>`."""

    ASSIGNMENT_BRIEFING_READ = "assignment.briefing_read"
    ASSIGNMENT_CANCELLED = "assignment.cancelled"
    ASSIGNMENT_CONFIRMED = "assignment.confirmed"
    ASSIGNMENT_DECLINED = "assignment.declined"
    ASSIGNMENT_INVITED = "assignment.invited"
    ASSIGNMENT_REASON = "assignment.reason"  # a decline's reason, given after the decline
    ASSIGNMENT_REINVITED = "assignment.reinvited"

    EVENT_BRIEFED = "event.briefed"
    EVENT_CANCELLED = "event.cancelled"
    EVENT_COMPLETED = "event.completed"
    EVENT_CREATED = "event.created"
    EVENT_EDITED = "event.edited"
    EVENT_REMINDED = "event.reminded"

    LEDGER_CHARGE = "ledger.charge"
    LEDGER_UNCHARGE = "ledger.uncharge"

    OUTBOX_RESENT = "outbox.resent"

    PAYMENT_CANCELLED = "payment.cancelled"
    PAYMENT_COMPLETED = "payment.completed"
    PAYMENT_FAILED = "payment.failed"
    PAYMENT_FLAG_RESOLVED = "payment.flag_resolved"  # a manager closed a flagged payment (/resolve)
    PAYMENT_INITIATED = "payment.initiated"
    PAYMENT_PENDING = "payment.pending"
    PAYMENT_RECEIPT = "payment.receipt"  # a receipt filled in by a late callback
    PAYMENT_REQUESTED = "payment.requested"
    PAYMENT_TIMEOUT = "payment.timeout"
    PAYMENT_UNKNOWN = "payment.unknown"

    PAYMENT_BATCH_RESEND = "payment_batch.resend"
    PAYMENT_BATCH_SEND_ANYWAY = "payment_batch.send_anyway"
    PAYMENT_BATCH_STARTED = "payment_batch.started"

    PERSON_ACCESS_CHANGED = "person.access_changed"
    PERSON_ADDED = "person.added"
    PERSON_CHAT_REACHABLE = "person.chat_reachable"
    PERSON_CHAT_UNREACHABLE = "person.chat_unreachable"
    PERSON_DEACTIVATED = "person.deactivated"
    PERSON_EDITED = "person.edited"
    PERSON_LINK_ISSUED = "person.link_issued"
    PERSON_LINK_REFUSED = "person.link_refused"  # an old link tried to take a linked account
    PERSON_LINKED = "person.linked"
    PERSON_REACTIVATED = "person.reactivated"

    @classmethod
    def answer(cls, status: AssignmentStatus) -> AuditAction:
        """A crew member's answer moved their assignment to `status`."""
        return cls(f"assignment.{status.value}")

    @classmethod
    def payment(cls, status: PaymentStatus) -> AuditAction:
        """A payment reached `status`."""
        return cls(f"payment.{status.value}")


class NotificationKind(StrEnum):
    """What an outbox message is, which picks its template."""

    INVITE_LINK = "invite_link"  # "here is your link to the bot", email only
    INVITATION = "invitation"
    ANSWER = "answer"  # a crew member's answer, to the event's manager
    REMINDER = "reminder"
    NUDGE = "nudge"
    BRIEFING = "briefing"
    EVENT_CHANGED = "event_changed"
    EVENT_CANCELLED = "event_cancelled"
    PAYMENT_REQUEST = "payment_request"
    PAYMENT_STATUS = "payment_status"  # live chat message, edited in place
    PAYMENT_BATCH = "payment_batch"  # live summary of an event's payment request
    PAYMENT_RECEIPT = "payment_receipt"
    PAYMENT_FAILED = "payment_failed"
    PAYMENT_ALERT = "payment_alert"  # a payment a manager must look at (flagged, unknown)
    MANAGER_ALERT = "manager_alert"
    CHAT_UNREACHABLE = "chat_unreachable"  # to managers: someone blocked the bot
    ACCOUNT_NOTICE = "account_notice"  # a link refused for a linked account, or unlinked
    CREW_REMOVED = "crew_removed"  # to an event's manager: a person on it was deactivated
    JOB_FAILED = "job_failed"  # to an event's manager: a scheduled message was given up
    ANSWERS_TALLY = "answers_tally"  # live count of an event's answers, to its manager
    ANSWERS_DIGEST = "answers_digest"  # one email an hour listing crew answers (ANSWER_EMAILS)
