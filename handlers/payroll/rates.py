"""/rates: the day rates (managers only); with arguments, sets or clears one."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.shared import args_text, chat_id, managers_only, reply
from services.payroll import PayrollService


def _payroll(context: CallsheetContext) -> PayrollService:
    return context.services.payroll


@managers_only("see and set day rates")
async def rates_command(update: Update, context: CallsheetContext) -> None:
    assert context.person is not None
    rates = _payroll(context).rates
    text = args_text(update)
    if not text:
        await reply(update, context, "payroll/rates", book=await rates.book(context.person))
        return
    change = await rates.set_from_text(context.person, text, chat_id=chat_id(update))
    await reply(update, context, "payroll/rate_set", change=change)


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("rates", rates_command))
