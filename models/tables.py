"""The tables. Times are aware UTC; money is whole shillings in integer columns."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.enums import (
    Access,
    AssignmentStatus,
    AuditAction,
    BatchMemberStatus,
    CallbackStatus,
    Channel,
    DocumentSeries,
    EventStatus,
    JobKind,
    JobStatus,
    LedgerKind,
    NotificationKind,
    OutboxStatus,
    PaymentStatus,
)


class Person(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    phone = fields.CharField(max_length=16, unique=True)  # E.164, +2547XXXXXXXX
    email = fields.CharField(max_length=254, null=True)
    skills = fields.CharField(max_length=500, default="")  # comma-separated, lower case
    access = fields.CharEnumField(Access, max_length=16, default=Access.CREW)
    active = fields.BooleanField(default=True)
    telegram_id = fields.BigIntField(null=True, unique=True)
    telegram_username = fields.CharField(max_length=64, null=True)
    linked_at = fields.DatetimeField(null=True)
    chat_unreachable_at = fields.DatetimeField(null=True)  # Telegram answered 403
    balance = fields.BigIntField(default=0)  # KES owed; always the sum of ledger entries
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "person"
        indexes = (("access", "active"),)

    @property
    def is_manager(self) -> bool:
        return self.access is Access.MANAGER and self.active

    @property
    def skill_list(self) -> list[str]:
        return [s for s in self.skills.split(",") if s]


class LinkToken(Model):
    # Only the SHA-256 of a link's token is kept: whoever reads the database (a backup, a
    # support session) cannot open someone's link with what is stored here.
    id = fields.IntField(primary_key=True)
    token_hash = fields.CharField(max_length=64, unique=True)  # sha256 hex of the token
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="link_tokens", on_delete=fields.CASCADE
    )
    expires_at = fields.DatetimeField()
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "link_token"


class Event(Model):
    id = fields.IntField(primary_key=True)
    title = fields.CharField(max_length=120)
    venue = fields.CharField(max_length=200)
    starts_at = fields.DatetimeField()
    ends_at = fields.DatetimeField()
    call_at = fields.DatetimeField()  # when crew must be on site
    notes = fields.TextField(default="")
    crew_target = fields.IntField(null=True)  # all roles together; per role: EventNeed
    auto_backups = fields.BooleanField(default=True)  # offer a declined spot to the next person
    status = fields.CharEnumField(EventStatus, max_length=16, default=EventStatus.SCHEDULED)
    manager: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="managed_events", on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "event"
        indexes = (("status", "starts_at"),)


class Assignment(Model):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="assignments", on_delete=fields.CASCADE
    )
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="assignments", on_delete=fields.RESTRICT
    )
    role = fields.CharField(max_length=60)
    status = fields.CharEnumField(AssignmentStatus, max_length=16, default=AssignmentStatus.INVITED)
    invited_at = fields.DatetimeField()
    responded_at = fields.DatetimeField(null=True)
    decline_reason = fields.CharField(max_length=500, null=True)
    briefing_read_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "assignment"
        unique_together = (("event", "person"),)
        indexes = (("person_id", "status"),)


class AnswerTally(Model):
    """Per event: which live "answers" message crew answers update. Its row is locked while
    a tally is written, so answers to one event write their tallies one after the other."""

    id = fields.IntField(primary_key=True)
    # One-to-one, so that event_id is UNIQUE in the database: two first answers at once then
    # meet on that index and one waits for the other (ForeignKeyField(unique=True) makes no
    # constraint, and on PostgreSQL each answer locked a row of its own).
    event: fields.OneToOneRelation[Event] = fields.OneToOneField(
        "models.Event", related_name="answer_tally", on_delete=fields.CASCADE
    )
    # Bumped when an answer comes after a quiet spell: a new message, so the manager is told.
    generation = fields.IntField(default=0)
    last_answer_at = fields.DatetimeField(null=True)

    class Meta:
        table = "answer_tally"


class Briefing(Model):
    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="briefings", on_delete=fields.CASCADE
    )
    text = fields.TextField()
    sent_by: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="briefings_sent", on_delete=fields.RESTRICT
    )
    created_at = fields.DatetimeField()

    class Meta:
        table = "briefing"


class PaymentBatch(Model):
    """One amount and purpose asked of several people at once (the event card's button)."""

    id = fields.IntField(primary_key=True)
    event: fields.ForeignKeyRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="payment_batches", on_delete=fields.RESTRICT
    )
    requested_by: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="payment_batches", on_delete=fields.RESTRICT
    )
    amount = fields.IntField()  # whole shillings, each
    purpose = fields.CharField(max_length=100)
    account_reference = fields.CharField(max_length=12)
    transaction_desc = fields.CharField(max_length=13)
    created_at = fields.DatetimeField()

    class Meta:
        table = "payment_batch"


