"""/request, /charge, /payments, /balances, /balance, and the payment buttons."""

from __future__ import annotations

import html
import secrets
import warnings
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import CallsheetContext
from handlers.common import CREW_COMMANDS, MANAGER_COMMANDS, Command, current_person
from models import LedgerKind, Payment, PaymentStatus, Person
from services.errors import CallsheetError
from services.ids import parse_id
from services.ledger import clean_reason
from services.money import format_kes, parse_amount
from services.payments import (
    PaymentDraft,
    PaymentError,
    PaymentService,
    RepeatRequest,
    clean_purpose,
)
from services.people import Among, PeopleService
from services.phones import display_phone

MANAGER_COMMANDS += [
    Command("request", "Ask someone to pay by M-Pesa", "/request Jane | 1500 | Cable damage"),
    Command("charge", "Add an amount someone owes", "/charge Jane | 1500 | Lost XLR cable"),
    Command("uncharge", "Undo a charge", "/uncharge 12 | Cable was found"),
    Command("resolve", "Say what was done about a flagged payment", "/resolve 7 | Refunded"),
    Command("payments", "Payment history: /payments [person or status]"),
    Command("balances", "Outstanding balances"),
]
CREW_COMMANDS += [Command("balance", "What I owe and my payments")]

CANCEL = InlineKeyboardMarkup([[InlineKeyboardButton("Cancel", callback_data="pay:cancel:0")]])
PAYMENTS_OFF = (
    "M-Pesa payments are not set up on this bot yet. An admin must add the Daraja settings."
)


class Step(IntEnum):
    FIRST = 0
    SECOND = 1
    THIRD = 2


# --- guided conversations ---------------------------------------------------------------

Check = Callable[[str, CallsheetContext], Awaitable[Any]]
Finish = Callable[[Update, CallsheetContext, Person, list[str]], Awaitable[None]]


@dataclass(frozen=True)
class Field:
    prompt: str
    check: Check  # raises CallsheetError with what is wrong


def guided(command: str, fields: list[Field], finish: Finish) -> ConversationHandler[Any]:
    """`/command a | b | c` at once, or bare: ask each field, check it, offer Cancel."""
    key = f"guided:{command}"

    async def entry(update: Update, context: CallsheetContext) -> int:
        assert update.message is not None
        person = await current_person(update, context)
        assert person is not None
        if not person.is_manager:
            await update.message.reply_text(f"Only managers can use /{command}.")
            return ConversationHandler.END
        text = (update.message.text or "").partition(" ")[2].strip()
        if text:
            parts = [p.strip() for p in text.split("|")]
            if len(parts) != len(fields):
                await update.message.reply_text(
                    f"/{command} needs {len(fields)} parts separated by |, for example:\n"
                    f"<code>{html.escape(_example(command))}</code>",
                    parse_mode=ParseMode.HTML,
                )
                return ConversationHandler.END
            try:
                for field, part in zip(fields, parts, strict=True):
                    await field.check(part, context)
            except CallsheetError as exc:
                await update.message.reply_text(f"❌ {html.escape(str(exc))}")
                return ConversationHandler.END
            await finish(update, context, person, parts)
            return ConversationHandler.END
        context.user_data[key] = []  # type: ignore[index]
        await update.message.reply_text(fields[0].prompt, reply_markup=CANCEL)
        return Step.FIRST

    def step(index: int) -> Callable[[Update, CallsheetContext], Coroutine[Any, Any, int]]:
        async def answer(update: Update, context: CallsheetContext) -> int:
            assert update.message is not None
            text = (update.message.text or "").strip()
            try:
                await fields[index].check(text, context)
            except CallsheetError as exc:
                await update.message.reply_text(
                    f"❌ {html.escape(str(exc))}\n\n{fields[index].prompt}", reply_markup=CANCEL
                )
                return index
            values: list[str] = context.user_data.setdefault(key, [])  # type: ignore[union-attr]
            values.append(text)
            if index + 1 < len(fields):
                await update.message.reply_text(fields[index + 1].prompt, reply_markup=CANCEL)
                return index + 1
            person = await current_person(update, context)
            assert person is not None
            context.user_data.pop(key, None)  # type: ignore[union-attr]
            await finish(update, context, person, values)
            return ConversationHandler.END

        return answer

    async def cancel(update: Update, context: CallsheetContext) -> int:
        context.user_data.pop(key, None)  # type: ignore[union-attr]
        if update.callback_query is not None:
            await update.callback_query.answer("Cancelled")
            await update.callback_query.edit_message_text("Cancelled. Nothing was saved.")
        elif update.message is not None:
            await update.message.reply_text("Cancelled. Nothing was saved.")
        return ConversationHandler.END

    text_only = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():
        # The Cancel button is on the latest prompt of this user's own conversation.
        warnings.filterwarnings("ignore", "If 'per_message=False'", PTBUserWarning)
        return ConversationHandler(
            entry_points=[CommandHandler(command, entry)],
            states={i: [MessageHandler(text_only, step(i))] for i in range(len(fields))},
            fallbacks=[
                CommandHandler("cancel", cancel),
                CallbackQueryHandler(cancel, pattern=r"^pay:cancel:"),
            ],
            name=f"{command}-conversation",
        )


