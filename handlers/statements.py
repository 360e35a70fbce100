"""M-Pesa statements: a manager sends the org-portal export (CSV or XLSX) as a document and
gets the reconciliation report; /statement shows the last one, or one by number."""

from __future__ import annotations

from typing import Any

from telegram import Update
from telegram.ext import Application, CommandHandler, MessageHandler, filters

from bot.context import CallsheetContext
from handlers.common import MANAGER_COMMANDS, Command
from handlers.shared import args_text, chat_id, managers_only, reply
from models import Reconciliation
from services.books import NotAStatement
from services.books.reconcile import SHOWN
from services.books.statement import MAX_BYTES
from services.ids import parse_id

MANAGER_COMMANDS.append(
    Command(
        "statement",
        "M-Pesa statement check: send the export as a file; this shows the last report",
        "/statement 3",
    )
)


@managers_only("reconcile M-Pesa statements")
async def document_sent(update: Update, context: CallsheetContext) -> None:
    message = update.effective_message
    assert message is not None and message.document is not None and context.person is not None
    document = message.document
    name = document.file_name or "the file"
    if document.file_size is not None and document.file_size > MAX_BYTES:
        raise NotAStatement(f"{name} is over 20 MB; a month's statement is far smaller.")
    file = await document.get_file()
    content = bytes(await file.download_as_bytearray())
    report = await context.services.reconciler.reconcile(
        name, content, context.person, chat_id=chat_id(update)
    )
    await reply(update, context, "books/reconciliation", report=report, shown=SHOWN)


@managers_only("see reconciliations")
async def statement_command(update: Update, context: CallsheetContext) -> None:
    assert context.person is not None
    reconciler = context.services.reconciler
    wanted = args_text(update).lstrip("#")
    if not wanted:
        report = await reconciler.latest(context.person)
        if report is None:
            await reply(update, context, "books/no_statement")
            return
    else:
        number = parse_id(wanted)
        recon = None if number is None else await Reconciliation.get_or_none(id=number)
        if recon is None:
            raise NotAStatement(
                f"There is no statement #{wanted}. Send /statement for the last one."
            )
        report = await reconciler.report(recon, again=False)
    await reply(update, context, "books/reconciliation", report=report, shown=SHOWN)


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(MessageHandler(filters.Document.ALL, document_sent))
    application.add_handler(CommandHandler("statement", statement_command))