class PaymentBatchMember(Model):
    """A person asked (or to be asked) in a batch. The sender claims QUEUED rows one by one."""

    id = fields.IntField(primary_key=True)
    batch: fields.ForeignKeyRelation[PaymentBatch] = fields.ForeignKeyField(
        "models.PaymentBatch", related_name="members", on_delete=fields.CASCADE
    )
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="batch_memberships", on_delete=fields.RESTRICT
    )
    phone = fields.CharField(max_length=16)  # E.164, as shown when the manager confirmed
    status = fields.CharEnumField(
        BatchMemberStatus, max_length=16, default=BatchMemberStatus.QUEUED
    )
    reason = fields.CharField(max_length=200, null=True)  # why SKIPPED
    # The manager said "Send anyway": asked although the same amount went to them moments ago.
    repeat_ok = fields.BooleanField(default=False)
    # Set while QUEUED for "Resend failed ones": the failed payment this one replaces.
    resend_of: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="batch_resends", null=True, on_delete=fields.SET_NULL
    )
    updated_at = fields.DatetimeField()

    class Meta:
        table = "payment_batch_member"
        unique_together = (("batch", "person"),)
        indexes = (("status", "batch_id"),)


class Payment(Model):
    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="payments", null=True, on_delete=fields.RESTRICT
    )
    phone = fields.CharField(max_length=16)  # E.164 of the phone that gets the prompt
    amount = fields.IntField()  # whole shillings, 1..250,000
    purpose = fields.CharField(max_length=100)
    account_reference = fields.CharField(max_length=12)
    transaction_desc = fields.CharField(max_length=13)
    status = fields.CharEnumField(PaymentStatus, max_length=16, default=PaymentStatus.INITIATED)
    event: fields.ForeignKeyNullableRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="payments", null=True, on_delete=fields.SET_NULL
    )
    requested_by: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="payments_requested", on_delete=fields.RESTRICT
    )
    resend_of: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="resends", null=True, on_delete=fields.SET_NULL
    )
    batch_key = fields.CharField(max_length=64, null=True, db_index=True)
    batch: fields.ForeignKeyNullableRelation[PaymentBatch] = fields.ForeignKeyField(
        "models.PaymentBatch", related_name="payments", null=True, on_delete=fields.SET_NULL
    )
    merchant_request_id = fields.CharField(max_length=64, null=True)
    checkout_request_id = fields.CharField(max_length=64, null=True, unique=True)
    result_code = fields.IntField(null=True)
    result_desc = fields.CharField(max_length=255, null=True)
    receipt = fields.CharField(max_length=20, null=True, unique=True)
    paid_amount = fields.IntField(null=True)
    paid_phone = fields.CharField(max_length=16, null=True)
    flag_reason = fields.CharField(max_length=255, null=True)  # set: a manager must look
    # A manager looked at the flag and said what was done (refunded, credited by hand, …).
    flag_resolved_at = fields.DatetimeField(null=True)
    flag_resolved_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="flags_resolved", null=True, on_delete=fields.SET_NULL
    )
    flag_resolution = fields.CharField(max_length=200, null=True)
    error = fields.CharField(max_length=500, null=True)
    created_at = fields.DatetimeField()
    updated_at = fields.DatetimeField()
    resolved_at = fields.DatetimeField(null=True)
    queried_at = fields.DatetimeField(null=True)  # last STK query, so reconciliation paces itself

    class Meta:
        table = "payment"
        indexes = (
            ("status", "created_at"),
            ("phone", "amount", "created_at"),
            ("batch_id", "person_id"),
        )