def _example(command: str) -> str:
    return next((c.example for c in MANAGER_COMMANDS if c.name == command), f"/{command}")


def _payments(context: CallsheetContext) -> PaymentService:
    service = context.services.payments
    if service is None:
        raise PaymentError(PAYMENTS_OFF)
    return service


# --- /request ----------------------------------------------------------------------------


async def _check_payer(text: str, context: CallsheetContext) -> None:
    await _payments(context).payer(text)


async def _check_amount(text: str, context: CallsheetContext) -> None:
    parse_amount(text)


async def _check_purpose(text: str, context: CallsheetContext) -> None:
    clean_purpose(text)


async def _send_request(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    assert update.message is not None
    payments = _payments(context)
    draft = await payments.prepare(*values)
    await _push(update.message.reply_text, context, actor, draft, confirmed=False)


async def _push(
    reply: Callable[..., Awaitable[Any]],
    context: CallsheetContext,
    actor: Person,
    draft: PaymentDraft,
    *,
    confirmed: bool,
) -> None:
    """Send the push; the live status message is the reply (it comes through the outbox)."""
    try:
        await _payments(context).request(actor, draft, confirmed=confirmed)
    except RepeatRequest as exc:
        token = secrets.token_hex(4)
        drafts: dict[str, PaymentDraft] = context.user_data.setdefault("pay_drafts", {})  # type: ignore[union-attr]
        drafts[token] = draft
        await reply(
            f"⏳ {html.escape(str(exc))}",
            reply_markup=InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton("Send again", callback_data=f"pay:again:{token}"),
                        InlineKeyboardButton("Don't send", callback_data=f"pay:drop:{token}"),
                    ]
                ]
            ),
        )
    except CallsheetError as exc:
        await reply(f"❌ {html.escape(str(exc))}")


# --- /charge -------------------------------------------------------------------------------


async def _check_person(text: str, context: CallsheetContext) -> None:
    await PeopleService.find(text, among=Among.OWING_TOO)


async def _check_reason(text: str, context: CallsheetContext) -> None:
    clean_reason(text)


