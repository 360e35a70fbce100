"""/receipt and /invoice: a receipt's PDF for its payer (or any, for a manager), and a client
invoice made, sent to the manager as a PDF and emailed to the client."""

from __future__ import annotations

from typing import Any

from telegram import InputFile, Message, Update
from telegram.ext import Application, CommandHandler

from bot.context import CallsheetContext
from handlers.common import CREW_COMMANDS, MANAGER_COMMANDS, Command, current_person
from handlers.shared import args_text, managers_only, render
from services.outbox import Attachment

MANAGER_COMMANDS += [
    Command(
        "invoice",
        "Invoice a client for an event; the PDF is emailed to them",
        "/invoice 12 | Tamu Weddings | accounts@tamu.example | Sound system 45000; Lighting 30000",
    ),
]
CREW_COMMANDS += [
    Command("receipt", "A receipt as PDF: /receipt <payment #> or /receipt R-2026-000123"),
]


async def send_pdf(update: Update, pdf: Attachment, caption: str) -> Message:
    message = update.effective_message
    assert message is not None
    return await message.reply_document(
        document=InputFile(pdf.data, filename=pdf.filename), caption=caption
    )


async def receipt_command(update: Update, context: CallsheetContext) -> None:
    actor = await current_person(update, context)
    assert actor is not None
    receipt, pdf = await context.services.documents.receipt_for(actor, args_text(update))
    await send_pdf(update, pdf, render(context, "payments/receipt_pdf", receipt=receipt))


@managers_only("make invoices")
async def invoice_command(update: Update, context: CallsheetContext) -> None:
    actor = await current_person(update, context)
    assert actor is not None
    checkout = context.services.checkout  # None without M-Pesa: the invoice has no link
    made = await context.services.documents.create_invoice(
        actor, args_text(update), checkout=checkout.invoice_link if checkout else None
    )
    await send_pdf(update, made.pdf, render(context, "payments/invoice_pdf", made=made))


def register(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    application.add_handler(CommandHandler("receipt", receipt_command))
    application.add_handler(CommandHandler("invoice", invoice_command))
