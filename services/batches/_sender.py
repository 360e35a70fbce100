"""The loop that pushes an event's payment request, one queued member at a time (see the
package docstring for what a crash at each point leaves)."""

from __future__ import annotations

import logging

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    BatchMemberStatus,
    Event,
    EventStatus,
    Payment,
    PaymentBatch,
    PaymentBatchMember,
    Person,
)
from services import batch_summary
from services.batches._drafts import ago
from services.clock import Clock
from services.money import format_kes
from services.outbox import Outbox
from services.payments import PaymentDraft, PaymentService
from services.worker import Worker

log = logging.getLogger(__name__)


class BatchSender(Worker):
    """Claims queued members and pushes to them; `BatchService` queues them."""

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