async def _charge(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    assert update.message is not None
    person, entry = await context.services.ledger.charge(
        actor, *values, chat_id=update.message.chat_id
    )
    await update.message.reply_text(
        f"✅ Charged {html.escape(person.name)} {format_kes(entry.amount)} for "
        f"{html.escape(entry.description)} (entry #{entry.id}). {_owes(person)}",
        parse_mode=ParseMode.HTML,
    )


# --- /uncharge and /resolve ---------------------------------------------------------------


def _number(what: str) -> Check:
    async def check(text: str, context: CallsheetContext) -> None:
        if parse_id(text.strip().lstrip("#")) is None:
            raise PaymentError(f"Send the {what} number, like 12.")

    return check


async def _uncharge(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    assert update.message is not None
    entry_id = parse_id(values[0].strip().lstrip("#"))
    assert entry_id is not None
    try:
        person, entry = await context.services.ledger.uncharge(
            actor, entry_id, values[1], chat_id=update.message.chat_id
        )
    except CallsheetError as exc:
        await update.message.reply_text(f"❌ {html.escape(str(exc))}")
        return
    await update.message.reply_text(
        f"✅ Charge #{entry_id} undone ({format_kes(-entry.amount)}) for "
        f"{html.escape(person.name)}. {_owes(person)}",
        parse_mode=ParseMode.HTML,
    )


async def _resolve(
    update: Update, context: CallsheetContext, actor: Person, values: list[str]
) -> None:
    assert update.message is not None
    payment_id = parse_id(values[0].strip().lstrip("#"))
    assert payment_id is not None
    try:
        payment = await context.services.ledger.resolve_flag(
            actor, payment_id, values[1], chat_id=update.message.chat_id
        )
    except CallsheetError as exc:
        await update.message.reply_text(f"❌ {html.escape(str(exc))}")
        return
    await update.message.reply_text(
        f"✅ Payment #{payment.id} resolved: {html.escape(payment.flag_resolution or '')}",
        parse_mode=ParseMode.HTML,
    )


def _owes(person: Person) -> str:
    if person.balance > 0:
        return f"They now owe {format_kes(person.balance)}."
    if person.balance < 0:
        return f"They are now {format_kes(-person.balance)} in credit."
    return "They now owe nothing."


# --- lists -------------------------------------------------------------------------------


def _payment_line(payment: Payment, when: Callable[[datetime], str], *, with_person: bool) -> str:
    marks = {PaymentStatus.COMPLETED: "✅", PaymentStatus.PENDING: "⏳"}
    mark = marks.get(payment.status, "⏳" if payment.status is PaymentStatus.UNKNOWN else "❌")
    if payment.flag_reason:
        mark = "❌"
    person = payment.person if with_person else None
    who = f"{html.escape(person.name)} · " if person else ""
    if with_person and person is None:
        who = f"{display_phone(payment.phone)} · "
    status = payment.status.value
    if payment.status is PaymentStatus.COMPLETED:
        status = f"paid · receipt {html.escape(payment.receipt or 'not yet known')}"
        if payment.flag_resolved_at is not None and not payment.flag_reason:
            status += f" · {html.escape(payment.flag_resolution or '')}"
        if payment.flag_reason:
            status = f"flagged: {html.escape(payment.flag_reason)}"
            if payment.flag_resolved_at is not None:
                mark = "✅"
                status += f" · resolved: {html.escape(payment.flag_resolution or '')}"
    elif payment.error:
        status += f": {html.escape(payment.error)}"
    return (
        f"{mark} #{payment.id} {when(payment.created_at)} · {who}"
        f"{format_kes(payment.amount)} · {html.escape(payment.purpose)} · {status}"
    )


async def payments_command(update: Update, context: CallsheetContext) -> None:
    assert update.message is not None
    actor = await current_person(update, context)
    assert actor is not None
    query = " ".join(context.args or [])
    try:
        label, rows = await context.services.ledger.payments(actor, query)
    except CallsheetError as exc:
        await update.message.reply_text(f"❌ {html.escape(str(exc))}")
        return
    if not rows:
        await update.message.reply_text(f"No payments ({html.escape(label)}).")
        return
    lines = [f"<b>Payments ({html.escape(label)})</b>"]
    lines += [_payment_line(p, context.services.when, with_person=True) for p in rows]
    await update.message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML)


async def balances_command(update: Update, context: CallsheetContext) -> None:
    assert update.message is not None
    actor = await current_person(update, context)
    assert actor is not None
    try:
        owing = await context.services.ledger.balances(actor)
    except CallsheetError as exc:
        await update.message.reply_text(f"❌ {html.escape(str(exc))}")
        return
    if not owing.count and not owing.credit_count:
        await update.message.reply_text("✅ Nobody owes anything, and nobody is in credit.")
        return
    lines = (
        [
            f"<b>Outstanding balances</b> · {format_kes(owing.total)} in all, "
            f"{owing.count} {'person' if owing.count == 1 else 'people'}"
        ]
        if owing.count
        else ["✅ Nobody owes anything."]
    )
    lines += [f"{html.escape(p.name)} (#{p.id}) · {format_kes(p.balance)}" for p in owing.people]
    if owing.count > len(owing.people):
        rest = owing.count - len(owing.people)
        lines.append(
            f"…and {rest} more with smaller balances. For one person, send /payments and their name."
        )
    if owing.credit_count:
        lines += [
            "",
            f"<b>In credit</b> (the company owes them) · {format_kes(owing.credit_total)} in all, "
            f"{owing.credit_count} {'person' if owing.credit_count == 1 else 'people'}",
        ]
        lines += [
            f"{html.escape(p.name)} (#{p.id}) · {format_kes(-p.balance)}" for p in owing.credits
        ]
        if owing.credit_count > len(owing.credits):
            lines.append(f"…and {owing.credit_count - len(owing.credits)} more.")
    await update.message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML)


