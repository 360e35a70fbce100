"""Sending approved refunds, and asking Transaction Status about those M-Pesa left
unanswered. The pay sender's loop calls these each round (`services/payroll/sender.py`).

A refund is SENT from its claim, before the request leaves: after a crash it may have reached
Daraja, so only Transaction Status settles it, never a second request. "Nothing happened"
answers (Daraja unreachable) put it back to APPROVED for the next round.
"""

from __future__ import annotations

import logging

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import AuditAction, Payment, Refund, RefundMethod, RefundStatus
from services import audit
from services.daraja import (
    DarajaAuthError,
    DarajaConfigError,
    DarajaError,
    DarajaRejected,
    DarajaUnavailable,
    DarajaUnknownOutcome,
    fit_remarks,
)
from services.daraja.results import Product
from services.refunds import _messages as messages
from services.refunds import _outcomes as outcomes
from services.refunds._service import RefundsCore

log = logging.getLogger(__name__)

SWEEP_BATCH = 20
CLAIM_TRIES = 20


class RefundSending(RefundsCore):
    async def send_one(self) -> bool:
        """Claim the oldest approved refund and send it; False when none waits."""
        refund = await self._claim()
        if refund is None:
            return False
        await self._send(refund)
        return True

    async def _claim(self) -> Refund | None:
        for _ in range(CLAIM_TRIES):
            async with in_transaction() as conn:
                query = (
                    Refund.filter(status=RefundStatus.APPROVED).order_by("id").limit(1)
                ).using_db(conn)
                if conn.capabilities.dialect == "postgres":
                    query = query.select_for_update(skip_locked=True)
                found = await query
                if not found:
                    return None
                now = self.clock.now()
                claimed = (
                    await Refund.filter(id=found[0].id, status=RefundStatus.APPROVED)
                    .using_db(conn)
                    .update(status=RefundStatus.SENT, sent_at=now, updated_at=now)
                )
                if claimed:
                    return await Refund.filter(id=found[0].id).using_db(conn).get()
        return None

    async def _send(self, refund: Refund) -> None:
        daraja, urls = self.runs.daraja, self.runs.urls
        assert daraja is not None and urls is not None
        payment = await Payment.get(id=refund.payment_id)  # type: ignore[attr-defined]
        remarks = fit_remarks(f"Refund of payment {payment.id}")
        b2c_urls = urls.of(Product.B2C)
        try:
            if refund.method is RefundMethod.REVERSAL:
                assert payment.receipt is not None
                accepted = await daraja.reversal(
                    payment.receipt,
                    refund.amount,
                    remarks,
                    occasion=refund.originator_conversation_id,
                    **urls.of(Product.REVERSAL),
                )
            else:
                accepted = await daraja.b2c_payment(
                    refund.originator_conversation_id,
                    refund.phone,
                    refund.amount,
                    remarks,
                    f"Refund {payment.id}",
                    result_url=b2c_urls["result_url"],
                    timeout_url=b2c_urls["timeout_url"],
                )
        except DarajaUnknownOutcome as exc:
            async with in_transaction() as conn:
                await outcomes.mark_unknown(
                    self, refund, f"M-Pesa's answer was lost ({exc}); checking", conn
                )
            return
        except DarajaUnavailable:
            await Refund.filter(id=refund.id, status=RefundStatus.SENT).update(
                status=RefundStatus.APPROVED, sent_at=None, updated_at=self.clock.now()
            )
            raise  # the sender pauses, then tries again
        except (DarajaAuthError, DarajaRejected, DarajaConfigError) as exc:
            hint = (
                " Check DARAJA_CONSUMER_KEY and DARAJA_CONSUMER_SECRET."
                if isinstance(exc, DarajaAuthError)
                else ""
            )
            async with in_transaction() as conn:
                await outcomes.mark_failed(
                    self, refund, None, str(exc), f"Not sent: {exc}.{hint}", conn
                )
            return
        now = self.clock.now()
        async with in_transaction() as conn:
            daraja_id = (
                accepted.originator_conversation_id[:64]
                if refund.method is RefundMethod.REVERSAL
                else None
            )
            await (
                Refund.filter(id=refund.id, conversation_id__isnull=True)
                .using_db(conn)
                .update(
                    conversation_id=accepted.conversation_id[:64],
                    daraja_originator_id=daraja_id,
                    updated_at=now,
                )
            )
            await audit.record(
                AuditAction.REFUND_SENT,
                "refund",
                refund.id,
                at=now,
                actor_label="system",
                details={"conversation": accepted.conversation_id},
                using_db=conn,
            )
            await messages.publish(self, refund, conn)

    async def sweep(self) -> int:
        """Refunds sent a while ago with no answer, and those whose outcome is unknown, are
        asked about with Transaction Status (an unknown one at once, then every while)."""
        now = self.clock.now()
        due = now - self.confirm_after
        stale = Q(checked_at__isnull=True) | Q(checked_at__lte=due)
        asks = (
            await Refund.filter(
                Q(Q(status=RefundStatus.SENT, sent_at__lte=due), stale)
                | Q(Q(status=RefundStatus.UNKNOWN), stale)
            )
            .order_by("id")
            .limit(SWEEP_BATCH)
        )
        done = 0
        for refund in asks:
            claimed = await Refund.filter(
                Q(checked_at__isnull=True) | Q(checked_at__lte=due), id=refund.id
            ).update(checked_at=now)
            if not claimed:
                continue  # another instance asks about it
            await self.confirm(refund)
            done += 1
        return done

    async def confirm(self, refund: Refund) -> None:
        """Ask Transaction Status: a B2C refund by our id; a reversal by Daraja's id for it,
        or (that id unknown, or "already reversed") by the payment's own receipt."""
        daraja, urls = self.runs.daraja, self.runs.urls
        assert daraja is not None and urls is not None
        originator_id: str | None = refund.originator_conversation_id
        transaction_id: str | None = None
        if refund.method is RefundMethod.REVERSAL:
            originator_id = refund.daraja_originator_id
            if originator_id is None:
                payment = await Payment.get(id=refund.payment_id)  # type: ignore[attr-defined]
                transaction_id = payment.receipt
        try:
            await daraja.transaction_status(
                **urls.of(Product.TRANSACTION_STATUS),
                originator_id=originator_id,
                transaction_id=transaction_id,
                remarks="Refund check",
                occasion=refund.originator_conversation_id,
            )
        except DarajaError as exc:
            log.warning("Transaction Status for refund %s not asked (%s)", refund.id, exc)
