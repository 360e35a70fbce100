"""Reading back receipts and invoices: the PDFs the bot sends, and those emails carry."""

from __future__ import annotations

import io
from email.message import EmailMessage

import pypdf

from sandbox.telegram import TelegramSandbox


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def sent_pdf(tg: TelegramSandbox, message: dict[str, object]) -> tuple[str, bytes]:
    document = message["document"]
    assert isinstance(document, dict)
    stored = tg.files[document["file_id"]]
    assert stored.content is not None and stored.file_name is not None
    return stored.file_name, stored.content


def pdf_attachment(message: EmailMessage) -> tuple[str, bytes]:
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert len(parts) == 1, [p.get_content_type() for p in message.iter_attachments()]
    name = parts[0].get_filename()
    assert name is not None
    data = parts[0].get_content()
    assert isinstance(data, bytes)
    return name, data
