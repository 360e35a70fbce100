"""/start, /help, account linking, unknown users and commands, and the one error handler."""

from __future__ import annotations

import functools
import html
import logging
import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    Defaults,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import CallsheetContext
from handlers.shared import tell_refusal
from models import Person
from services import updates
from services.errors import CallsheetError

log = logging.getLogger(__name__)

SHARE_PHONE = "📱 Share my phone number"

# Every text the bot sends itself (replies, errors, edits) is Telegram HTML, and every piece
# of it that came from a person or an error message is escaped with html.escape. Making HTML
# the default means an escaped apostrophe is never shown as "&#x27;" because one call forgot
# parse_mode. (Messages from the outbox set it on each request: bot/delivery.py.)
REPLY_DEFAULTS = Defaults(parse_mode=ParseMode.HTML)


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    example: str = ""


# The command menus. Each feature adds its commands here as it lands.
CREW_COMMANDS: list[Command] = [
    Command("help", "What I can do"),
]
MANAGER_COMMANDS: list[Command] = [
    Command(
        "addcrew",
        "Add a crew member and get their invite link",
        "/addcrew Jane Wanjiku | 0712345678 | jane@example.com | sound engineer, rigger",
    ),
    Command("addmanager", "Add a manager and get their invite link"),
    Command("crew", "The crew list; add a role or name to filter"),
    Command("person", "A person's card: details, history, edit"),
]
PUBLIC_COMMANDS: list[Command] = [
    Command("start", "Connect your Telegram account"),
    Command("help", "What this bot does"),
]


def help_text(person: Person | None) -> str:
    if person is None:
        return (
            "This bot sends crew call sheets, reminders and payment requests for your "
            "production company.\n\n"
            "To use it, your manager must add you first. Then either open the link they "
            "sent you, or send /start and tap <b>Share my phone number</b>."
        )
    lines = [f"Hello {html.escape(person.name)}. Here is what you can do:", ""]
    if person.is_manager and MANAGER_COMMANDS:
        lines.append("<b>Manager</b>")
        lines += [f"/{c.name} — {html.escape(c.description)}" for c in MANAGER_COMMANDS]
        if any(c.example for c in MANAGER_COMMANDS):
            lines += [
                "",
                "Send a command alone and I will ask for each detail, or give them all "
                "at once separated by |, for example:",
            ]
            lines += [
                f"<code>{html.escape(c.example)}</code>" for c in MANAGER_COMMANDS if c.example
            ]
        lines += ["", "<b>Crew</b>"]
    lines += [f"/{c.name} — {html.escape(c.description)}" for c in CREW_COMMANDS]
    return "\n".join(lines)


async def current_person(update: Update, context: CallsheetContext) -> Person | None:
    """The active Person behind this update, looked up in the database once per update:
    `require_known_person` keeps what it loaded for the feature handler that follows."""
    user = update.effective_user
    if user is None:
        return None
    if context.person is not None and context.person.telegram_id == user.id:
        return context.person
    return await context.services.people.by_telegram_id(user.id)


async def set_commands_for(context: CallsheetContext, person: Person) -> None:
    if person.telegram_id is None:
        return
    commands = MANAGER_COMMANDS + CREW_COMMANDS if person.is_manager else CREW_COMMANDS
    unique = {c.name: c for c in commands}
    try:
        await context.bot.set_my_commands(
            [BotCommand(c.name, c.description) for c in unique.values()],
            scope=BotCommandScopeChat(person.telegram_id),
        )
    except TelegramError:
        # The menu is a convenience; /help still lists everything.
        log.warning("setMyCommands failed for chat %s", person.telegram_id, exc_info=True)


async def set_default_commands(application: Application) -> None:  # type: ignore[type-arg]
    await application.bot.set_my_commands(
        [BotCommand(c.name, c.description) for c in PUBLIC_COMMANDS],
        scope=BotCommandScopeAllPrivateChats(),
    )


async def skip_seen_updates(update: Update, context: CallsheetContext) -> None:
    """A redelivered update (webhook retry, a second instance) is acted on once."""
    if not await updates.first_time(update.update_id, context.services.clock):
        log.info("update %s already handled; skipped", update.update_id)
        raise ApplicationHandlerStop


async def only_private_chats(update: Update, context: CallsheetContext) -> None:
    chat = update.effective_chat
    if chat is not None and chat.type != ChatType.PRIVATE:
        if update.effective_message is not None and update.message is not None:
            await update.message.reply_text("Please talk to me in a private chat.")
        raise ApplicationHandlerStop


async def ignore_edits(update: Update, context: CallsheetContext) -> None:
    """An edited message is not a new answer: every step reads what was sent, once."""
    if update.edited_message is not None or update.edited_channel_post is not None:
        raise ApplicationHandlerStop


