"""/charge, /uncharge, /resolve, /record and /unrecord: a manager writes what someone owes,
undoes a charge, says what was done about a flagged payment, records money received outside
M-Pesa or undoes that. Each is a guided form."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.context import CallsheetContext
from handlers.payments._form import Check, Field, guided
from handlers.shared import chat_id, reply
from models import Person
from services.ids import parse_id
from services.ledger import (
    clean_reason,
    clean_reference,
    clean_undo_reason,
    parse_method,
    parse_record_amount,
)
from services.money import parse_amount
from services.payments import PaymentError
from services.people import Among, PeopleService


async def _check_person(text: str, context: CallsheetContext) -> None:
    await PeopleService.find(text, among=Among.OWING_TOO)


async def _check_amount(text: str, context: CallsheetContext) -> None:
    parse_amount(text)


async def _check_reason(text: str, context: CallsheetContext) -> None:
    clean_reason(text)


async def _check_record_amount(text: str, context: CallsheetContext) -> None:
    parse_record_amount(text)


async def _check_method(text: str, context: CallsheetContext) -> None:
    parse_method(text)


async def _check_reference(text: str, context: CallsheetContext) -> None:
    clean_reference(text)


async def _check_undo_reason(text: str, context: CallsheetContext) -> None:
    clean_undo_reason(text)


def _number(what: str) -> Check:
    async def check(text: str, context: CallsheetContext) -> None:
        if _id(text) is None:
            raise PaymentError(f"Send the {what} number, like 12.")

    return check


def _id(text: str) -> int | None:
    return parse_id(text.strip().lstrip("#"))


async def _charge(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    person, entry = await context.services.ledger.charge(actor, *values, chat_id=chat_id(update))
    await reply(update, context, "payments/charged", person=person, entry=entry)


async def _uncharge(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    entry_id = _id(values[0])
    assert entry_id is not None
    person, entry = await context.services.ledger.uncharge(
        actor, entry_id, values[1], chat_id=chat_id(update)
    )
    await reply(
        update, context, "payments/uncharged", entry_id=entry_id, person=person, entry=entry
    )


async def _resolve(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    payment_id = _id(values[0])
    assert payment_id is not None
    payment = await context.services.ledger.resolve_flag(
        actor, payment_id, values[1], chat_id=chat_id(update)
    )
    await reply(update, context, "payments/resolved", payment=payment)


async def _record(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    done = await context.services.recorded.record(actor, *values, chat_id=chat_id(update))
    await reply(update, context, "payments/recorded", record=done.record, person=done.person)


async def _unrecord(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    record_id = _id(values[0])
    assert record_id is not None
    done = await context.services.recorded.unrecord(
        actor, record_id, values[1], chat_id=chat_id(update)
    )
    await reply(
        update,
        context,
        "payments/unrecorded",
        record=done.record,
        person=done.person,
        entry=done.entry,
    )


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(
        guided(
            "charge",
            "add charges",
            [
                Field("Who owes it? Send a name, #id or phone number.", _check_person),
                Field("How much, in whole shillings? For example 1500.", _check_amount),
                Field("What is it for?", _check_reason),
            ],
            _charge,
        )
    )
    application.add_handler(
        guided(
            "uncharge",
            "undo charges",
            [
                Field(
                    "Which charge? Send its number (the # on /balance or /payments).",
                    _number("charge"),
                ),
                Field("Why is it undone?", _check_reason),
            ],
            _uncharge,
        )
    )
    application.add_handler(
        guided(
            "resolve",
            "resolve flagged payments",
            [
                Field("Which flagged payment? Send its number.", _number("payment")),
                Field("What was done about it? (refunded, credited by hand, …)", _check_reason),
            ],
            _resolve,
        )
    )
    application.add_handler(
        guided(
            "record",
            "record payments",
            [
                Field("Who paid? Send a name, #id or phone number.", _check_person),
                Field("How much, in whole shillings? For example 5000.", _check_record_amount),
                Field(
                    "How did it come? cash, bank, airtel, cheque, or mpesa (paid straight to the paybill).",
                    _check_method,
                ),
                Field(
                    "The reference: the bank or Airtel transaction code, the cheque number, or "
                    "the cash receipt number.",
                    _check_reference,
                ),
            ],
            _record,
        )
    )
    application.add_handler(
        guided(
            "unrecord",
            "undo recorded payments",
            [
                Field(
                    "Which recorded payment? Send its number (the # in the reply to /record).",
                    _number("recorded payment"),
                ),
                Field("Why is it undone?", _check_undo_reason),
            ],
            _unrecord,
        )
    )
