"""Documents attached to events: a document or photo captioned /attach 12, or the next one sent
after the card's Attach; /docs 12 lists them with a Remove button each.

Which handler takes a document is decided here, by registration order (before
handlers/statements.py, which takes any other document from a manager as an M-Pesa statement):
1. a document or photo whose caption starts with /attach goes to that event;
2. while an Attach is pending (the "attach" conversation, kept in the database like every
   form), the next document or photo goes to its event;
3. any other document goes on to the statement reader.
"""

from __future__ import annotations

import re
import warnings

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import CallsheetApplication, CallsheetContext
from handlers.common import MANAGER_COMMANDS, Command
from handlers.events._common import CANCEL_BUTTON, Typed, button, event_id_from
from handlers.events.create import cancel_handlers
from handlers.shared import args_text, chat_id, managers_only, reply, tell_refusal
from models import FileKind
from services.buttons.events import AttachTo, RemoveDocument
from services.errors import CallsheetError
from services.eventdocs import KEPT_TYPES, FileRefused, Offered

MANAGER_COMMANDS.extend(
    [
        Command("attach", "Attach a file to an event: send it with this caption", "/attach 12"),
        Command("docs", "An event's documents", "/docs 12"),
    ]
)

ATTACH_CAPTION = re.compile(r"^/attach(@\w+)?(\s|$)", re.IGNORECASE)
FILES = filters.Document.ALL | filters.PHOTO


def offered(message: Message) -> Offered:
    if message.document is not None:
        document = message.document
        return Offered(FileKind.DOCUMENT, document.file_id, document.file_name, document.file_size)
    photo = message.photo[-1]  # the largest size
    return Offered(FileKind.PHOTO, photo.file_id, None, photo.file_size)


async def receive(update: Update, context: CallsheetContext, event_id: int) -> bool:
    """Check, download and attach the message's file; False when it was refused (and the
    manager told why)."""
    message = update.effective_message
    assert message is not None and context.person is not None
    documents = context.services.eventdocs
    offer = offered(message)
    try:
        await documents.target(event_id, context.person)
        documents.check(offer)
        try:
            file = await context.bot.get_file(offer.file_id)
            content = bytes(await file.download_as_bytearray())
        except BadRequest as exc:
            if "too big" not in exc.message.lower():
                raise
            name = offer.name or "The photo"
            raise FileRefused(
                f"{name} is over 20 MB, the most Telegram lets the bot fetch. Make it smaller "
                "or split it, and send it again."
            ) from exc
        attached = await documents.attach(
            event_id, offer, content, actor=context.person, chat_id=chat_id(update)
        )
    except CallsheetError as exc:
        await tell_refusal(update, exc, "Nothing was attached.")
        return False
    await reply(update, context, "eventdocs/attached", attached=attached)
    return True


@managers_only("attach documents to events")
async def captioned(update: Update, context: CallsheetContext) -> None:
    message = update.effective_message
    assert message is not None
    parts = (message.caption or "").split(maxsplit=1)
    event_id = event_id_from(parts[1].split()[0]) if len(parts) > 1 else None
    if event_id is None:
        await reply(update, context, "eventdocs/usage", kept=KEPT_TYPES)
        return
    await receive(update, context, event_id)


@managers_only("attach documents to events")
async def attach_command(update: Update, context: CallsheetContext) -> None:
    """/attach typed without a file: say how it is done."""
    await reply(update, context, "eventdocs/usage", kept=KEPT_TYPES)


@managers_only("attach documents to events")
async def attach_pressed(update: Update, context: CallsheetContext) -> int:
    query = update.callback_query
    assert query is not None and context.user_data is not None
    press = AttachTo.parse(query.data)
    assert press is not None
    event = await context.services.eventdocs.target(press.event_id, context.person)
    await query.answer()
    context.user_data["typed"] = ("attach", event.id)
    await reply(update, context, "eventdocs/ask", CANCEL_BUTTON, event=event, kept=KEPT_TYPES)
    return Typed.ATTACH_FILE


def _pending(context: CallsheetContext) -> int | None:
    typed = (context.user_data or {}).get("typed")
    return int(typed[1]) if typed and typed[0] == "attach" else None


async def file_sent(update: Update, context: CallsheetContext) -> int:
    event_id = _pending(context)
    if event_id is None:
        return ConversationHandler.END
    if not await receive(update, context, event_id):
        return Typed.ATTACH_FILE  # refused: send another, or Cancel
    assert context.user_data is not None
    context.user_data.pop("typed", None)
    return ConversationHandler.END


async def text_sent(update: Update, context: CallsheetContext) -> int:
    event_id = _pending(context)
    if event_id is None:
        return ConversationHandler.END
    await reply(update, context, "eventdocs/waiting", CANCEL_BUTTON, event_id=event_id)
    return Typed.ATTACH_FILE


@managers_only("see an event's documents")
async def docs_command(update: Update, context: CallsheetContext) -> None:
    event_id = event_id_from(args_text(update))
    if event_id is None:
        await reply(update, context, "eventdocs/docs_usage")
        return
    await show_list(update, context, event_id)


async def show_list(update: Update, context: CallsheetContext, event_id: int) -> None:
    event, documents = await context.services.eventdocs.listing(event_id, context.person)
    rows = [
        [button(f"Remove {index}. {d.name}"[:60], RemoveDocument(d.id))]
        for index, d in enumerate(documents, 1)
    ]
    markup = InlineKeyboardMarkup(rows) if rows else None
    await reply(update, context, "eventdocs/list", markup, event=event, documents=documents)


@managers_only("remove documents")
async def remove_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = RemoveDocument.parse(query.data)
    assert press is not None
    document = await context.services.eventdocs.remove(
        press.document_id, actor=context.person, chat_id=chat_id(update)
    )
    await query.answer("Removed")
    await reply(update, context, "eventdocs/removed", document=document)
    await show_list(update, context, document.event_id)  # type: ignore[attr-defined]


def register(application: CallsheetApplication) -> None:
    application.add_handler(MessageHandler(FILES & filters.CaptionRegex(ATTACH_CAPTION), captioned))
    with warnings.catch_warnings():  # see handlers/events/create.register
        warnings.simplefilter("ignore", PTBUserWarning)
        pending = ConversationHandler(
            entry_points=[CallbackQueryHandler(attach_pressed, pattern=AttachTo.matches)],
            states={
                Typed.ATTACH_FILE: [
                    MessageHandler(FILES, file_sent),
                    MessageHandler(filters.TEXT & ~filters.COMMAND, text_sent),
                ]
            },
            fallbacks=cancel_handlers(),
            name="attach",
        )
    application.add_handler(pending)
    application.add_handler(CommandHandler("attach", attach_command))
    application.add_handler(CommandHandler("docs", docs_command))
    application.add_handler(CallbackQueryHandler(remove_pressed, pattern=RemoveDocument.matches))
