"""The command menus and /help: each feature adds its commands to these lists as it lands."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from telegram import BotCommand, BotCommandScopeAllPrivateChats, BotCommandScopeChat, Update
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import Defaults

from bot.context import CallsheetApplication, CallsheetContext
from handlers.common.checks import current_person
from handlers.shared import reply
from models import Person

log = logging.getLogger(__name__)

# Every text the bot sends itself (replies, errors, edits) is Telegram HTML, rendered from
# templates that escape every value. Making HTML the default means an escaped apostrophe is
# never shown as "&#x27;" because one call forgot parse_mode. (Messages from the outbox set
# it on each request: bot/delivery.py.)
REPLY_DEFAULTS = Defaults(parse_mode=ParseMode.HTML)


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    example: str = ""


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


def help_values(person: Person | None) -> dict[str, Any]:
    """What `common/help.j2` (and the replies that end with it) need."""
    return {
        "person": person,
        "manager_commands": MANAGER_COMMANDS,
        "crew_commands": CREW_COMMANDS,
    }


async def help_command(update: Update, context: CallsheetContext) -> None:
    person = await current_person(update, context)
    await reply(update, context, "common/help", **help_values(person))


async def set_commands_for(context: CallsheetContext, person: Person) -> None:
    """The person's command menu, and (from the background, https only) their Mini App
    menu button: both follow a new link and a new role."""
    if person.telegram_id is None:
        return
    context.services.menu_buttons.wake()
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


async def set_default_commands(application: CallsheetApplication) -> None:
    await application.bot.set_my_commands(
        [BotCommand(c.name, c.description) for c in PUBLIC_COMMANDS],
        scope=BotCommandScopeAllPrivateChats(),
    )
