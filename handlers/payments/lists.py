"""/payments, /balances and /balance: payment history, who owes, and what I owe."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import CallsheetContext
from handlers.common import current_person
from handlers.shared import reply
from models import LedgerKind, Payment, PaymentStatus
from services.phones import display_phone


@dataclass(frozen=True)
class PaymentRow:
    """One payment as a list shows it (templates/replies/payments/_payment.j2)."""

    payment: Payment
    mark: str
    who: str  # the payer, on lists of everyone's payments
    status: str


def payment_rows(payments: Iterable[Payment], *, with_person: bool) -> list[PaymentRow]:
    return [_row(p, with_person=with_person) for p in payments]


def _row(payment: Payment, *, with_person: bool) -> PaymentRow:
    marks = {PaymentStatus.COMPLETED: "✅", PaymentStatus.PENDING: "⏳"}
    mark = marks.get(payment.status, "⏳" if payment.status is PaymentStatus.UNKNOWN else "❌")
    if payment.flag_reason:
        mark = "❌"
    who = ""
    if with_person:
        person = payment.person
        who = person.name if person is not None else display_phone(payment.phone)
    status = payment.status.value
    if payment.status is PaymentStatus.COMPLETED:
        status = f"paid · receipt {payment.receipt or 'not yet known'}"
        if payment.flag_resolved_at is not None and not payment.flag_reason:
            status += f" · {payment.flag_resolution or ''}"
        if payment.flag_reason:
            status = f"flagged: {payment.flag_reason}"
            if payment.flag_resolved_at is not None:
                mark = "✅"
                status += f" · resolved: {payment.flag_resolution or ''}"
    elif payment.error:
        status += f": {payment.error}"
    return PaymentRow(payment, mark, who, status)


async def payments_command(update: Update, context: CallsheetContext) -> None:
    actor = await current_person(update, context)
    assert actor is not None
    # The service refuses crew, pointing them to /balance.
    query = " ".join(context.args or [])
    label, payments = await context.services.ledger.payments(actor, query)
    rows = payment_rows(payments, with_person=True)
    await reply(update, context, "payments/history", label=label, rows=rows)


async def balances_command(update: Update, context: CallsheetContext) -> None:
    actor = await current_person(update, context)
    assert actor is not None
    owing = await context.services.ledger.balances(actor)
    await reply(update, context, "payments/balances", owing=owing)


async def balance_command(update: Update, context: CallsheetContext) -> None:
    person = await current_person(update, context)
    assert person is not None
    statement = await context.services.ledger.statement(person)
    rows = payment_rows(statement.payments, with_person=False)
    await reply(
        update,
        context,
        "payments/balance",
        statement=statement,
        rows=rows,
        charge=LedgerKind.CHARGE,
    )


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("payments", payments_command))
    application.add_handler(CommandHandler("balances", balances_command))
    application.add_handler(CommandHandler("balance", balance_command))
