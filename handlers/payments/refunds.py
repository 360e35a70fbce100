"""/refund and /refunds, the Refund button on a paid payment, and Approve / Reject (or
Withdraw) on a refund's card. The refund's card itself comes from the service, through the
outbox, and changes as the refund moves on."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler

from bot.context import CallsheetContext
from handlers.payments._form import Field, guided
from handlers.shared import chat_id, managers_only, reply, tell_refusal
from models import Payment, Person
from services.buttons.refunds import ApproveRefund, RejectRefund, StartRefund
from services.errors import CallsheetError
from services.refunds import (
    RefundAsk,
    Refunds,
    RefundsOff,
    clean_refund_reason,
    paid_of,
    parse_payment,
    parse_refund_amount,
)

OFF = (
    "M-Pesa payments are not set up on this bot yet, so nothing can be refunded. "
    "An admin must add the Daraja settings."
)


def _refunds(context: CallsheetContext) -> Refunds:
    service = context.services.refunds
    if service is None:
        raise RefundsOff(OFF)
    return service


async def _check_payment(text: str, context: CallsheetContext) -> None:
    parse_payment(text)


async def _check_amount(text: str, context: CallsheetContext) -> None:
    parse_refund_amount(text)


async def _check_reason(text: str, context: CallsheetContext) -> None:
    clean_refund_reason(text)


def _fill(parts: list[str]) -> list[str]:
    """`/refund 12 | reason`: the amount left out means all that is left."""
    return [parts[0], "all", parts[1]] if len(parts) == 2 else parts


async def _finish(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    ask = RefundAsk(
        parse_payment(values[0]), parse_refund_amount(values[1]), clean_refund_reason(values[2])
    )
    await _refunds(context).request(actor, ask, chat_id=chat_id(update))
    # The card (with what happens next) follows from the outbox.


async def _pressed_refund(update: Update, context: CallsheetContext) -> list[str] | None:
    """The Refund button: the payment is given; how much and why are asked."""
    query = update.callback_query
    assert query is not None
    press = StartRefund.parse(query.data)
    assert press is not None
    payment = await Payment.get_or_none(id=press.payment_id)
    if payment is None:
        await query.answer(f"❌ There is no payment #{press.payment_id}.", show_alert=True)
        return None
    try:
        _refunds(context)
    except CallsheetError as exc:
        await tell_refusal(update, exc)
        return None
    await reply(update, context, "payments/refund_start", payment=payment, paid=paid_of(payment))
    return [str(payment.id)]


async def _decide(
    update: Update,
    context: CallsheetContext,
    press: ApproveRefund | RejectRefund | None,
) -> None:
    """Approve or Reject (Withdraw) pressed on a refund's card: the card itself changes
    through the outbox; the press gets a short answer."""
    query = update.callback_query
    assert query is not None and context.person is not None and press is not None
    try:
        refunds = _refunds(context)
        if isinstance(press, ApproveRefund):
            refund = await refunds.approve(context.person, press.refund_id, chat_id=chat_id(update))
            answer = f"✅ Approved: refund #{refund.id} is being sent"
        else:
            refund = await refunds.reject(context.person, press.refund_id, chat_id=chat_id(update))
            answer = f"Refund #{refund.id} {refund.status.value}: nothing was sent"
    except CallsheetError as exc:
        await tell_refusal(update, exc)
        return
    await query.answer(answer)


@managers_only("approve refunds")
async def approve_pressed(update: Update, context: CallsheetContext) -> None:
    assert update.callback_query is not None
    await _decide(update, context, ApproveRefund.parse(update.callback_query.data))


@managers_only("reject refunds")
async def reject_pressed(update: Update, context: CallsheetContext) -> None:
    assert update.callback_query is not None
    await _decide(update, context, RejectRefund.parse(update.callback_query.data))


@managers_only("see refunds")
async def refunds_command(update: Update, context: CallsheetContext) -> None:
    assert context.person is not None
    refunds = await _refunds(context).recent(context.person)
    await reply(update, context, "payments/refunds", refunds=refunds)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(
        guided(
            "refund",
            "refund payments",
            [
                Field("Which payment? Send its number (the # on /payments).", _check_payment),
                Field(
                    "How much goes back, in whole shillings? Send all for the whole payment.",
                    _check_amount,
                ),
                Field("Why does it go back?", _check_reason),
            ],
            _finish,
            fill=_fill,
            button=(StartRefund.matches, _pressed_refund),
        )
    )
    application.add_handler(CommandHandler("refunds", refunds_command))
    application.add_handler(CallbackQueryHandler(approve_pressed, pattern=ApproveRefund.matches))
    application.add_handler(CallbackQueryHandler(reject_pressed, pattern=RejectRefund.matches))