async def balance_command(update: Update, context: CallsheetContext) -> None:
    assert update.message is not None
    person = await current_person(update, context)
    assert person is not None
    statement = await context.services.ledger.statement(person)
    owed = statement.person.balance
    lines = [
        f"You owe <b>{format_kes(owed)}</b>."
        if owed > 0
        else "✅ You owe nothing."
        if owed == 0
        else f"✅ You are {format_kes(-owed)} in credit."
    ]
    if statement.entries:
        lines += ["", "<b>Charges and payments</b>"]
        for entry in statement.entries:
            sign = "+" if entry.amount > 0 else "−"
            kind = "charge" if entry.kind is LedgerKind.CHARGE else entry.kind.value
            lines.append(
                f"#{entry.id} {context.services.when(entry.created_at)} · {kind} "
                f"{sign}{format_kes(abs(entry.amount))} · {html.escape(entry.description)}"
            )
    if statement.payments:
        lines += ["", "<b>M-Pesa requests</b>"]
        lines += [
            _payment_line(p, context.services.when, with_person=False) for p in statement.payments
        ]
    await update.message.reply_text("\n".join(lines), parse_mode=ParseMode.HTML)


# --- buttons -------------------------------------------------------------------------------


async def payment_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and query.data is not None
    _, action, ref = [*query.data.split(":", 2), "", ""][:3]
    actor = await current_person(update, context)
    assert actor is not None
    try:
        if action == "check":
            payment = await _payments(context).check_status(actor, _button_id(ref))
            await query.answer(f"Payment #{payment.id}: {payment.status.value}")
        elif action == "resend":
            payment = await _payments(context).resend(actor, _button_id(ref))
            await query.answer(f"Sent again as payment #{payment.id}")
        elif action in ("again", "drop"):
            drafts: dict[str, PaymentDraft] = context.user_data.get("pay_drafts", {})  # type: ignore[union-attr]
            draft = drafts.pop(ref, None)
            if draft is None:
                await query.answer("This request has expired; send /request again.", True)
                return
            await query.answer()
            if action == "drop":
                await query.edit_message_text("Not sent.")
                return
            await query.edit_message_text(f"Sending again to {html.escape(draft.payer_label)}…")
            await _push(_sender(update, context), context, actor, draft, confirmed=True)
        else:
            await query.answer("That button is no longer valid.", show_alert=True)
    except (CallsheetError, ValueError) as exc:
        message = str(exc) if isinstance(exc, CallsheetError) else "That button is not valid."
        await query.answer(message[:200], show_alert=True)


def _button_id(ref: str) -> int:
    ident = parse_id(ref)
    if ident is None:
        raise ValueError(f"not a payment id: {ref[:20]!r}")
    return ident


def _sender(update: Update, context: CallsheetContext) -> Callable[..., Awaitable[Any]]:
    chat = update.effective_chat
    assert chat is not None

    async def send(text: str, **kwargs: Any) -> Any:
        return await context.bot.send_message(chat.id, text, **kwargs)

    return send


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(
        guided(
            "request",
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
    application.add_handler(
        guided(
            "charge",
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
            [
                Field("Which flagged payment? Send its number.", _number("payment")),
                Field("What was done about it? (refunded, credited by hand, …)", _check_reason),
            ],
            _resolve,
        )
    )
    application.add_handler(CommandHandler("payments", payments_command))
    application.add_handler(CommandHandler("balances", balances_command))
    application.add_handler(CommandHandler("balance", balance_command))


def register_buttons(application: Application) -> None:  # type: ignore[type-arg]
    """After every pay: conversation (handlers/batches.py too): what none of them took."""
    application.add_handler(CallbackQueryHandler(payment_button, pattern=r"^pay:"))
