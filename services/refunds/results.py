"""Results about refunds, applied by `services/payroll/results.py` in the transaction that
claims the stored result row. Each function returns None when the result is not about a
refund (it is then a payout's), or the row's status and note.

A refund is found by our id (B2C's OriginatorConversationID, echoed in a reversal's and a
Transaction Status query's Occasion) or by Daraja's id for a reversal.
"""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q

from models import CallbackStatus, Payment, Refund, RefundMethod
from services.daraja import (
    B2CResult,
    QueueTimeout,
    ReversalResult,
    TransactionState,
    TransactionStatusResult,
    Verdict,
)
from services.daraja.results import key
from services.refunds import _outcomes as outcomes
from services.refunds._service import RefundsCore

Applied = tuple[CallbackStatus, str] | None
PREFIX = "cs-ref-"


async def find(conn: BaseDBAsyncClient, *ids: object) -> Refund | None:
    wanted = sorted({str(i) for i in ids if i})
    if not wanted:
        return None
    return (
        await Refund.filter(
            Q(originator_conversation_id__in=wanted) | Q(daraja_originator_id__in=wanted)
        )
        .select_for_update()
        .using_db(conn)
        .first()
    )


def _done(changed: bool, note: str, refund: Refund) -> Applied:
    if not changed:
        return CallbackStatus.DUPLICATE, f"refund already {refund.status.value}"
    return CallbackStatus.APPLIED, note


async def timeout(core: RefundsCore, gave_up: QueueTimeout, conn: BaseDBAsyncClient) -> Applied:
    refund = await find(conn, gave_up.originator_conversation_id)
    if refund is None:
        return None
    changed = await outcomes.mark_unknown(core, refund, "M-Pesa's queue timed out; checking", conn)
    return _done(changed, "queue timeout: refund unknown", refund)


async def reversal(core: RefundsCore, result: ReversalResult, conn: BaseDBAsyncClient) -> Applied:
    refund = await find(
        conn, result.reference.get(key("Occasion")), result.originator_conversation_id
    )
    if refund is None:
        return CallbackStatus.UNMATCHED, "reversal result for no refund of ours"
    if result.result_code == "R000001":
        changed = await outcomes.mark_unknown(
            core, refund, "M-Pesa says it was already reversed; checking", conn, ask_by_receipt=True
        )
        return _done(changed, "already reversed: asked", refund)
    return await _settle(core, refund, result.verdict, result, result.transaction_id, conn)


async def b2c(core: RefundsCore, result: B2CResult, conn: BaseDBAsyncClient) -> Applied:
    if not result.originator_conversation_id.startswith(PREFIX):
        return None
    refund = await find(conn, result.originator_conversation_id)
    if refund is None:
        return CallbackStatus.UNMATCHED, "B2C result for no refund of ours"
    receipt = result.receipt or result.transaction_id
    return await _settle(core, refund, result.verdict, result, receipt, conn)


async def _settle(
    core: RefundsCore,
    refund: Refund,
    verdict: Verdict,
    result: ReversalResult | B2CResult,
    receipt: str | None,
    conn: BaseDBAsyncClient,
) -> Applied:
    if verdict is Verdict.SUCCESS:
        made = outcomes.Made(receipt, result.completed_at, "0", result.result_desc)
        return _done(await outcomes.mark_refunded(core, refund, made, conn), "refunded", refund)
    if verdict is Verdict.UNKNOWN:
        changed = await outcomes.mark_unknown(core, refund, result.reason, conn)
        return _done(changed, f"result {result.result_code}: unknown", refund)
    changed = await outcomes.mark_failed(
        core, refund, result.result_code, result.result_desc, result.reason, conn
    )
    return _done(changed, f"failed {result.result_code}", refund)


async def status(
    core: RefundsCore, result: TransactionStatusResult, conn: BaseDBAsyncClient
) -> Applied:
    occasion = result.reference.get(key("Occasion"))
    ours = [i for i in (occasion, result.original_originator_id) if str(i or "").startswith(PREFIX)]
    if not ours:
        return None
    refund = await find(conn, *ours)
    if refund is None:
        return CallbackStatus.UNMATCHED, "Transaction Status about no refund of ours"
    payment = await Payment.filter(id=refund.payment_id).using_db(conn).get()  # type: ignore[attr-defined]
    now = core.clock.now()
    long_enough = refund.sent_at is None or refund.sent_at <= now - core.not_found_after
    state = result.state
    if (
        refund.method is RefundMethod.REVERSAL
        and result.receipt is not None
        and result.receipt == payment.receipt
    ):
        # Asked about the payment itself: reversed, or still standing.
        word = str(result.param("TransactionStatus") or "").strip().lower()
        if word == "reversed":
            made = outcomes.Made(None, result.finalised_at, "0", "reversed, by Transaction Status")
            return _done(await outcomes.mark_refunded(core, refund, made, conn), "reversed", refund)
        if state is TransactionState.COMPLETED and long_enough:
            changed = await outcomes.mark_failed(
                core,
                refund,
                result.result_code,
                result.result_desc,
                f"M-Pesa has not reversed payment #{payment.id}: ask again with /refund",
                conn,
            )
            return _done(changed, "payment not reversed: failed", refund)
        return CallbackStatus.APPLIED, "payment not reversed yet: asked again later"
    if state is TransactionState.COMPLETED:
        receipt = result.receipt or result.transaction_id
        made = outcomes.Made(receipt, result.finalised_at, "0", "confirmed by Transaction Status")
        return _done(await outcomes.mark_refunded(core, refund, made, conn), "refunded", refund)
    if state is TransactionState.FAILED:
        reason = f"M-Pesa says it failed: {result.result_desc or result.reason}"
        changed = await outcomes.mark_failed(
            core, refund, result.result_code, result.result_desc, reason, conn
        )
        return _done(changed, "failed", refund)
    if state is TransactionState.NOT_FOUND and long_enough:
        changed = await outcomes.mark_failed(
            core,
            refund,
            result.result_code,
            result.result_desc,
            "M-Pesa has no record of this refund: nothing was given back",
            conn,
        )
        return _done(changed, "no such transaction: failed", refund)
    return CallbackStatus.APPLIED, f"{state.value}: asked again later"
