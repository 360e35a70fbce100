"""/deposit: a client's deposit for an event, split into monthly instalments if asked, and
the link to send them (WhatsApp, email); /deposits: the latest deposits and invoices and what
is paid; /paylink: a new link for one of them."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler

from bot.context import CallsheetContext
from handlers.common import MANAGER_COMMANDS, Command, current_person
from handlers.payments._common import user_data
from handlers.payments._form import Field, guided
from handlers.shared import args_text, managers_only, reply
from models import Event, EventStatus, Person
from services.checkout import (
    MAX_INSTALMENTS,
    PAYLINK_USAGE,
    BadDeposit,
    CheckoutOff,
    CheckoutService,
    DepositAsk,
    NothingToPay,
    clean_client,
    parse_count,
    parse_event,
    parse_total,
)
from services.checkout._plan import split
from services.errors import NotFound
from services.phones import normalise_phone

MANAGER_COMMANDS += [
    Command(
        "deposit",
        "A payment link for a client's deposit; | 3 splits it into 3 monthly instalments",
        "/deposit 12 | Tamu Weddings | 0712 345 678 | 60000 | 3",
    ),
    Command("deposits", "The latest client deposits and invoices, and what is paid"),
    Command(
        "paylink",
        "A new payment link for a deposit or an invoice (the old one stops working)",
        "/paylink INV-2026-000045",
    ),
]
FORM = "guided:deposit"  # the guided form's answers so far (handlers/payments/_form.py)
OFF = (
    "M-Pesa payments are not set up on this bot yet, so no payment link can be made. "
    "An admin must add the Daraja settings."
)


def _checkout(context: CallsheetContext) -> CheckoutService:
    service = context.services.checkout
    if service is None:
        raise CheckoutOff(OFF)
    return service


async def _check_event(text: str, context: CallsheetContext) -> None:
    _checkout(context)
    event_id = parse_event(text)
    event = await Event.get_or_none(id=event_id)
    if event is None:
        raise NotFound(f"There is no event #{event_id}. See /events for the numbers.")
    if event.status is EventStatus.CANCELLED:
        raise NothingToPay(f"Event #{event.id} {event.title} is cancelled.")


async def _check_client(text: str, context: CallsheetContext) -> None:
    clean_client(text)


async def _check_phone(text: str, context: CallsheetContext) -> None:
    normalise_phone(text)


async def _check_total(text: str, context: CallsheetContext) -> None:
    parse_total(text)


async def _check_count(text: str, context: CallsheetContext) -> None:
    count = parse_count(text)
    answers: list[str] = user_data(context).get(FORM, [])
    if len(answers) == 4:  # asked one by one: the total is known, check the split now
        split(parse_total(answers[3]), count)


def _fill(parts: list[str]) -> list[str]:
    """Four parts: paid at once."""
    return [*parts, "1"] if len(parts) == 4 else parts


async def _create(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    ask = DepositAsk(
        parse_event(values[0]),
        clean_client(values[1]),
        normalise_phone(values[2]),
        parse_total(values[3]),
        parse_count(values[4]),
    )
    made = await _checkout(context).create(actor, ask)
    await reply(update, context, "payments/deposit_created", made=made)


@managers_only("make payment links")
async def paylink_command(update: Update, context: CallsheetContext) -> None:
    actor = await current_person(update, context)
    assert actor is not None
    checkout = _checkout(context)  # M-Pesa off is said first
    text = args_text(update)
    if not text.strip():
        raise BadDeposit(PAYLINK_USAGE)
    made = await checkout.relink(actor, text)
    await reply(update, context, "payments/paylink", made=made)


@managers_only("see deposits")
async def deposits_command(update: Update, context: CallsheetContext) -> None:
    actor = await current_person(update, context)
    assert actor is not None
    views = await _checkout(context).recent(actor)
    await reply(update, context, "payments/deposits", views=views)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(
        guided(
            "deposit",
            "ask clients for deposits",
            [
                Field(
                    "Which event is the deposit for? Send its number (see /events).", _check_event
                ),
                Field(
                    "Who is the client? Their name or company, as their page should show it.",
                    _check_client,
                ),
                Field("The client's M-Pesa number, like 0712 345 678.", _check_phone),
                Field(
                    "How much is the deposit, in whole shillings? For example 60000.", _check_total
                ),
                Field(
                    f"In how many monthly instalments? Send 1 to be paid at once, or up to {MAX_INSTALMENTS}: "
                    "the first is due now, the next ones a month apart.",
                    _check_count,
                ),
            ],
            _create,
            fill=_fill,
        )
    )
    application.add_handler(CommandHandler("deposits", deposits_command))
    application.add_handler(CommandHandler("paylink", paylink_command))