class DarajaCallback(Model):
    id = fields.IntField(primary_key=True)
    checkout_request_id = fields.CharField(max_length=64, null=True, db_index=True)
    body = fields.TextField()  # the raw request body, as received
    remote_ip = fields.CharField(max_length=64, null=True)
    status = fields.CharEnumField(CallbackStatus, max_length=16, default=CallbackStatus.RECEIVED)
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="callbacks", null=True, on_delete=fields.SET_NULL
    )
    received_at = fields.DatetimeField()
    applied_at = fields.DatetimeField(null=True)

    class Meta:
        table = "daraja_callback"
        # The reconciler's sweep looks for rows still RECEIVED, every round: without this
        # it reads the whole (ever-growing) table.
        indexes = (("status", "received_at"),)


class LedgerEntry(Model):
    id = fields.IntField(primary_key=True)
    person: fields.ForeignKeyRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="ledger", on_delete=fields.RESTRICT
    )
    kind = fields.CharEnumField(LedgerKind, max_length=16)
    amount = fields.BigIntField()  # positive raises the balance owed, negative lowers it
    description = fields.CharField(max_length=200)
    payment: fields.OneToOneNullableRelation[Payment] = fields.OneToOneField(
        "models.Payment", related_name="ledger_entry", null=True, on_delete=fields.RESTRICT
    )
    created_by: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="ledger_written", null=True, on_delete=fields.SET_NULL
    )
    # The entry this one undoes (same amount, opposite sign); an entry is undone at most once.
    reverses: fields.OneToOneNullableRelation[LedgerEntry] = fields.OneToOneField(
        "models.LedgerEntry", related_name="reversal", null=True, on_delete=fields.NO_ACTION
    )
    pay_line: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.PayLine", related_name="ledger_entries", null=True, on_delete=fields.RESTRICT
    )  # wages and deductions: the pay sheet line they were posted for
    payout: fields.ForeignKeyNullableRelation[Any] = fields.OneToOneField(
        "models.Payout", related_name="ledger_entry", null=True, on_delete=fields.RESTRICT
    )  # wages sent by M-Pesa: one entry per paid payout, never two

    created_at = fields.DatetimeField()

    class Meta:
        table = "ledger_entry"
        # A person's statement reads the first; a month's totals (/stats, the board's charts,
        # /export) read a range of the second.
        indexes = (("person_id", "created_at"), ("created_at",))


class OutboxMessage(Model):
    """One message to deliver on one channel, written in the transaction that caused it."""

    id = fields.BigIntField(primary_key=True)
    person: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="outbox", null=True, on_delete=fields.SET_NULL
    )
    channel = fields.CharEnumField(Channel, max_length=16)
    kind = fields.CharEnumField(NotificationKind, max_length=40)
    status = fields.CharEnumField(OutboxStatus, max_length=16, default=OutboxStatus.PENDING)
    dedupe_key = fields.CharField(max_length=160, null=True, unique=True)
    chat_id = fields.BigIntField(null=True)
    live_key = fields.CharField(max_length=120, null=True)  # edit this live message if it exists
    email_to = fields.CharField(max_length=254, null=True)
    subject = fields.CharField(max_length=250, null=True)
    text = fields.TextField()  # Telegram HTML, or the email's plain-text part
    html = fields.TextField(null=True)  # the email's HTML part
    # On a chat row written without an email twin: the email to send instead if the chat
    # turns out unreachable (subject and html hold its other parts).
    email_text = fields.TextField(null=True)
    reply_markup: Any = fields.JSONField(null=True)
    # An email's PDF, named rather than stored: the dispatcher draws the receipt or invoice
    # of that id when it sends (services/documents), so a restart loses nothing.
    attachment = fields.CharEnumField(DocumentSeries, max_length=8, null=True)
    attachment_id = fields.IntField(null=True)
    attempts = fields.IntField(default=0)
    # Sends that may have arrived without our knowing (a timeout, an answer we could not
    # read): bounded, so a person gets at most one duplicate.
    unknown_outcomes = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField()
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, null=True)
    sent_at = fields.DatetimeField(null=True)
    telegram_message_id = fields.BigIntField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "outbox_message"
        indexes = (
            ("status", "next_attempt_at"),
            ("person_id", "created_at"),
            ("channel", "chat_id", "status"),
        )


