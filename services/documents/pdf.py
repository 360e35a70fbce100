"""Receipt and invoice PDFs, drawn with fpdf2's core fonts from what the rows say.

The core fonts know latin-1 only: every text goes through `latin1` first, which keeps
accented letters, spells the usual typographic marks in ASCII and shows anything else as
"?", so a name in another script never stops a receipt. The same rows give the same bytes
(the creation date is the document's own date).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from services.money import format_kes

_ASCII = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": ",",
        "“": '"',
        "”": '"',
        "„": '"',
        "–": "-",
        "—": "-",
        "−": "-",
        "…": "...",
        "•": "·",
        "€": "EUR",
        "\u00a0": " ",
    }
)


def latin1(text: str) -> str:
    """`text` as the core fonts can draw it."""
    out: list[str] = []
    for char in text.translate(_ASCII):
        if ord(char) < 256:
            out.append(char)
            continue
        # Wanjirũ → Wanjiru: the base letter, without the mark latin-1 lacks.
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        out.append(base if base and all(ord(c) < 256 for c in base) else "?")
    return "".join(out)


def document_date(when: datetime, tz: ZoneInfo) -> str:
    """'Sat 5 Dec 2026, 18:00' in the company's timezone: a document always says its year."""
    local = when.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b} {local.year}, {local:%H:%M}"


@dataclass(frozen=True)
class Line:
    description: str
    amount: int


@dataclass(frozen=True)
class Sheet:
    """Everything one PDF shows, already worded."""

    company: str
    title: str  # "Receipt", "Invoice"
    number: str
    issued_at: datetime
    tz: ZoneInfo
    party_label: str  # "Received from", "Paid to", "Bill to"
    party: Sequence[str]  # name, then phone or email
    lines: Sequence[Line]
    total_label: str  # "Total paid", "Total due"
    details: Sequence[tuple[str, str]]  # ("M-Pesa receipt", "QJK…"), ("Status", "Open")
    footer: str = ""


def draw(sheet: Sheet) -> bytes:
    pdf = FPDF(format="A4")
    pdf.set_creation_date(sheet.issued_at)
    pdf.set_title(latin1(f"{sheet.title} {sheet.number}"))
    pdf.set_author(latin1(sheet.company))
    pdf.set_creator("Callsheet")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    width = pdf.epw

    def row(text: str, *, size: int = 11, style: str = "", height: float = 7) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, height, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    row(sheet.company, size=20, style="B", height=10)
    row(f"{sheet.title} {sheet.number}", size=14, style="B", height=9)
    row(document_date(sheet.issued_at, sheet.tz), size=11)
    pdf.ln(4)
    row(sheet.party_label, size=10, style="B", height=6)
    for part in sheet.party:
        row(part, height=6)
    pdf.ln(4)

    amount_width = 45
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(width - amount_width, 8, "Description", border="B")
    pdf.cell(amount_width, 8, "Amount", border="B", align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font("Helvetica", "", 11)
    for line in sheet.lines:
        pdf.cell(width - amount_width, 8, latin1(line.description)[:90])
        pdf.cell(
            amount_width,
            8,
            format_kes(line.amount),
            align="R",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(width - amount_width, 10, latin1(sheet.total_label), border="T")
    pdf.cell(
        amount_width,
        10,
        format_kes(sum(line.amount for line in sheet.lines)),
        border="T",
        align="R",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(4)
    for label, value in sheet.details:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(45, 6, latin1(label))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(width - 45, 6, latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if sheet.footer:
        pdf.ln(6)
        row(sheet.footer, size=9, height=5)
    return bytes(pdf.output())
