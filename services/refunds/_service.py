"""Asking for a refund, approving or rejecting it, and listing refunds.

    Refunds(runs)
      .request(actor, ask)      a manager asks: refused beyond what the payment has left;
                                approved at once when PAYROLL_APPROVALS=1
      .approve(actor, id)       another manager agrees (PAYROLL_APPROVALS=2)
      .reject(actor, id)        another manager says no, or the one who asked withdraws it
      .recent(actor)            the latest refunds, for /refunds

What a payment has left to give back is what it paid less its refunds that are not rejected or
failed: the payment row is locked while that is summed and the new refund written, so two
managers refunding at once cannot give back more than was paid. Sending, results and the
sweep are in `sending.py` and `results.py`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    Payment,
    PaymentStatus,
    Person,
    Refund,
    RefundMethod,
    RefundStatus,
)
from services import audit
from services.errors import require_manager
from services.money import format_kes
from services.refunds import _messages as messages
from services.refunds._errors import (
    NotRefundable,
    RefundClosed,
    RefundNotFound,
    RefundsOff,
    SecondManager,
)
from services.refunds._parse import RefundAsk

if TYPE_CHECKING:
    from services.payroll.paying import PayRuns

# Refunds that hold part of their payment: all but the rejected and the failed.
HOLDING = (
    RefundStatus.REQUESTED,
    RefundStatus.APPROVED,
    RefundStatus.SENT,
    RefundStatus.UNKNOWN,
    RefundStatus.REFUNDED,
)
RECENT = 10
DEFAULT_CONFIRM_AFTER = timedelta(minutes=2)  # a refund with no result this long is asked about
DEFAULT_NOT_FOUND_AFTER = timedelta(minutes=10)  # "no such transaction" is final after this


def originator_id(payment_id: int, n: int) -> str:
    """Ours, unique: the n-th refund asked for on a payment."""
    return f"cs-ref-{payment_id}-{n}"


async def held(payment_id: int, conn: BaseDBAsyncClient) -> int:
    """Shillings of the payment given back or on their way back."""
    amounts = (
        await Refund.filter(payment_id=payment_id, status__in=HOLDING)
        .using_db(conn)
        .values_list("amount", flat=True)
    )
    return sum(int(a) for a in amounts)  # type: ignore[call-overload]


def paid_of(payment: Payment) -> int:
    return payment.paid_amount if payment.paid_amount is not None else payment.amount


class RefundsCore:
    def __init__(
        self,
        runs: PayRuns,
        *,
        confirm_after: timedelta = DEFAULT_CONFIRM_AFTER,
        not_found_after: timedelta = DEFAULT_NOT_FOUND_AFTER,
    ) -> None:
        self.runs = runs
        self.clock = runs.clock
        self.notifier = runs.notifier
        self.confirm_after = confirm_after
        self.not_found_after = not_found_after
        self._ask_soon = False  # a refund here just became unknown: ask without waiting

    def ask_soon(self) -> None:
        self._ask_soon = True
        self.wake()

    def take_ask_soon(self) -> bool:
        asked, self._ask_soon = self._ask_soon, False
        return asked

    @property
    def approvals(self) -> int:
        return self.runs.payroll.approvals

    @property
    def configured(self) -> bool:
        return self.runs.configured

    def wake(self) -> None:
        self.runs.wake()

    async def request(self, actor: Person, ask: RefundAsk, *, chat_id: int | None = None) -> Refund:
        require_manager(actor, "refund payments")
        if not self.configured:
            raise RefundsOff(
                "Refunds by M-Pesa are not set up: set DARAJA_INITIATOR_NAME, "
                "DARAJA_INITIATOR_PASSWORD and DARAJA_CERTIFICATE (see the README, Payday)."
            )
        now = self.clock.now()
        approve_now = self.approvals < 2
        async with in_transaction() as conn:
            payment = (
                await Payment.filter(id=ask.payment_id).select_for_update().using_db(conn).first()
            )
            if payment is None:
                raise RefundNotFound(
                    f"There is no payment #{ask.payment_id}. Send /payments for the list."
                )
            if payment.status is not PaymentStatus.COMPLETED or not payment.receipt:
                raise NotRefundable(
                    f"Payment #{payment.id} is {payment.status.value}, not paid: only money "
                    "received can be given back."
                )
            paid = paid_of(payment)
            taken = await held(payment.id, conn)
            left = paid - taken
            if left <= 0:
                raise NotRefundable(
                    f"Payment #{payment.id} ({format_kes(paid)}) is refunded in full "
                    "already, or on its way back. Send /refunds to see its refunds."
                )
            amount = left if ask.amount is None else ask.amount
            if amount > left:
                already = (
                    f" {format_kes(taken)} of it is refunded or on its way back, so"
                    if taken
                    else ""
                )
                raise NotRefundable(
                    f"Payment #{payment.id} paid {format_kes(paid)}.{already} at most "
                    f"{format_kes(left)} can go back."
                )
            # The whole of a payment nothing was refunded from goes back by reversal; any
            # part of one, by B2C to the phone that paid.
            method = RefundMethod.REVERSAL if taken == 0 and amount == paid else RefundMethod.B2C
            n = await Refund.filter(payment_id=payment.id).using_db(conn).count() + 1
            refund = await Refund.create(
                payment_id=payment.id,
                person_id=payment.person_id,  # type: ignore[attr-defined]
                amount=amount,
                method=method,
                status=RefundStatus.APPROVED if approve_now else RefundStatus.REQUESTED,
                reason=ask.reason,
                phone=payment.paid_phone or payment.phone,
                originator_conversation_id=originator_id(payment.id, n),
                requested_by_id=actor.id,
                decided_by_id=actor.id if approve_now else None,
                requested_at=now,
                decided_at=now if approve_now else None,
                updated_at=now,
                using_db=conn,
            )
            details = {
                "payment": payment.id,
                "amount": amount,
                "method": method.value,
                "reason": ask.reason,
            }
            await audit.record(
                AuditAction.REFUND_REQUESTED,
                "refund",
                refund.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details=details,
                using_db=conn,
            )
            if approve_now:
                await audit.record(
                    AuditAction.REFUND_APPROVED,
                    "refund",
                    refund.id,
                    at=now,
                    actor=actor,
                    chat_id=chat_id,
                    details={"approvals": self.approvals},
                    using_db=conn,
                )
            await messages.publish(self, refund, conn, asking=not approve_now)
        if approve_now:
            self.wake()
        return refund

    async def approve(self, actor: Person, refund_id: int, *, chat_id: int | None = None) -> Refund:
        require_manager(actor, "approve refunds")
        now = self.clock.now()
        async with in_transaction() as conn:
            refund = await _locked(refund_id, conn)
            _still_open(refund)
            if self.approvals >= 2 and refund.requested_by_id == actor.id:  # type: ignore[attr-defined]
                raise SecondManager(
                    "You asked for this refund: another manager must approve it "
                    "(PAYROLL_APPROVALS=2)."
                )
            await self._decide(refund, actor, RefundStatus.APPROVED, now, conn)
            await audit.record(
                AuditAction.REFUND_APPROVED,
                "refund",
                refund.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"approvals": self.approvals},
                using_db=conn,
            )
            await messages.publish(self, refund, conn)
        self.wake()
        return refund

    async def reject(self, actor: Person, refund_id: int, *, chat_id: int | None = None) -> Refund:
        require_manager(actor, "reject refunds")
        now = self.clock.now()
        async with in_transaction() as conn:
            refund = await _locked(refund_id, conn)
            _still_open(refund)
            await self._decide(refund, actor, RefundStatus.REJECTED, now, conn)
            await audit.record(
                AuditAction.REFUND_REJECTED,
                "refund",
                refund.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"withdrawn": refund.requested_by_id == actor.id},  # type: ignore[attr-defined]
                using_db=conn,
            )
            await messages.publish(self, refund, conn)
        return refund

    async def _decide(
        self,
        refund: Refund,
        actor: Person,
        status: RefundStatus,
        now: object,
        conn: BaseDBAsyncClient,
    ) -> None:
        moved = (
            await Refund.filter(id=refund.id, status=RefundStatus.REQUESTED)
            .using_db(conn)
            .update(
                status=status,
                decided_by_id=actor.id,
                decided_at=now,
                finished_at=now if status is RefundStatus.REJECTED else None,
                updated_at=now,
            )
        )
        if not moved:
            raise RefundClosed(f"Refund #{refund.id} was decided meanwhile.")
        refund.status = status
        refund.decided_by_id = actor.id

    async def recent(self, actor: Person, limit: int = RECENT) -> list[Refund]:
        require_manager(actor, "see refunds")
        return list(
            await Refund.all()
            .order_by("-id")
            .limit(limit)
            .prefetch_related("payment", "person", "requested_by")
        )


async def _locked(refund_id: int, conn: BaseDBAsyncClient) -> Refund:
    refund = await Refund.filter(id=refund_id).select_for_update().using_db(conn).first()
    if refund is None:
        raise RefundNotFound(f"There is no refund #{refund_id}. Send /refunds for the list.")
    return refund


def _still_open(refund: Refund) -> None:
    if refund.status is not RefundStatus.REQUESTED:
        raise RefundClosed(f"Refund #{refund.id} is already {refund.status.value}.")
