"""Reading the M-Pesa org-portal statement (CSV or XLSX) into rows we can match.

The layout is DARAJA.md's "M-Pesa business statement": six metadata rows (account, short
code, `Time Period: From DD-MM-YYYY HH:MM:SS To …`, balances), the headers on row 7 and
the transactions after. Columns are found by header, never by position; times are day
first, or Excel serial numbers in an XLSX. Amounts are kept in cents: fees are not always
whole shillings. A file that is not such a statement raises `NotAStatement` with one line
saying why, before anything is saved.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from services.errors import CallsheetError

HEADER_SEARCH_ROWS = 20  # the header row is row 7; a little slack for edited exports
MAX_BYTES = 20 * 1024 * 1024  # what a bot may download from Telegram

# Our name → the header as Safaricom writes it, normalised (lower case, no dots, one space).
COLUMNS = {
    "receipt": "receipt no",
    "completed": "completion time",
    "details": "details",
    "status": "transaction status",
    "paid_in": "paid in",
    "withdrawn": "withdrawn",
    "balance": "balance",
    "reason": "reason type",
    "other_party": "other party info",
}
REQUIRED = ("receipt", "completed", "paid_in", "withdrawn")
DAY_FIRST = ("%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M")
EXCEL_EPOCH = datetime(1899, 12, 30)
PERIOD = re.compile(
    r"From\s+(\d{1,2}[-/]\d{1,2}[-/]\d{4}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?)\s+"
    r"To\s+(\d{1,2}[-/]\d{1,2}[-/]\d{4}(?:\s+\d{1,2}:\d{2}(?::\d{2})?)?)",
    re.IGNORECASE,
)
SHORT_CODE = re.compile(r"Short\s*Code\s*[:\-]?\s*(\d{4,7})", re.IGNORECASE)
NUMBER = r"(-?[\d,]+(?:\.\d+)?)"
OPENING = re.compile(r"Opening\s+Balance\s*[:\-]?\s*(?:KES|KSH)?\s*" + NUMBER, re.IGNORECASE)
CLOSING = re.compile(r"Closing\s+Balance\s*[:\-]?\s*(?:KES|KSH)?\s*" + NUMBER, re.IGNORECASE)
PHONE = re.compile(r"^\s*(254\d{9})\b")


class NotAStatement(CallsheetError):
    """The file is not an M-Pesa statement we can read; the message says why."""


@dataclass(frozen=True, slots=True)
class StatementRow:
    line: int  # the row number in the file, as a spreadsheet shows it
    receipt: str
    completed_at: datetime  # aware, UTC
    paid_in: int  # cents, ≥ 0
    withdrawn: int  # cents, ≥ 0 (exports often print it negative)
    other_party: str
    # A charge row: Safaricom lists a transaction's fee as its own row, same receipt
    # ("… Charge" in its Reason Type or Details). Only this is kept of those two columns:
    # a 100,000-row statement is held in memory while it is matched.
    is_fee: bool = False

    @property
    def amount(self) -> int:
        """Cents moved, whichever way."""
        return self.paid_in or self.withdrawn

    @property
    def phone(self) -> str | None:
        """The other party's number when the export shows it whole (often masked)."""
        found = PHONE.match(self.other_party)
        return f"+{found[1]}" if found else None


@dataclass(slots=True)
class Statement:
    short_code: str | None
    period_from: datetime  # aware, UTC
    period_to: datetime
    opening: int | None  # cents
    closing: int | None
    rows: list[StatementRow] = field(default_factory=list)
    left_out: int = 0  # rows not completed (failed, pending), not matched


def parse(name: str, content: bytes, tz: ZoneInfo) -> Statement:
    """The statement in `content` (CSV or XLSX, told apart by their bytes, not the name)."""
    if not content:
        raise NotAStatement(f"{name} is empty.")
    if len(content) > MAX_BYTES:
        raise NotAStatement(f"{name} is over 20 MB; a month's statement is far smaller.")
    rows = _xlsx_rows(name, content) if content[:4] == b"PK\x03\x04" else _csv_rows(name, content)
    return _read(name, rows, tz)


def _csv_rows(name: str, content: bytes) -> Iterator[Sequence[Any]]:
    if b"\x00" in content[:4096]:
        raise NotAStatement(f"{name} is not a CSV or XLSX file (send the statement export).")
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover  (cp1252 decodes nearly anything)
        raise NotAStatement(f"{name} is not text: send the CSV or XLSX export.")
    return iter(csv.reader(io.StringIO(text, newline="")))


def _xlsx_rows(name: str, content: bytes) -> Iterator[Sequence[Any]]:
    from openpyxl import load_workbook  # imported here: only XLSX statements need it

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise NotAStatement(f"{name} is not a readable XLSX file ({exc}).") from exc
    sheet = book.worksheets[0] if book.worksheets else None
    if sheet is None:
        raise NotAStatement(f"{name} has no sheet.")

    def rows() -> Iterator[Sequence[Any]]:
        try:
            yield from sheet.iter_rows(values_only=True)
        finally:
            book.close()

    return rows()


