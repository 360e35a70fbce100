"""A value typed after a button or a bare command: an edit's new value, a briefing's text.
One conversation holds both, so starting one replaces the other. Its Cancel also answers an
old form's button."""

from __future__ import annotations

import warnings

from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import CallsheetApplication
from handlers.events._common import Typed
from handlers.events.brief import brief_start, brief_text
from handlers.events.create import cancel_handlers, stop
from handlers.events.edit import edit_field_button, edit_value
from services.buttons.events import BriefCrew, EditFieldPress, StopForm


def register(application: CallsheetApplication) -> None:
    text = filters.TEXT & ~filters.COMMAND
    with warnings.catch_warnings():  # see create.register
        warnings.simplefilter("ignore", PTBUserWarning)
        typed_value = ConversationHandler(
            entry_points=[
                CallbackQueryHandler(edit_field_button, pattern=EditFieldPress.matches),
                CommandHandler("brief", brief_start),
                CallbackQueryHandler(brief_start, pattern=BriefCrew.matches),
            ],
            states={
                Typed.EDIT_VALUE: [MessageHandler(text, edit_value)],
                Typed.BRIEF_TEXT: [MessageHandler(text, brief_text)],
            },
            fallbacks=cancel_handlers(),
            name="typed",
        )
    application.add_handler(typed_value)
    # Cancel on a form that no conversation holds any more (an old message) is still
    # answered; after both conversations, so an open one ends its own form.
    application.add_handler(CallbackQueryHandler(stop, pattern=StopForm.matches))
