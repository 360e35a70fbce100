"""Payments no callback settled: asking M-Pesa (STK query), and giving them up as unknown.

A payment still pending `query_after` its push is asked about; one M-Pesa still cannot
settle after `give_up_after` is marked unknown, for a person to check with the payer. The
Reconciler is the background loop that does this, after applying stranded callbacks.
"""

from __future__ import annotations

import functools
import logging
import math
from datetime import timedelta
from typing import TYPE_CHECKING

from tortoise.expressions import Q

from models import Payment, PaymentStatus
from services.daraja import (
    DarajaClient,
    DarajaError,
    DarajaUnavailable,
    QueryStatus,
    exchanges_for,
    result_kind,
)
from services.payments.errors import NothingToCheck, PaymentError, TooSoon
from services.payments.intake import Intake
from services.payments.settlement import Settlement, Settler
from services.payments.states import status_for
from services.worker import Failure, Worker, isolated

if TYPE_CHECKING:
    from services.payments.requests import PaymentService

log = logging.getLogger(__name__)

CHECK_EVERY = timedelta(seconds=30)  # Check status asks M-Pesa at most this often per payment


class Reconciliation:
    def __init__(
        self,
        daraja: DarajaClient,
        settler: Settler,
        intake: Intake,
        *,
        query_after: timedelta,
        give_up_after: timedelta,
    ) -> None:
        self.daraja = daraja
        self.settler = settler
        self.intake = intake
        self.clock = settler.clock
        self.query_after = query_after
        self.give_up_after = give_up_after

    async def mark_unknown(self, payment_id: int, reason: str) -> bool:
        """Give an open payment up as unknown; a callback that waited for it may match now."""
        marked = await self.settler.mark_unknown(payment_id, reason)
        if marked:
            await self.intake.retry_unmatched()
        return marked

    async def check_now(self, payment: Payment) -> None:
        """The Check status button: one STK query per payment per CHECK_EVERY, however many
        presses race for it (Daraja's quota is shared with everyone's pushes)."""
        if payment.checkout_request_id is not None:
            now = self.clock.now()
            claimed = (
                await Payment.filter(id=payment.id)
                .filter(Q(queried_at__isnull=True) | Q(queried_at__lte=now - CHECK_EVERY))
                .update(queried_at=now, updated_at=now)
            )
            if not claimed:
                last = (await Payment.get(id=payment.id)).queried_at or now
                wait = max(1, math.ceil((last + CHECK_EVERY - now).total_seconds()))
                raise TooSoon(
                    f"M-Pesa was just asked about payment #{payment.id}. "
                    f"You can check again in {wait} seconds."
                )
        await self.query(payment, by_hand=True)

    async def reconcile_due(self) -> int:
        """Query payments still pending after `query_after`; returns how many were asked about."""
        now = self.clock.now()
        cutoff = now - self.query_after
        # Still INITIATED this long after: the process stopped between saving the request and
        # hearing Daraja's answer. A prompt may be on the phone; only a person can tell.
        interrupted = await Payment.filter(
            status=PaymentStatus.INITIATED, created_at__lte=cutoff
        ).only("id")
        for stuck in interrupted:
            await isolated(
                f"payment {stuck.id}",
                functools.partial(
                    self.mark_unknown,
                    stuck.id,
                    "the request was interrupted before M-Pesa answered: a prompt may be on the "
                    "payer's phone. Ask them before resending",
                ),
            )
        due = await Payment.filter(
            status=PaymentStatus.PENDING,
            checkout_request_id__isnull=False,
            created_at__lte=cutoff,
        ).order_by("id")
        asked = 0
        for payment in due:
            if payment.queried_at is not None and payment.queried_at > cutoff:
                continue
            asked += 1
            # Each payment on its own: one that cannot be checked never stops the others.
            outcome = await isolated(
                f"payment {payment.id}: query",
                functools.partial(self.query, payment, by_hand=False),
            )
            if isinstance(outcome, Failure) and now - payment.created_at >= self.give_up_after:
                await isolated(
                    f"payment {payment.id}",
                    functools.partial(
                        self.mark_unknown,
                        payment.id,
                        f"it could not be checked with M-Pesa ({outcome.text(200)}); "
                        "ask the payer and check the M-Pesa statement",
                    ),
                )
        return asked

    async def query(self, payment: Payment, *, by_hand: bool) -> None:
        """Ask M-Pesa about one payment and settle it by the answer; `by_hand` (a person
        pressed Check status) turns a failure into their answer."""
        now = self.clock.now()
        await Payment.filter(id=payment.id).update(queried_at=now, updated_at=now)
        if payment.checkout_request_id is None:
            if by_hand:
                raise NothingToCheck(
                    "M-Pesa never gave this request an id, so it cannot be looked up. "
                    "Ask the payer whether they got a prompt before resending."
                )
            return
        try:
            with exchanges_for(payment.id):
                result = await self.daraja.stk_query(payment.checkout_request_id)
        except DarajaError as exc:
            log.warning("payment %s: query failed: %s", payment.id, exc)
            if by_hand and isinstance(exc, DarajaUnavailable):
                # It never reached Daraja, so it used none of the quota: the next press may ask.
                await Payment.filter(id=payment.id).update(
                    queried_at=payment.queried_at, updated_at=self.clock.now()
                )
            if by_hand:
                raise PaymentError(
                    "M-Pesa could not be asked right now; try Check status again in a minute."
                ) from exc
            return
        if result.status is QueryStatus.COMPLETED:
            await self.settler.settle_now(
                payment.id,
                Settlement(
                    PaymentStatus.COMPLETED,
                    "paid",
                    result_code=0,
                    result_desc=result.result_desc[:255],
                    paid_amount=payment.amount,
                ),
            )
        elif result.status is QueryStatus.FAILED:
            code = result.result_code if result.result_code is not None else -1
            await self.settler.settle_now(
                payment.id,
                Settlement(
                    status_for(result_kind(code)),
                    result.reason,
                    result_code=code,
                    result_desc=result.result_desc[:255],
                ),
            )
        elif now - payment.created_at >= self.give_up_after:
            reason = (
                "M-Pesa still says the payment is being processed"
                if result.status is QueryStatus.PENDING
                else "M-Pesa has no record of this request"
            )
            await self.mark_unknown(
                payment.id,
                f"{reason} after {int(self.give_up_after.total_seconds() // 60)} minutes; "
                "ask the payer and check the M-Pesa statement",
            )
        log.info("payment %s queried: %s", payment.id, result.status.value)


class Reconciler(Worker):
    """The background loop that asks Daraja about payments no callback has settled."""

    name = "reconciler"

    def __init__(self, payments: PaymentService, *, every_seconds: float) -> None:
        super().__init__(idle_seconds=every_seconds)
        self.payments = payments
        self.every_seconds = every_seconds

    async def run_due(self) -> int:
        """The sweep of stranded callbacks, then the queries, each on its own: a callback
        that cannot be applied never stops the queries. Returns how many were queried."""
        await isolated("applying stranded callbacks", self.payments.intake.apply_stranded)
        reconciliation = self.payments.reconciliation
        asked = await isolated("querying open payments", reconciliation.reconcile_due)
        return 0 if isinstance(asked, Failure) else asked

    async def round(self) -> int:
        await self.run_due()
        return 0  # queries are paced: every round is followed by the pause