def _norm(cell: Any) -> str:
    return " ".join(str(cell or "").replace(".", " ").lower().split())


def _read(name: str, rows: Iterator[Sequence[Any]], tz: ZoneInfo) -> Statement:
    metadata: list[str] = []
    columns: dict[str, int] | None = None
    line = 0
    for line, row in enumerate(rows, start=1):
        names = [_norm(c) for c in row]
        if COLUMNS["receipt"] in names and COLUMNS["completed"] in names:
            columns = {key: names.index(h) for key, h in COLUMNS.items() if h in names}
            break
        metadata.append(" ".join(str(c) for c in row if c not in (None, "")))
        if line >= HEADER_SEARCH_ROWS:
            break
    if columns is None:
        raise NotAStatement(
            f"{name} is not an M-Pesa statement: no header row with 'Receipt No.' and "
            f"'Completion Time' in its first {HEADER_SEARCH_ROWS} rows. Send the export "
            "from the M-Pesa org portal (CSV or XLSX)."
        )
    missing = [COLUMNS[k] for k in REQUIRED if k not in columns]
    if missing:
        raise NotAStatement(
            f"{name}: the header row (row {line}) has no {', '.join(repr(m) for m in missing)} "
            "column."
        )
    header_line = line
    found: list[StatementRow] = []
    left_out = 0
    status = columns.get("status")
    for line, row in enumerate(rows, start=header_line + 1):
        if not any(c not in (None, "") for c in row):
            continue
        parsed = _row(name, line, row, columns, tz)
        shown = (
            str(row[status] or "").strip().lower()
            if status is not None and status < len(row)
            else ""
        )
        if shown in ("", "completed"):
            found.append(parsed)
        else:
            left_out += 1
    meta = " ".join(metadata)
    period = PERIOD.search(meta)
    if period:
        start = _when(period[1], tz)
        end = _when(period[2], tz)
    elif found:
        start = min(r.completed_at for r in found)
        end = max(r.completed_at for r in found)
    else:
        raise NotAStatement(f"{name} has no transactions and no 'Time Period' line.")
    if start is None or end is None or end < start:
        raise NotAStatement(f"{name}: its 'Time Period' line is not two day-first dates.")
    code = SHORT_CODE.search(meta)
    return Statement(
        short_code=code[1] if code else None,
        period_from=start,
        period_to=end,
        opening=_cents_in(OPENING.search(meta)),
        closing=_cents_in(CLOSING.search(meta)),
        rows=found,
        left_out=left_out,
    )


def _row(
    name: str, line: int, row: Sequence[Any], columns: dict[str, int], tz: ZoneInfo
) -> StatementRow:
    def cell(key: str) -> Any:
        index = columns.get(key)
        return row[index] if index is not None and index < len(row) else None

    receipt = str(cell("receipt") or "").strip().upper()
    if not receipt:
        raise NotAStatement(f"{name}, row {line}: the 'Receipt No.' is empty.")
    when = _when(cell("completed"), tz)
    if when is None:
        raise NotAStatement(
            f"{name}, row {line}: Completion Time {cell('completed')!r} is not a day-first "
            "date (DD-MM-YYYY HH:MM:SS)."
        )
    try:
        paid_in = abs(_cents(cell("paid_in")))
        withdrawn = abs(_cents(cell("withdrawn")))
    except (InvalidOperation, ValueError) as exc:
        raise NotAStatement(
            f"{name}, row {line}: 'Paid In' or 'Withdrawn' is not an amount "
            f"({cell('paid_in')!r}, {cell('withdrawn')!r})."
        ) from exc
    kind = f"{cell('reason') or ''} {cell('details') or ''}".lower()
    return StatementRow(
        line=line,
        receipt=receipt,
        completed_at=when,
        paid_in=paid_in,
        withdrawn=withdrawn,
        other_party=str(cell("other_party") or "").strip(),
        is_fee="charge" in kind,
    )


def _when(value: Any, tz: ZoneInfo) -> datetime | None:
    """A statement time (Nairobi wall time) as an aware UTC datetime."""
    local: datetime | None = None
    if isinstance(value, datetime):
        local = value.replace(tzinfo=None)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if 1 < value < 2_958_466:  # Excel's serial days, 1900 to 9999
            local = EXCEL_EPOCH + timedelta(seconds=round(float(value) * 86_400))

    elif isinstance(value, str):
        text = " ".join(value.split())
        for layout in DAY_FIRST:
            try:
                local = datetime.strptime(text, layout)
                break
            except ValueError:
                continue
        else:
            try:
                local = datetime.strptime(text, "%d-%m-%Y")
            except ValueError:
                local = None
    if local is None:
        return None
    return local.replace(tzinfo=tz).astimezone(ZoneInfo("UTC"))


def _cents(value: Any) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        amount = Decimal(str(value))
    else:
        text = str(value).replace(",", "").replace("KES", "").replace("Ksh", "").strip()
        if not text or text == "-":
            return 0
        amount = Decimal(text)
    return int((amount * 100).to_integral_value())


def _cents_in(found: re.Match[str] | None) -> int | None:
    return _cents(found[1]) if found else None
