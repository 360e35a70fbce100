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


class SpotStatus(StrEnum):
    """A place on an event left by a decline or an unanswered invitation, offered to backups."""

    OPEN = "open"  # offered; the first to confirm takes it
    FILLED = "filled"  # someone confirmed: the others' offers are closed


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
    WAGE = "wage"  # net pay earned on an approved pay sheet line; lowers the balance
    DEDUCTION = "deduction"  # withheld from a line's pay against what the person owes
    PAYOUT = "payout"  # wages sent by M-Pesa B2C; raises the balance back towards zero
    RECORDED = "recorded"  # money received outside M-Pesa (/record); lowers the balance
    REFUND = "refund"  # money given back to a payer (/refund); raises the balance


class PaymentMethod(StrEnum):
    """How money recorded by hand (/record) came in: outside M-Pesa, or paid straight to
    the paybill, as a statement reconciliation finds it."""

    CASH = "cash"
    BANK = "bank"  # a bank transfer or deposit
    AIRTEL = "airtel"  # Airtel Money
    CHEQUE = "cheque"
    MPESA = "mpesa"  # paid to the paybill directly (not through a push), e.g. from a statement


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
    # An invitation (or a backup offer) unanswered by its deadline: its spot goes to a backup.
    ANSWER_DEADLINE = "answer_deadline"


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
    EVENT_DOCUMENT_ADDED = "event.document_added"
    EVENT_DOCUMENT_REMOVED = "event.document_removed"
    EVENT_CANCELLED = "event.cancelled"
    EVENT_COMPLETED = "event.completed"
    EVENT_CREATED = "event.created"
    EVENT_EDITED = "event.edited"
    EVENT_REMINDED = "event.reminded"

    INVOICE_CREATED = "invoice.created"
    INVOICE_PAID = "invoice.paid"  # its checkout paid in full
    CHECKOUT_RELINKED = "checkout.relinked"  # /paylink: a deposit's or invoice's new link

    LEDGER_CHARGE = "ledger.charge"
    LEDGER_UNCHARGE = "ledger.uncharge"
    LEDGER_RECORDED = "ledger.recorded"  # money received outside M-Pesa (/record)
    LEDGER_UNRECORDED = "ledger.unrecorded"  # a recorded payment undone (/unrecord)

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

    PAYROLL_APPROVED = "payroll.approved"
    PAYROLL_BUILT = "payroll.built"  # a sheet's first version, or a new one after approval
    PAYROLL_LINE_CHANGED = "payroll.line_changed"
    PAYROLL_REOPENED = "payroll.reopened"  # a submitted sheet changed: back to draft
    PAYROLL_SUBMITTED = "payroll.submitted"
    PAYROLL_SUPERSEDED = "payroll.superseded"
    PAYROLL_PAY_STARTED = "payroll.pay_started"  # Pay (or Pay again, Retry failed) pressed
    PAYROLL_STOPPED = "payroll.stopped"  # a shortfall, a credential or role problem
    PAYROLL_PAID = "payroll.paid"  # every line of the version paid
    PAYOUT_PAID = "payout.paid"
    PAYOUT_FAILED = "payout.failed"
    PAYOUT_UNKNOWN = "payout.unknown"  # the outcome is unknown: Transaction Status decides

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

    RATE_SET = "rate.set"
    RATE_CLEARED = "rate.cleared"

    RECONCILIATION_IMPORTED = "reconciliation.imported"  # a statement matched against the books

    REFUND_REQUESTED = "refund.requested"
    REFUND_APPROVED = "refund.approved"
    REFUND_REJECTED = "refund.rejected"  # another manager said no, or the requester withdrew it
    REFUND_SENT = "refund.sent"  # the request left for Daraja
    REFUND_REFUNDED = "refund.refunded"
    REFUND_FAILED = "refund.failed"
    REFUND_UNKNOWN = "refund.unknown"  # the outcome is unknown: Transaction Status decides
    WEBHOOK_ADDED = "webhook.added"
    WEBHOOK_REMOVED = "webhook.removed"
    WEBHOOK_DISABLED = "webhook.disabled"  # failing for 3 days: the sender turned it off
    DAY_OFF_ADDED = "day_off.added"
    DAY_OFF_REMOVED = "day_off.removed"
    BROADCAST_SENT = "broadcast.sent"

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
    PAY_SHEET = "pay_sheet"  # live pay sheet of an event, edited in place (one per manager)
    PAYROLL_APPROVAL = "payroll_approval"  # to other managers: a sheet waits for approval
    PAYROLL_STOPPED = "payroll_stopped"  # to every manager: a pay run stopped, and what to do
    PAYSLIP = "payslip"  # to a crew member: what one pay sheet line paid them, with the receipt
    RECONCILIATION_ALERT = "reconciliation_alert"  # to managers: books and statement disagree
    PAYMENT_RECORDED = "payment_recorded"  # to the payer: money received outside M-Pesa
    PAYMENT_UNRECORDED = "payment_unrecorded"  # to the payer: a recorded payment was undone
    INVOICE = "invoice"  # to a client (no person): their invoice, the PDF attached
    INVOICE_PAID = "invoice_paid"  # to its manager, and its client: paid in full online
    REFUND = "refund"  # live card of a refund, to the manager who asked and each approver
    REFUND_APPROVAL = "refund_approval"  # email to other managers: a refund waits for them
    REFUND_NOTICE = "refund_notice"  # to the payer: money given back, with the receipt
    REFUND_OUTCOME = "refund_outcome"  # to every manager: a refund was made, or failed and why
    WEBHOOK_DISABLED = "webhook_disabled"  # to every manager: an endpoint failed for 3 days
    CREW_OFF = "crew_off"  # to an event's manager: confirmed crew marked a day of it off
    BROADCAST = "broadcast"  # a manager's /broadcast text, to each person of the audience
    BACKUP_OFFER = "backup_offer"  # to crew: an open spot offered (live; says when it is filled)
    DEPOSIT = "deposit"  # to a deposit's manager: an instalment pushed on its date, or missed


