"""Asking an event's confirmed crew for one amount each: the event card's Request payment.

Nothing is pushed while the manager waits. `start` writes the batch and one QUEUED member per
person, with the summary message, in one transaction; the sender loop then claims members
one at a time and pushes each through the same path as /request. A claim, the payment row
(initiated) and the member's new status are one transaction, and the push happens only after
it commits, so:
- a process that dies before the commit leaves the member QUEUED: the next sender (after a
  restart, or another instance) asks them, once;
- a process that dies after it leaves an initiated payment: never pushed again, it becomes
  unknown after the query delay like any interrupted /request;
- two instances never claim the same member (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite:
  a conditional UPDATE, with writers serialised).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    BatchMemberStatus,
    Event,
    EventStatus,
    LiveMessage,
    Payment,
    PaymentBatch,
    PaymentBatchMember,
    Person,
)
from services import audit, batch_summary
from services.clock import Clock
from services.errors import CallsheetError, Conflict, InvalidInput, require_manager
from services.money import format_kes, parse_amount
from services.outbox import Outbox
from services.payments import PaymentDraft, PaymentService, clean_purpose
from services.phones import PhoneError, msisdn
from services.worker import Worker

log = logging.getLogger(__name__)

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


class BatchService(Worker):
    """Choosing crew for an event's payment request, and the loop that pushes to them."""

    name = "batch sender"

    def __init__(
        self,
        payments: PaymentService,
        outbox: Outbox,
        clock: Clock,
        *,
        poll_seconds: float = 5.0,
    ) -> None:
        super().__init__(idle_seconds=poll_seconds)
        self.payments = payments
        self.notifier = payments.notifier
        self.outbox = outbox
        self.clock = clock
        self.poll_seconds = poll_seconds

    # --- choosing -------------------------------------------------------------------------

    async def crew(self, actor: Person, event_id: int) -> tuple[Event, list[Candidate]]:
        """The event's confirmed crew by name; those who cannot be asked say why."""
        require_manager(actor, "ask for payments")
        event = await Event.get_or_none(id=event_id)
        if event is None:
            raise BatchError(f"There is no event #{event_id}. Send /events to see the list.")
        if event.status is EventStatus.CANCELLED:
            raise BatchError(f"Event #{event.id} was cancelled; there is nobody to ask.")
        assignments = await Assignment.filter(
            event_id=event.id, status__in=PAYABLE
        ).prefetch_related("person")
        found = [Candidate(a.person, a.role, _problem(a.person)) for a in assignments]
        found.sort(key=lambda c: c.person.name.lower())
        return event, found

    async def prepare(
        self, actor: Person, event_id: int, person_ids: Sequence[int], chosen: Details
    ) -> BatchDraft:
        event, candidates = await self.crew(actor, event_id)
        wanted = set(person_ids)
        people = [c for c in candidates if c.person.id in wanted and c.problem is None]
        if not people:
            raise NobodyToAsk("Nobody is ticked. Tick at least one person, or Cancel.")
        warnings = []
        now = self.clock.now()
        for candidate in people:
            previous = await self.payments.recent_request(candidate.person.phone, chosen.amount)
            if previous is not None:
                warnings.append(
                    f"{candidate.person.name} was asked for {format_kes(chosen.amount)} "
                    f"{ago((now - previous.created_at).total_seconds())} and will be skipped."
                )
        return BatchDraft(event, people, chosen, warnings)

    # --- starting -------------------------------------------------------------------------

    async def start(
        self,
        actor: Person,
        draft: BatchDraft,
        *,
        chat_id: int | None = None,
        message_id: int | None = None,
    ) -> PaymentBatch:
        """Write the batch and its members; the summary replaces `message_id` if given."""
        require_manager(actor, "ask for payments")
        _, candidates = await self.crew(actor, draft.event.id)
        now_payable = {c.person.id: c for c in candidates}
        d = draft.details
        now = self.clock.now()
        async with in_transaction() as conn:
            batch = await PaymentBatch.create(
                event_id=draft.event.id,
                requested_by=actor,
                amount=d.amount,
                purpose=d.purpose,
                account_reference=d.reference,
                transaction_desc=d.description,
                created_at=now,
                using_db=conn,
            )
            for chosen in draft.people:
                current = now_payable.get(chosen.person.id)
                problem = (
                    "skipped: no longer confirmed"
                    if current is None
                    else f"skipped: {current.problem}"
                    if current.problem
                    else None
                )
                await PaymentBatchMember.create(
                    batch=batch,
                    person_id=chosen.person.id,
                    phone=chosen.person.phone,
                    status=BatchMemberStatus.SKIPPED if problem else BatchMemberStatus.QUEUED,
                    reason=problem,
                    updated_at=now,
                    using_db=conn,
                )
            if chat_id is not None and message_id is not None and chat_id == actor.telegram_id:
                # The confirmation message itself becomes the live summary.
                await LiveMessage.create(
                    key=batch_summary.live_key(batch.id),
                    chat_id=chat_id,
                    message_id=message_id,
                    updated_at=now,
                    using_db=conn,
                )
            await audit.record(
                AuditAction.PAYMENT_BATCH_STARTED,
                "event",
                draft.event.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={
                    "batch": batch.id,
                    "amount": d.amount,
                    "purpose": d.purpose,
                    "people": [c.person.id for c in draft.people],
                },
                using_db=conn,
            )
            await batch_summary.refresh(self.notifier, batch.id, conn)
        self.outbox.wake()
        self._wake.set()
        log.info(
            "payment batch %s for event %s: %s people, %s each",
            batch.id,
            draft.event.id,
            len(draft.people),
            d.amount,
        )
        return batch

    async def resend_failed(self, actor: Person, batch_id: int) -> int:
        """Queue a new prompt for everyone whose latest one failed, was cancelled or timed
        out. Unknown ones are left: a prompt may be on their phone."""
        require_manager(actor, "ask for payments")
        now = self.clock.now()
        async with in_transaction() as conn:
            batch = await _open_batch(conn, batch_id, "nobody was asked again")
            latest: dict[int, Payment] = {}
            for row in await Payment.filter(batch_id=batch_id).using_db(conn).order_by("id"):
                latest[row.person_id] = row  # type: ignore[attr-defined]
            members = await PaymentBatchMember.filter(
                batch_id=batch_id, status=BatchMemberStatus.ASKED
            ).using_db(conn)
            queued = 0
            for member in members:
                payment = latest.get(member.person_id)  # type: ignore[attr-defined]
                if payment is None or payment.status not in batch_summary.RESENDABLE:
                    continue
                queued += await (
                    PaymentBatchMember.filter(id=member.id, status=BatchMemberStatus.ASKED)
                    .using_db(conn)
                    .update(
                        status=BatchMemberStatus.QUEUED, resend_of_id=payment.id, updated_at=now
                    )
                )
            if queued:
                await audit.record(
                    AuditAction.PAYMENT_BATCH_RESEND,
                    "event",
                    batch.event_id,  # type: ignore[attr-defined]
                    at=now,
                    actor=actor,
                    details={"batch": batch_id, "people": queued},
                    using_db=conn,
                )
                await batch_summary.refresh(self.notifier, batch_id, conn)
        if queued:
            self.outbox.wake()
            self._wake.set()
        return queued

    async def send_anyway(self, actor: Person, batch_id: int) -> int:
        """Queue everyone skipped because they were asked the same amount moments ago: the
        manager confirmed, as "Send again" does for /request."""
        require_manager(actor, "ask for payments")
        now = self.clock.now()
        async with in_transaction() as conn:
            batch = await _open_batch(conn, batch_id, "nobody was asked")
            queued = await (
                PaymentBatchMember.filter(
                    batch_id=batch_id,
                    status=BatchMemberStatus.SKIPPED,
                    reason__startswith=batch_summary.REPEAT_SKIP,
                )
                .using_db(conn)
                .update(
                    status=BatchMemberStatus.QUEUED, repeat_ok=True, reason=None, updated_at=now
                )
            )
            if queued:
                await audit.record(
                    AuditAction.PAYMENT_BATCH_SEND_ANYWAY,
                    "event",
                    batch.event_id,  # type: ignore[attr-defined]
                    at=now,
                    actor=actor,
                    details={"batch": batch_id, "people": queued},
                    using_db=conn,
                )
                await batch_summary.refresh(self.notifier, batch_id, conn)
        if queued:
            self.outbox.wake()
            self._wake.set()
        return queued

    # --- sending --------------------------------------------------------------------------

    async def send_due(self) -> int:
        """Push to every queued member, one after another; returns how many were pushed."""
        pushed = 0
        while not self._stopping.is_set():
            claimed = await self._claim_next()
            if claimed is None:
                break
            if isinstance(claimed, Payment):
                await self.payments.push(claimed)
                pushed += 1
        return pushed

    async def _claim_next(self) -> Payment | bool | None:
        """The next member's payment, written and ready to push; True when a member was
        settled without a push (skipped); None when nothing is queued."""
        async with in_transaction() as conn:
            query = (
                PaymentBatchMember.filter(status=BatchMemberStatus.QUEUED)
                .order_by("id")
                .limit(1)
                .using_db(conn)
            )
            if conn.capabilities.dialect == "postgres":
                query = query.select_for_update(skip_locked=True)
            found = await query
            if not found:
                return None
            member = found[0]
            claimed = (
                await PaymentBatchMember.filter(id=member.id, status=BatchMemberStatus.QUEUED)
                .using_db(conn)
                .update(
                    status=BatchMemberStatus.ASKED, resend_of_id=None, updated_at=self.clock.now()
                )
            )
            if not claimed:
                return True  # another sender took it
            batch = await PaymentBatch.filter(id=member.batch_id).using_db(conn).get()  # type: ignore[attr-defined]
            manager = await Person.filter(id=batch.requested_by_id).using_db(conn).get()  # type: ignore[attr-defined]
            person = await Person.filter(id=member.person_id).using_db(conn).get()  # type: ignore[attr-defined]
            resend_of = member.resend_of_id  # type: ignore[attr-defined]
            problem = await self._why_not(conn, batch, manager, person, member, resend_of)
            if problem == "":
                return True  # a resend someone already made by hand: nothing more to do
            if problem is not None:
                await (
                    PaymentBatchMember.filter(id=member.id)
                    .using_db(conn)
                    .update(
                        status=BatchMemberStatus.SKIPPED,
                        reason=problem[:200],
                        updated_at=self.clock.now(),
                    )
                )
                await batch_summary.refresh(self.notifier, batch.id, conn)
                log.info("batch %s: person %s %s", batch.id, person.id, problem)
                return True
            draft = PaymentDraft(
                person_id=person.id,
                person_name=person.name,
                phone=member.phone,
                amount=batch.amount,
                purpose=batch.purpose,
                reference=batch.account_reference,
                description=batch.transaction_desc,
            )
            payment = await self.payments.initiate(
                conn, manager, draft, resend_of=resend_of, batch_id=batch.id
            )
        self.outbox.wake()
        log.info("batch %s: payment %s initiated for person %s", batch.id, payment.id, person.id)
        return payment

    async def _why_not(
        self,
        conn: BaseDBAsyncClient,
        batch: PaymentBatch,
        manager: Person,
        person: Person,
        member: PaymentBatchMember,
        resend_of: int | None,
    ) -> str | None:
        """Why this member is not pushed now ("" when a resend exists already); None: push."""
        event = await Event.filter(id=batch.event_id).using_db(conn).get()  # type: ignore[attr-defined]
        if event.status is EventStatus.CANCELLED:
            return "not sent: the event was cancelled"
        if not manager.is_manager:
            return "not sent: the manager who asked is no longer a manager"
        if not person.active:
            return "not sent: deactivated"
        if resend_of is not None:
            if await Payment.filter(resend_of_id=resend_of).using_db(conn).exists():
                return ""
            return None
        if member.repeat_ok:
            return None
        previous = await self.payments.recent_request(member.phone, batch.amount, conn)
        if previous is None:
            return None
        seconds = (self.clock.now() - previous.created_at).total_seconds()
        return (
            f"{batch_summary.REPEAT_SKIP} {format_kes(batch.amount)} {ago(seconds)} "
            f"(#{previous.id})"
        )

    # --- the loop -------------------------------------------------------------------------

    async def round(self) -> int:
        """Send until `stop()`; queued members left by a dead process go out at start."""
        return await self.send_due()


def _problem(person: Person) -> str | None:
    if not person.active:
        return "deactivated"
    try:
        msisdn(person.phone)
    except PhoneError:
        return f"{person.phone} cannot get an M-Pesa prompt"
    return None


async def _open_batch(conn: BaseDBAsyncClient, batch_id: int, nobody: str) -> PaymentBatch:
    """The request, refused when it does not exist or its event was cancelled."""
    batch = await PaymentBatch.filter(id=batch_id).using_db(conn).first()
    if batch is None:
        raise BatchError(f"There is no payment request #{batch_id}.")
    event = await Event.filter(id=batch.event_id).using_db(conn).get()  # type: ignore[attr-defined]
    if event.status is EventStatus.CANCELLED:
        raise BatchError(f"Event #{event.id} was cancelled; {nobody}.")
    return batch