class LiveMessage(Model):
    """A chat message that is edited in place as things change (payment status, summaries)."""

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=120, unique=True)
    chat_id = fields.BigIntField()
    message_id = fields.BigIntField()
    updated_at = fields.DatetimeField()

    class Meta:
        table = "live_message"


class ScheduledJob(Model):
    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(JobKind, max_length=20)
    due_at = fields.DatetimeField()
    status = fields.CharEnumField(JobStatus, max_length=16, default=JobStatus.PENDING)
    dedupe_key = fields.CharField(max_length=160, unique=True)
    event: fields.ForeignKeyNullableRelation[Event] = fields.ForeignKeyField(
        "models.Event", related_name="jobs", null=True, on_delete=fields.CASCADE
    )
    assignment: fields.ForeignKeyNullableRelation[Assignment] = fields.ForeignKeyField(
        "models.Assignment", related_name="jobs", null=True, on_delete=fields.CASCADE
    )
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="jobs", null=True, on_delete=fields.CASCADE
    )
    attempts = fields.IntField(default=0)
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, null=True)
    done_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "scheduled_job"
        indexes = (("status", "due_at"),)


class AuditLog(Model):
    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField()
    actor: fields.ForeignKeyNullableRelation[Person] = fields.ForeignKeyField(
        "models.Person", related_name="audit_entries", null=True, on_delete=fields.SET_NULL
    )
    actor_label = fields.CharField(max_length=100)  # "Jane Wanjiku", "system", "daraja"
    chat_id = fields.BigIntField(null=True)
    action = fields.CharEnumField(AuditAction, max_length=60)
    subject_type = fields.CharField(max_length=30)
    subject_id = fields.IntField(null=True)
    details: Any = fields.JSONField(default=dict)

    class Meta:
        table = "audit_log"
        indexes = (("subject_type", "subject_id"),)


class DarajaExchange(Model):
    """Every request to Daraja and its answer, secrets redacted."""

    id = fields.BigIntField(primary_key=True)
    operation = fields.CharField(max_length=20)  # oauth, stk_push, stk_query
    started_at = fields.DatetimeField()
    duration_ms = fields.IntField()
    method = fields.CharField(max_length=8)
    url = fields.CharField(max_length=300)
    request_body: Any = fields.JSONField(null=True)
    status_code = fields.IntField(null=True)
    response_body = fields.TextField(null=True)
    error = fields.CharField(max_length=500, null=True)
    payment: fields.ForeignKeyNullableRelation[Payment] = fields.ForeignKeyField(
        "models.Payment", related_name="exchanges", null=True, on_delete=fields.SET_NULL
    )

    class Meta:
        table = "daraja_exchange"


class ServiceToken(Model):
    """An access token shared by every instance (Daraja invalidates the previous one)."""

    name = fields.CharField(max_length=40, primary_key=True)
    token = fields.TextField(null=True)
    expires_at = fields.DatetimeField(null=True)
    updated_at = fields.DatetimeField()

    class Meta:
        table = "service_token"


class ProcessedUpdate(Model):
    """Telegram update ids already handled, so a redelivered update is not acted on twice."""

    update_id = fields.BigIntField(primary_key=True)
    received_at = fields.DatetimeField()

    class Meta:
        table = "processed_update"
