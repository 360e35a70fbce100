"""/start (with a one-time link or without), a shared phone number, and a chat that the
person blocked or opened again."""

from __future__ import annotations

from telegram import KeyboardButton, ReplyKeyboardMarkup, ReplyKeyboardRemove, Update
from telegram.constants import ChatMemberStatus, ChatType, ParseMode

from bot.context import CallsheetContext
from handlers.common.checks import current_person
from handlers.common.menus import help_values, set_commands_for
from handlers.shared import render
from services.errors import CallsheetError

SHARE_PHONE = "📱 Share my phone number"


def share_phone_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(SHARE_PHONE, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


async def start(update: Update, context: CallsheetContext) -> None:
    assert update.message is not None and update.effective_user is not None
    user = update.effective_user
    people = context.services.people
    if context.args:
        try:
            person = await people.link_with_token(
                context.args[0], user.id, user.username, update.message.chat_id
            )
        except CallsheetError as exc:  # the answer offers the other way in: sharing a phone
            await update.message.reply_text(
                render(context, "common/link_refused", error=str(exc)),
                reply_markup=share_phone_keyboard(),
            )
            return
        await set_commands_for(context, person)
        await update.message.reply_text(
            render(context, "common/linked", how="token", **help_values(person)),
            parse_mode=ParseMode.HTML,
            reply_markup=ReplyKeyboardRemove(),
        )
        return
    known = await current_person(update, context)
    if known is not None:
        await update.message.reply_text(
            render(context, "common/welcome_back", **help_values(known)),
            parse_mode=ParseMode.HTML,
        )
        return
    await update.message.reply_text(
        render(context, "common/hello"),
        parse_mode=ParseMode.HTML,
        reply_markup=share_phone_keyboard(),
    )


async def contact(update: Update, context: CallsheetContext) -> None:
    assert update.message is not None and update.message.contact is not None
    assert update.effective_user is not None
    shared = update.message.contact
    user = update.effective_user
    try:
        person = await context.services.people.link_with_contact(
            user.id, shared.user_id, shared.phone_number, user.username, update.message.chat_id
        )
    except CallsheetError as exc:  # the share-phone keyboard goes away either way
        await update.message.reply_text(
            render(context, "common/link_refused", error=str(exc)),
            parse_mode=ParseMode.HTML,
            reply_markup=ReplyKeyboardRemove(),
        )
        return
    await set_commands_for(context, person)
    await update.message.reply_text(
        render(context, "common/linked", how="contact", **help_values(person)),
        parse_mode=ParseMode.HTML,
        reply_markup=ReplyKeyboardRemove(),
    )


async def bot_blocked_or_unblocked(update: Update, context: CallsheetContext) -> None:
    """Blocking needs nothing here: the next message gets 403 and the outbox moves the
    person to email and tells the managers. Unblocking puts them back on chat."""
    change = update.my_chat_member
    if change is None or change.chat.type != ChatType.PRIVATE:
        return
    if change.new_chat_member.status == ChatMemberStatus.MEMBER:
        person = await context.services.people.chat_reopened(change.from_user.id)
        if person is not None:
            await context.bot.send_message(
                change.chat.id,
                render(context, "common/chat_reopened", person=person),
                parse_mode=ParseMode.HTML,
            )
