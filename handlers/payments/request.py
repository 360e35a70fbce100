"""/request: ask one person to pay by M-Pesa. A repeat of a request made minutes ago asks
first (Send again / Don't send: handlers/payments/buttons.py)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application

from bot.context import CallsheetContext
from handlers.payments._common import payments_of, user_data
from handlers.payments._form import Field, guided
from handlers.shared import render
from models import Person
from services.buttons.payments import DontSend, SendAgain
from services.errors import CallsheetError
from services.money import parse_amount
from services.payments import PaymentDraft, RepeatRequest, clean_purpose

DRAFTS = "pay_drafts"  # user_data: token -> the draft a Send again button sends

Send = Callable[[str, InlineKeyboardMarkup | None], Awaitable[object]]


async def _check_payer(text: str, context: CallsheetContext) -> None:
    await payments_of(context).payer(text)


async def _check_amount(text: str, context: CallsheetContext) -> None:
    parse_amount(text)


async def _check_purpose(text: str, context: CallsheetContext) -> None:
    clean_purpose(text)


async def _send_request(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    message = update.message
    assert message is not None
    draft = await payments_of(context).prepare(*values)

    async def send(text: str, markup: InlineKeyboardMarkup | None) -> object:
        return await message.reply_text(text, reply_markup=markup)

    await push(send, context, actor, draft, confirmed=False)


async def push(
    send: Send,
    context: CallsheetContext,
    actor: Person,
    draft: PaymentDraft,
    *,
    confirmed: bool,
) -> None:
    """Send the push; the live status message is the reply (it comes through the outbox).
    A refusal is said with `send`: after Send again the button is already answered."""
    try:
        await payments_of(context).request(actor, draft, confirmed=confirmed)
    except RepeatRequest as exc:
        token = secrets.token_hex(4)
        drafts: dict[str, PaymentDraft] = user_data(context).setdefault(DRAFTS, {})
        drafts[token] = draft
        buttons = [
            InlineKeyboardButton("Send again", callback_data=SendAgain(token).pack()),
            InlineKeyboardButton("Don't send", callback_data=DontSend(token).pack()),
        ]
        await send(render(context, "payments/repeat", error=exc), InlineKeyboardMarkup([buttons]))
    except CallsheetError as exc:
        await send(render(context, "payments/refused", error=exc), None)


def take_draft(context: CallsheetContext, token: str) -> PaymentDraft | None:
    drafts: dict[str, PaymentDraft] = user_data(context).get(DRAFTS, {})
    return drafts.pop(token, None)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(
        guided(
            "request",
            "ask for payments",
            [
                Field(
                    "Who should pay? Send a name, #id or phone number like 0712 345 678.",
                    _check_payer,
                ),
                Field("How much, in whole shillings? For example 1500.", _check_amount),
                Field("What is it for? (shown on their M-Pesa prompt)", _check_purpose),
            ],
            _send_request,
        )
    )
