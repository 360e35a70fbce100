"""The buttons on a payment's messages (Check status, Resend), on a repeated request (Send
again, Don't send), and the answer to any pay: press nothing else took."""

from __future__ import annotations

from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler

from bot.context import CallsheetContext
from handlers.common import current_person
from handlers.payments._common import payments_of
from handlers.payments.request import push, take_draft
from handlers.shared import render
from models import Person
from services.buttons import in_area
from services.buttons.payments import AREA, CheckStatus, DontSend, ResendPayment, SendAgain

EXPIRED = "This request has expired; send /request again."


async def _pressed(update: Update, context: CallsheetContext) -> tuple[CallbackQuery, Person]:
    query = update.callback_query
    assert query is not None
    actor = await current_person(update, context)
    assert actor is not None
    return query, actor


async def check_status(update: Update, context: CallsheetContext) -> None:
    query, actor = await _pressed(update, context)
    press = CheckStatus.parse(query.data)
    assert press is not None
    payment = await payments_of(context).check_status(actor, press.payment_id)
    await query.answer(f"Payment #{payment.id}: {payment.status.value}")


async def resend(update: Update, context: CallsheetContext) -> None:
    query, actor = await _pressed(update, context)
    press = ResendPayment.parse(query.data)
    assert press is not None
    payment = await payments_of(context).resend(actor, press.payment_id)
    await query.answer(f"Sent again as payment #{payment.id}")


async def send_again(update: Update, context: CallsheetContext) -> None:
    query, actor = await _pressed(update, context)
    press = SendAgain.parse(query.data)
    assert press is not None
    draft = take_draft(context, press.token)
    if draft is None:
        await query.answer(EXPIRED, show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(
        render(context, "payments/sending_again", payer=draft.payer_label)
    )
    chat = update.effective_chat
    assert chat is not None

    async def send(text: str, markup: InlineKeyboardMarkup | None) -> object:
        return await context.bot.send_message(chat.id, text, reply_markup=markup)

    await push(send, context, actor, draft, confirmed=True)


async def dont_send(update: Update, context: CallsheetContext) -> None:
    query, _ = await _pressed(update, context)
    press = DontSend.parse(query.data)
    assert press is not None
    if take_draft(context, press.token) is None:
        await query.answer(EXPIRED, show_alert=True)
        return
    await query.answer()
    await query.edit_message_text(render(context, "payments/not_sent"))


async def stale(update: Update, context: CallsheetContext) -> None:
    """A pay: press no handler took: an old message, a form already closed, or forged."""
    assert update.callback_query is not None
    await update.callback_query.answer("That button is no longer valid.", show_alert=True)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """After every pay: conversation (handlers/payments/batch.py too): what none of them took."""
    application.add_handler(CallbackQueryHandler(check_status, pattern=CheckStatus.matches))
    application.add_handler(CallbackQueryHandler(resend, pattern=ResendPayment.matches))
    application.add_handler(CallbackQueryHandler(send_again, pattern=SendAgain.matches))
    application.add_handler(CallbackQueryHandler(dont_send, pattern=DontSend.matches))
    application.add_handler(CallbackQueryHandler(stale, pattern=in_area(AREA)))
