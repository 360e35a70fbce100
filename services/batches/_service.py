"""Choosing crew for an event's payment request, starting it, and asking some again."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    Assignment,
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
from services.batches._drafts import (
    PAYABLE,
    BatchDraft,
    BatchError,
    Candidate,
    Details,
    NobodyToAsk,
    ago,
    problem,
)
from services.batches._sender import BatchSender
from services.errors import require_manager
from services.money import format_kes

log = logging.getLogger(__name__)


class BatchService(BatchSender):
    """Choosing crew for an event's payment request; the sender loop pushes to them."""

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
        found = [Candidate(a.person, a.role, problem(a.person)) for a in assignments]
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
            await self._requeued(conn, batch, AuditAction.PAYMENT_BATCH_RESEND, actor, queued, now)
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
            await self._requeued(
                conn, batch, AuditAction.PAYMENT_BATCH_SEND_ANYWAY, actor, queued, now
            )
        if queued:
            self.outbox.wake()
            self._wake.set()
        return queued

    async def _requeued(
        self,
        conn: BaseDBAsyncClient,
        batch: PaymentBatch,
        action: AuditAction,
        actor: Person,
        queued: int,
        now: datetime,
    ) -> None:
        """Audit people put back in the queue, and redraw the summary (Resend failed, Send
        anyway)."""
        if not queued:
            return
        await audit.record(
            action,
            "event",
            batch.event_id,  # type: ignore[attr-defined]
            at=now,
            actor=actor,
            details={"batch": batch.id, "people": queued},
            using_db=conn,
        )
        await batch_summary.refresh(self.notifier, batch.id, conn)


async def _open_batch(conn: BaseDBAsyncClient, batch_id: int, nobody: str) -> PaymentBatch:
    """The request, refused when it does not exist or its event was cancelled."""
    batch = await PaymentBatch.filter(id=batch_id).using_db(conn).first()
    if batch is None:
        raise BatchError(f"There is no payment request #{batch_id}.")
    event = await Event.filter(id=batch.event_id).using_db(conn).get()  # type: ignore[attr-defined]
    if event.status is EventStatus.CANCELLED:
        raise BatchError(f"Event #{event.id} was cancelled; {nobody}.")
    return batch
