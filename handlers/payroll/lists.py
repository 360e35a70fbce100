"""/payruns for managers (pay sheets by event and status) and /pay for everyone on the crew
(their own pay lines, payslips once paid, and this year's earnings)."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.common import current_person
from handlers.shared import args_text, managers_only, reply
from services.payroll import my_pay, pay_runs


@managers_only("see pay runs")
async def payruns_command(update: Update, context: CallsheetContext) -> None:
    assert context.person is not None
    label, rows = await pay_runs(context.person, args_text(update))
    await reply(update, context, "payroll/runs", label=label, rows=rows)


async def pay_command(update: Update, context: CallsheetContext) -> None:
    person = await current_person(update, context)
    assert person is not None  # unknown people are stopped before any feature handler
    services = context.services
    pay = await my_pay(person, services.clock.now(), services.settings.tz)
    await reply(update, context, "payroll/mine", pay=pay)


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("payruns", payruns_command))
    application.add_handler(CommandHandler("pay", pay_command))
