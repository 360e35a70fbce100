"""M-Pesa statements: a manager sends the org-portal export (CSV or XLSX) as a document and
gets the reconciliation report; /statement shows the last one, or one by number."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import CallsheetContext
from handlers.common import MANAGER_COMMANDS, Command
from handlers.shared import args_text, chat_id, managers_only, reply
from services.books import NotAStatement, Report
from services.books.reconcile import SHOWN
from services.books.statement import MAX_BYTES
from services.buttons.books import RecordStatementRow
from services.errors import CallsheetError

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
    await reply(
        update,
        context,
        "books/reconciliation",
        record_buttons(context, report),
        report=report,
        shown=SHOWN,
    )


def record_buttons(context: CallsheetContext, report: Report) -> InlineKeyboardMarkup | None:
    rows = [
        [
            InlineKeyboardButton(
                f"Record {row.receipt} · {report.names[row.person_id]}",  # type: ignore[attr-defined]
                callback_data=RecordStatementRow(row.id).pack(),
            )
        ]
        for row in context.services.reconciler.record_rows(report)
    ]
    return InlineKeyboardMarkup(rows) if rows else None


@managers_only("record payments")
async def record_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = RecordStatementRow.parse(query.data)
    assert press is not None
    try:
        row, done = await context.services.reconciler.record_row(
            context.person, press.row_id, chat_id=chat_id(update)
        )
    except CallsheetError as exc:
        await query.answer(f"❌ {exc}"[:200], show_alert=True)
        return
    await query.answer(f"✅ Recorded {row.receipt}")
    await reply(update, context, "payments/recorded", record=done.record, person=done.person)


@managers_only("see reconciliations")
async def statement_command(update: Update, context: CallsheetContext) -> None:
    assert context.person is not None
    report = await context.services.reconciler.shown(context.person, args_text(update))
    if report is None:
        await reply(update, context, "books/no_statement")
        return
    await reply(
        update,
        context,
        "books/reconciliation",
        record_buttons(context, report),
        report=report,
        shown=SHOWN,
    )


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(MessageHandler(filters.Document.ALL, document_sent))
    application.add_handler(CommandHandler("statement", statement_command))
    application.add_handler(
        CallbackQueryHandler(record_pressed, pattern=RecordStatementRow.matches)
    )
