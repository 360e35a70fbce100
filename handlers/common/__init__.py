"""/start, /help, account linking, the checks before every feature, unknown updates and the
one error handler.

    checks.py     run before every feature: once, private, no edits, a known person
    linking.py    /start, a shared phone number, a chat blocked or opened again
    menus.py      the command lists, /help and each person's command menu
    fallbacks.py  what no feature took, and the error handler
"""

from telegram import Update
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot.context import CallsheetApplication
from handlers.common.checks import (
    answer_empty_presses,
    current_person,
    final,
    ignore_edits,
    only_private_chats,
    require_known_person,
    skip_seen_updates,
)
from handlers.common.fallbacks import on_error, unknown_button, unknown_command, unknown_text
from handlers.common.linking import bot_blocked_or_unblocked, contact, start
from handlers.common.menus import (
    CREW_COMMANDS,
    MANAGER_COMMANDS,
    PUBLIC_COMMANDS,
    REPLY_DEFAULTS,
    Command,
    help_command,
    set_commands_for,
    set_default_commands,
)

__all__ = [
    "CREW_COMMANDS",
    "MANAGER_COMMANDS",
    "PUBLIC_COMMANDS",
    "REPLY_DEFAULTS",
    "Command",
    "current_person",
    "register",
    "register_fallbacks",
    "set_commands_for",
    "set_default_commands",
    "unknown_text",
]


def register(application: CallsheetApplication) -> None:
    """Checks that run before every feature (features live in group 0). One handler runs
    per group, so each check has a group of its own."""
    application.add_handler(TypeHandler(Update, answer_empty_presses), group=-5)
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


def register_fallbacks(application: CallsheetApplication) -> None:
    """Added last to group 0, where features live: they answer only what no feature took."""
    application.add_handler(MessageHandler(filters.COMMAND, unknown_command))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, unknown_text))
    application.add_handler(CallbackQueryHandler(unknown_button))