class PaySheetStatus(StrEnum):
    """One version of an event's pay sheet."""

    DRAFT = "draft"  # being prepared; lines can change
    SUBMITTED = "submitted"  # waiting for approval; a change sends it back to draft
    APPROVED = "approved"  # frozen; wages posted, payouts queued: ready to pay
    CHECKING = "checking"  # Pay was pressed: waiting for the Account Balance result
    PAYING = "paying"  # the balance covers it: the sender pays the queued payouts
    PAID = "paid"  # every payout paid
    STOPPED = "stopped"  # the run was stopped (credentials, funds): a manager must act
    SUPERSEDED = "superseded"  # replaced by a newer version before any payout left


class PayoutStatus(StrEnum):
    """One B2C attempt for one pay sheet line."""

    QUEUED = "queued"  # written on approval; not yet claimed by the sender
    SENT = "sent"  # claimed: may have reached Daraja, so only Transaction Status settles it
    PAID = "paid"
    FAILED = "failed"  # definitely not paid; Retry failed makes a new attempt
    UNKNOWN = "unknown"  # timeout, queue timeout, duplicate id: Transaction Status decides
    CANCELLED = "cancelled"  # withdrawn while queued: its sheet version was superseded


class DocumentSeries(StrEnum):
    """A numbered series; its value is the number's prefix (R-2026-000123)."""

    RECEIPT = "R"
    INVOICE = "INV"
    # Not numbered: what an outbox row attaches besides a receipt or invoice.
    EVENT_FILE = "FILE"  # a chat row: one event document, sent again by its Telegram file_id
    BRIEFING = "BRF"  # an email row: the documents of the briefing's event, read from FILES_DIR


class FileKind(StrEnum):
    """How Telegram holds a file, which picks the method that sends it again."""

    DOCUMENT = "document"  # sendDocument
    PHOTO = "photo"  # sendPhoto: a compressed JPEG, without a name of its own


class ReceiptKind(StrEnum):
    """Which money movement a receipt records."""

    PAYMENT = "payment"  # money in: a completed M-Pesa payment
    PAYOUT = "payout"  # money out: wages paid by M-Pesa B2C
    RECORDED = "recorded"  # money in by hand (/record): cash, bank, Airtel, cheque, paybill
    REFUND = "refund"  # money out: a payment given back (reversed, or sent back by B2C)


class RefundMethod(StrEnum):
    """How a refund moves the money back."""

    REVERSAL = "reversal"  # the whole payment, by Daraja's Reversal API
    B2C = "b2c"  # part of it, by a B2C payment to the payer's phone


class RefundStatus(StrEnum):
    """requested → approved → sent → refunded | failed | unknown (and rejected)."""

    REQUESTED = "requested"  # waiting for a second manager (PAYROLL_APPROVALS=2)
    APPROVED = "approved"  # the sender will send it
    SENT = "sent"  # claimed by the sender: may have reached Daraja, so only an answer settles it
    REFUNDED = "refunded"
    FAILED = "failed"  # definitely not refunded; a new /refund may try again
    UNKNOWN = "unknown"  # lost answer, queue timeout, "already reversed": Transaction Status
    REJECTED = "rejected"  # a manager said no before it was sent


class InvoiceStatus(StrEnum):
    OPEN = "open"  # sent, not paid yet: paying every part on its checkout page settles it
    PAID = "paid"  # its checkout paid in full (services/checkout/_invoices.py)
    CANCELLED = "cancelled"  # not used yet: no command cancels an invoice
