"""Operator results (B2C, Transaction Status, Account Balance, Reversal) from the HTTP request
to the payout or refund: the one owner of the daraja_result table. Results about refunds are
handed to `services/refunds/results.py`.

`receive` stores the raw body and commits before Daraja hears 200 (Safaricom never resends a
result, so nothing else is waited for); the pay sender then applies each stored row once
(`apply_pending`): the row is claimed by a conditional update of its status in the
transaction that applies it, so two instances never apply one row, and a row a crash left
unapplied is simply still RECEIVED for the next round.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    CallbackStatus,
    OperatorResult,
    Payout,
    PayoutStatus,
    PaySheet,
    PaySheetStatus,
)
from services.daraja import (
    AccountBalanceResult,
    B2CResult,
    MalformedCallback,
    Product,
    ReversalResult,
    TransactionState,
    TransactionStatusResult,
    Verdict,
    parse_queue_timeout,
    parse_result,
)
from services.daraja.results import key
from services.payroll import _outcomes as outcomes
from services.refunds import results as refund_results
from services.worker import Failure, isolated

if TYPE_CHECKING:
    from services.payroll.paying import PayRuns
    from services.refunds import Refunds

log = logging.getLogger(__name__)

PRODUCTS = (Product.B2C, Product.TRANSACTION_STATUS, Product.ACCOUNT_BALANCE, Product.REVERSAL)
APPLY_BATCH = 50
IP_MAX = 64
NOTE_MAX = 300


class OperatorResults:
    def __init__(self, runs: PayRuns) -> None:
        self.runs = runs
        self.clock = runs.clock
        self.refunds: Refunds | None = None  # set by the container beside them
        self._applied = asyncio.Event()  # set after every round of applying

    async def receive(
        self, product: Product, body: bytes, remote_ip: str | None, *, timeout: bool = False
    ) -> None:
        """Store a result post as received (committed on return). Raises MalformedCallback for
        a body that cannot be a result, after storing it for the operator to look at."""
        text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
        problem: str | None = None
        try:
            data = json.loads(text)
            if timeout:
                parse_queue_timeout(data, product)
            else:
                parse_result(data, product)
        except (ValueError, MalformedCallback) as exc:
            problem = exc.reason if isinstance(exc, MalformedCallback) else "not JSON"
        await OperatorResult.create(
            product=product.value,
            timeout=timeout,
            body=text,
            remote_ip=remote_ip[:IP_MAX] if remote_ip else None,
            status=CallbackStatus.RECEIVED if problem is None else CallbackStatus.UNMATCHED,
            note=f"malformed: {problem}"[:NOTE_MAX] if problem else None,
            received_at=self.clock.now(),
        )
        if problem is not None:
            raise MalformedCallback(problem)
        self.runs.wake()

    async def apply_pending(self, limit: int = APPLY_BATCH) -> int:
        ids = [
            row.id
            for row in await OperatorResult.filter(status=CallbackStatus.RECEIVED)
            .order_by("id")
            .limit(limit)
            .only("id")
        ]
        for row_id in ids:
            outcome = await isolated(
                f"operator result {row_id}", functools.partial(self._apply, row_id)
            )
            if isinstance(outcome, Failure):
                # Left RECEIVED: tried again next round (the sender backs off).
                raise outcome.error
        self._applied.set()
        return len(ids)

    async def settled(self) -> None:
        """Until no stored result waits to be applied (for tests and the demo)."""
        while True:
            self._applied.clear()  # before looking, so a round in between is not missed
            if not await OperatorResult.filter(status=CallbackStatus.RECEIVED).exists():
                return
            await self._applied.wait()

    async def _apply(self, row_id: int) -> None:
        cleared = False
        try:
            async with in_transaction() as conn:
                # Locked (PostgreSQL) so a second instance waits, then finds it applied.
                row = (
                    await OperatorResult.filter(id=row_id).select_for_update().using_db(conn).get()
                )
                if row.status is not CallbackStatus.RECEIVED:
                    return
                status, note, cleared = await self._dispatch(row, conn)
                taken = (
                    await OperatorResult.filter(id=row_id, status=CallbackStatus.RECEIVED)
                    .using_db(conn)
                    .update(status=status, note=note[:NOTE_MAX], applied_at=self.clock.now())
                )
                if not taken:
                    raise _AppliedElsewhere
        except _AppliedElsewhere:
            return  # another instance applied it first; ours was rolled back
        if cleared:
            self.runs.wake()

    async def _dispatch(
        self, row: OperatorResult, conn: BaseDBAsyncClient
    ) -> tuple[CallbackStatus, str, bool]:
        product = Product(row.product)
        data = json.loads(row.body)
        if row.timeout:
            gave_up = parse_queue_timeout(data, product)
            if self.refunds is not None and product in (Product.B2C, Product.REVERSAL):
                applied = await refund_results.timeout(self.refunds, gave_up, conn)
                if applied is not None:
                    return (*applied, False)
            if product is Product.B2C:
                payout = await _payout(gave_up.originator_conversation_id, conn)
                if payout is None:
                    return CallbackStatus.UNMATCHED, "queue timeout for no payout of ours", False
                await outcomes.mark_unknown(
                    self.runs, payout, "M-Pesa's queue timed out; checking", conn
                )
                await outcomes.settle_sheet(self.runs, payout.sheet_id, conn)  # type: ignore[attr-defined]
                return CallbackStatus.APPLIED, "queue timeout: payout unknown", False
            if product is Product.ACCOUNT_BALANCE:
                n = await self._stop_checks(
                    "M-Pesa did not answer the balance check. Press Pay again.", conn, alert=False
                )
                return CallbackStatus.APPLIED, f"queue timeout: {n} run(s) stopped", False
            if product is Product.REVERSAL:
                return CallbackStatus.UNMATCHED, "queue timeout for no refund of ours", False
            return CallbackStatus.APPLIED, "queue timeout: asked again by the sweep", False
        result = parse_result(data, product)
        refunds = self.refunds
        if isinstance(result, ReversalResult):
            if refunds is None:
                return CallbackStatus.UNMATCHED, "reversal result with refunds off", False
            applied = await refund_results.reversal(refunds, result, conn)
            assert applied is not None
            return (*applied, False)
        if refunds is not None and isinstance(result, B2CResult | TransactionStatusResult):
            about = (
                await refund_results.b2c(refunds, result, conn)
                if isinstance(result, B2CResult)
                else await refund_results.status(refunds, result, conn)
            )
            if about is not None:
                return (*about, False)
        if isinstance(result, B2CResult):
            return await self._b2c(result, conn)
        if isinstance(result, TransactionStatusResult):
            return await self._status(result, conn)
        assert isinstance(result, AccountBalanceResult)
        return await self._balance(result, conn)

    async def _b2c(
        self, result: B2CResult, conn: BaseDBAsyncClient
    ) -> tuple[CallbackStatus, str, bool]:
        payout = await _payout(result.originator_conversation_id, conn)
        if payout is None:
            return CallbackStatus.UNMATCHED, "no payout with that OriginatorConversationID", False
        runs = self.runs
        verdict = result.verdict
        if verdict is Verdict.SUCCESS:
            receipt = result.receipt or result.transaction_id
            if receipt is None:
                await outcomes.mark_unknown(runs, payout, "paid without a receipt; checking", conn)
                changed, note = True, "success without a receipt: asked again"
            else:
                paid = outcomes.Paid(
                    receipt, result.amount, result.completed_at, "0", result.result_desc
                )
                changed = await outcomes.mark_paid(runs, payout, paid, conn)
                note = f"paid {receipt}"
        elif verdict is Verdict.UNKNOWN:
            changed = await outcomes.mark_unknown(runs, payout, result.reason, conn)
            note = f"result {result.result_code}: unknown"
        else:
            changed = await outcomes.mark_failed(
                runs, payout, result.result_code, result.result_desc, result.reason, conn
            )
            note = f"failed {result.result_code}"
            if changed and verdict is Verdict.STOP_RUN:
                await outcomes.stop(runs, payout.sheet_id, result.reason, conn)  # type: ignore[attr-defined]
                note += ": run stopped"
        if not changed:
            return CallbackStatus.DUPLICATE, f"payout already {payout.status.value}", False
        await outcomes.settle_sheet(runs, payout.sheet_id, conn)  # type: ignore[attr-defined]
        return CallbackStatus.APPLIED, note, False

    async def _status(
        self, result: TransactionStatusResult, conn: BaseDBAsyncClient
    ) -> tuple[CallbackStatus, str, bool]:
        asked = result.original_originator_id or result.reference.get(key("Occasion"))
        payout = await _payout(str(asked), conn) if asked else None
        if payout is None:
            return CallbackStatus.UNMATCHED, "Transaction Status about no payout of ours", False
        runs = self.runs
        state = result.state
        changed = False
        if state is TransactionState.COMPLETED:
            receipt = result.receipt or result.transaction_id
            if receipt is not None:
                paid = outcomes.Paid(
                    receipt,
                    result.amount,
                    result.finalised_at,
                    "0",
                    "confirmed by Transaction Status",
                )
                changed = await outcomes.mark_paid(runs, payout, paid, conn)
            note = f"completed {receipt}"
        elif state is TransactionState.FAILED:
            reason = f"M-Pesa says it failed: {result.result_desc or result.reason}"
            changed = await outcomes.mark_failed(
                runs, payout, result.result_code, result.result_desc, reason, conn
            )
            note = "failed"
        elif state is TransactionState.NOT_FOUND:
            sent = payout.sent_at
            if sent is None or sent <= self.clock.now() - runs.not_found_after:
                changed = await outcomes.mark_failed(
                    runs,
                    payout,
                    result.result_code,
                    result.result_desc,
                    "M-Pesa has no record of this payout: Retry failed sends it again",
                    conn,
                )
                note = "no such transaction: failed"
            else:
                note = "no such transaction yet: asked again later"
        elif state is TransactionState.QUERY_FAILED:
            note = f"query failed {result.result_code}"
            if result.verdict is Verdict.STOP_RUN:
                changed = await outcomes.stop(runs, payout.sheet_id, result.reason, conn)  # type: ignore[attr-defined]
        else:
            note = "pending: asked again later"
        if changed:
            await outcomes.settle_sheet(runs, payout.sheet_id, conn)  # type: ignore[attr-defined]
        return CallbackStatus.APPLIED, note, False

    async def _balance(
        self, result: AccountBalanceResult, conn: BaseDBAsyncClient
    ) -> tuple[CallbackStatus, str, bool]:
        runs = self.runs
        if not result.succeeded:
            n = await self._stop_checks(
                f"The balance check failed: {result.reason}",
                conn,
                alert=result.verdict is Verdict.STOP_RUN,
            )
            return CallbackStatus.APPLIED, f"balance query failed: {n} run(s) stopped", False
        available = result.utility_available
        if available is None:
            n = await self._stop_checks(
                "M-Pesa's balance answer had no Utility account. Press Pay again.", conn
            )
            return CallbackStatus.APPLIED, f"no Utility account: {n} run(s) stopped", False
        checking = list(
            await PaySheet.filter(status=PaySheetStatus.CHECKING)
            .order_by("balance_asked_at", "id")
            .select_for_update()
            .using_db(conn)
        )
        if not checking:
            return CallbackStatus.DUPLICATE, "no run waits for a balance", False
        # Runs cleared before and not yet sent have a claim on the same money.
        promised = sum(
            p.amount
            for p in await Payout.filter(
                status=PayoutStatus.QUEUED, sheet__status=PaySheetStatus.PAYING
            ).using_db(conn)
        )
        left = available - promised
        cleared = 0
        now = self.clock.now()
        for sheet in checking:
            queued = await Payout.filter(sheet_id=sheet.id, status=PayoutStatus.QUEUED).using_db(
                conn
            )
            net = sum(p.amount for p in queued)
            fees = runs.fee_allowance * len(queued)
            need = net + fees
            if need <= left:
                left -= need
                await (
                    PaySheet.filter(id=sheet.id, status=PaySheetStatus.CHECKING)
                    .using_db(conn)
                    .update(status=PaySheetStatus.PAYING, updated_at=now)
                )
                sheet.status = PaySheetStatus.PAYING
                await runs.publish(sheet, conn)
                cleared += 1
                continue
            await outcomes.stop(
                runs,
                sheet.id,
                f"Top up KES {need - max(left, 0):,} first: the Utility account has "
                f"KES {available:,} and this run needs KES {need:,} (KES {net:,} to pay, "
                f"up to KES {fees:,} in fees).",
                conn,
                states=(PaySheetStatus.CHECKING,),
            )
        return CallbackStatus.APPLIED, f"balance KES {available:,}: {cleared} cleared", cleared > 0

    async def _stop_checks(
        self, reason: str, conn: BaseDBAsyncClient, *, alert: bool = True
    ) -> int:
        stopped = 0
        checking = await PaySheet.filter(status=PaySheetStatus.CHECKING).using_db(conn).only("id")
        for sheet_id in (s.id for s in checking):
            if await outcomes.stop(
                self.runs,
                sheet_id,
                reason,
                conn,
                states=(PaySheetStatus.CHECKING,),
                alert=alert,
            ):
                stopped += 1
        return stopped


class _AppliedElsewhere(Exception):
    """The row was applied by another instance while this one applied it: rolled back."""


async def _payout(originator_id: str, conn: BaseDBAsyncClient) -> Payout | None:
    return (
        await Payout.filter(originator_conversation_id=originator_id)
        .select_for_update()
        .using_db(conn)
        .first()
    )
