"""Reading `/invoice <event id> | <client name> | <email> | <line>; <line>…`.

Each line is a description, then its amount in whole shillings at the end:
"Sound system 45000; Lighting KES 30,000". Every problem is said in one message, and
nothing is saved unless the whole invoice reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.documents.errors import InvalidInvoice
from services.ids import parse_id
from services.people.cleaning import clean_email
from services.people.errors import InvalidPerson

CLIENT_MAX = 120
DESCRIPTION_MAX = 120
LINES_MAX = 30
AMOUNT_MAX = 100_000_000  # KES; far above any event, far below any column's limit
USAGE = (
    "Send /invoice <event #> | <client name> | <client email> | <lines>, each line a "
    "description and then its amount in shillings, lines separated by ; — for example:\n"
    "/invoice 12 | Tamu Weddings | accounts@tamu.example | Sound system 45000; Lighting 30,000"
)
_LINE = re.compile(
    r"(?P<description>.*?)[\s|:=-]*(?:kes|kshs?)?\.?\s*(?P<amount>[0-9][0-9,]*)", re.IGNORECASE
)


@dataclass(frozen=True)
class DraftLine:
    description: str
    amount: int


@dataclass(frozen=True)
class InvoiceDraft:
    event_id: int
    client_name: str
    client_email: str
    lines: tuple[DraftLine, ...]

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


def parse_invoice(text: str) -> InvoiceDraft:
    parts = [p.strip() for p in text.split("|", 3)]
    if len(parts) < 4 or not all(parts):
        raise InvalidInvoice(USAGE)
    event_text, client, email_text, lines_text = parts
    problems: list[str] = []
    event_id = parse_id(event_text.lstrip("#"))
    if event_id is None:
        problems.append(f"“{event_text[:20]}” is not an event number (see /events).")
    client = " ".join(client.split())
    if len(client) > CLIENT_MAX:
        problems.append(f"The client's name is longer than {CLIENT_MAX} characters.")
    email = ""
    try:
        email = clean_email(email_text) or ""
    except InvalidPerson:
        problems.append(f"“{email_text[:60]}” is not an email address, like jane@example.com.")
    lines: list[DraftLine] = []
    pieces = [p.strip() for p in re.split(r"[;\n]", lines_text)]
    for number, piece in enumerate((p for p in pieces if p), 1):
        line, problem = _line(piece)
        if problem:
            problems.append(f"Line {number}, “{piece[:40]}”: {problem}")
        elif line is not None:
            lines.append(line)
    if not lines and not problems:
        problems.append("There are no lines.")
    if len(lines) > LINES_MAX:
        problems.append(f"An invoice holds at most {LINES_MAX} lines.")
    if problems:
        raise InvalidInvoice("\n".join([*problems, "", USAGE]))
    assert event_id is not None
    return InvoiceDraft(event_id, client, email, tuple(lines))


def _line(piece: str) -> tuple[DraftLine | None, str]:
    match = _LINE.fullmatch(piece)
    if match is None:
        return None, "no amount at the end (write the amount last, like Lighting 30000)."
    description = " ".join(match["description"].split()).rstrip("|:=- ")
    digits = match["amount"]
    if not description:
        return None, "no description before the amount."
    if len(description) > DESCRIPTION_MAX:
        return None, f"the description is longer than {DESCRIPTION_MAX} characters."
    if not re.fullmatch(r"[0-9]{1,3}(?:,[0-9]{3})*|[0-9]+", digits):
        return None, f"“{digits}” is not an amount in whole shillings."
    clean = digits.replace(",", "").lstrip("0")
    if not clean or len(clean) > 9 or int(clean) > AMOUNT_MAX:
        return None, f"the amount must be between KES 1 and KES {AMOUNT_MAX:,}."
    return DraftLine(description, int(clean)), ""