async def start(update: Update, context: CallsheetContext) -> None:
    assert update.message is not None and update.effective_user is not None
    user = update.effective_user
    people = context.services.people
    if context.args:
        try:
            person = await people.link_with_token(
                context.args[0], user.id, user.username, update.message.chat_id
            )
        except CallsheetError as exc:
            await update.message.reply_text(
                f"❌ {html.escape(str(exc))}", reply_markup=share_phone_keyboard()
            )
            return
        await set_commands_for(context, person)
        await update.message.reply_text(
            f"✅ Your Telegram is now linked, {html.escape(person.name)}.\n\n" + help_text(person),
            parse_mode=ParseMode.HTML,
            reply_markup=ReplyKeyboardRemove(),
        )
        return
    known = await current_person(update, context)
    if known is not None:
        await update.message.reply_text(
            f"Welcome back.\n\n{help_text(known)}", parse_mode=ParseMode.HTML
        )
        return
    await update.message.reply_text(
        "Hello! I send crew call sheets, reminders and payment requests.\n\n"
        "If your manager has added you, tap <b>Share my phone number</b> below to connect. "
        "If not, please ask a manager to add you.",
        parse_mode=ParseMode.HTML,
        reply_markup=share_phone_keyboard(),
    )


def share_phone_keyboard() -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(SHARE_PHONE, request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
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
    except CallsheetError as exc:
        await update.message.reply_text(
            f"❌ {html.escape(str(exc))}",
            parse_mode=ParseMode.HTML,
            reply_markup=ReplyKeyboardRemove(),
        )
        return
    await set_commands_for(context, person)
    await update.message.reply_text(
        f"✅ Thanks, {html.escape(person.name)}. Your Telegram is now linked.\n\n"
        + help_text(person),
        parse_mode=ParseMode.HTML,
        reply_markup=ReplyKeyboardRemove(),
    )


async def help_command(update: Update, context: CallsheetContext) -> None:
    assert update.message is not None
    person = await current_person(update, context)
    await update.message.reply_text(help_text(person), parse_mode=ParseMode.HTML)


async def require_known_person(update: Update, context: CallsheetContext) -> None:
    """Everything past /start, /help and contacts needs a linked, active person."""
    if update.effective_user is None:
        raise ApplicationHandlerStop
    person = await current_person(update, context)
    if person is not None:
        context.person = person
        return
    if update.callback_query is not None:
        await update.callback_query.answer(
            "You are not on the crew list. Ask a manager to add you.", show_alert=True
        )
    elif update.effective_message is not None:
        await update.effective_message.reply_text(
            "Sorry, I don't know you yet. Please ask a manager to add you, then send /start."
        )
    raise ApplicationHandlerStop


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
                f"✅ Welcome back, {html.escape(person.name)}. Your call sheets and payment "
                "requests come here again.",
                parse_mode=ParseMode.HTML,
            )


async def unknown_command(update: Update, context: CallsheetContext) -> None:
    assert update.message is not None
    await update.message.reply_text("I don't know that command. Send /help to see what I can do.")


async def unknown_text(update: Update, context: CallsheetContext) -> None:
    assert update.message is not None
    await update.message.reply_text("Send /help to see what I can do.")


async def unknown_button(update: Update, context: CallsheetContext) -> None:
    """A press no feature took (an old message, or data a modified client made up):
    answered, or the person's Telegram shows a spinner until it gives up."""
    assert update.callback_query is not None
    await update.callback_query.answer("This button is no longer active.", show_alert=True)


async def on_error(update: object, context: CallsheetContext) -> None:
    if isinstance(context.error, CallsheetError) and isinstance(update, Update):
        # A refusal a handler did not expect (someone deactivated or demoted while a form
        # was open): the user gets the reason, which says what to do, not an error code.
        await tell_refusal(update, context.error)
        return
    error_id = secrets.token_hex(3).upper()
    log.error("error %s while handling an update", error_id, exc_info=context.error)
    if isinstance(update, Update):
        text = (
            f"Something went wrong on our side (error {error_id}). Nothing was saved. "
            "Please try again; if it happens again, tell your manager this code."
        )
        try:
            if update.callback_query is not None:
                await update.callback_query.answer(text[:200], show_alert=True)
            elif update.effective_message is not None:
                await update.effective_message.reply_text(text)
        except TelegramError:
            log.warning("could not tell the user about error %s", error_id)


def final(
    callback: Callable[[Update, CallsheetContext], Coroutine[Any, Any, None]],
) -> Callable[[Update, CallsheetContext], Coroutine[Any, Any, None]]:
    """Run a handler and stop there: later groups must not see the update."""

    @functools.wraps(callback)
    async def wrapper(update: Update, context: CallsheetContext) -> None:
        await callback(update, context)
        raise ApplicationHandlerStop

    return wrapper


def register(application: Application) -> None:  # type: ignore[type-arg]
    """Checks that run before every feature (features live in group 0). One handler runs
    per group, so each check has a group of its own."""
    application.add_handler(TypeHandler(Update, skip_seen_updates), group=-3)
    application.add_handler(TypeHandler(Update, ignore_edits), group=-4)
    application.add_handler(TypeHandler(Update, only_private_chats), group=-2)
    application.add_handler(CommandHandler("start", final(start)), group=-1)
    application.add_handler(CommandHandler("help", final(help_command)), group=-1)
    application.add_handler(MessageHandler(filters.CONTACT, final(contact)), group=-1)
    application.add_handler(
        ChatMemberHandler(final(bot_blocked_or_unblocked), ChatMemberHandler.MY_CHAT_MEMBER),
        group=-1,
    )
    application.add_handler(TypeHandler(Update, require_known_person), group=-1)
    application.add_error_handler(on_error)


def register_fallbacks(application: Application) -> None:  # type: ignore[type-arg]
    """Added last to group 0, where features live: they answer only what no feature took."""
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, unknown_text))
    application.add_handler(CallbackQueryHandler(unknown_button))
