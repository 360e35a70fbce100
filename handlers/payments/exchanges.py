"""/daraja <payment id>: a payment's exchanges with Daraja, secrets redacted."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import CallsheetContext
from handlers.shared import args_text, managers_only, reply
from services.ids import parse_id
from services.payments import PaymentError
from services.payments.exchanges import payment_exchanges


@managers_only("see Daraja exchanges")
async def daraja_command(update: Update, context: CallsheetContext) -> None:
    assert context.person is not None
    wanted = args_text(update).lstrip("#")
    payment_id = parse_id(wanted) if wanted else None
    if payment_id is None:
        raise PaymentError("Send the payment number, like /daraja 12 (see /payments).")
    payment, exchanges, left_out = await payment_exchanges(context.person, payment_id)
    await reply(
        update,
        context,
        "payments/exchanges",
        payment=payment,
        exchanges=exchanges,
        left_out=left_out,
    )


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("daraja", daraja_command))
