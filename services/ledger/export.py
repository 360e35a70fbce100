"""The month's ledger for the accountant (`/export 2026-11`, `callsheet export --month`), as
CSV and XLSX with the same rows: date, person, kind, method, amount, receipt, reference.

The month is the company's (settings.tz): an entry at 30 Nov 22:30 UTC is 1 Dec in Nairobi.
Amounts are signed as on the ledger: positive raises what the person owes the company,
negative lowers it, so the sum of the ledger's rows is the month's change in what everyone
owes. Money from clients (deposits and invoices paid on the checkout page) is on no one's
ledger; its rows are in the same files, of kind `client`, signed the same way (received is
negative, given back positive), so the accountant sees every shilling that moved.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.styles import Font

from models import (
    Deposit,
    InstalmentPayment,
    Invoice,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Payout,
    Person,
    RecordedPayment,
    Refund,
    RefundStatus,
)
from services.errors import InvalidInput, require_manager
from services.ledger.service import LedgerError
from services.phones import display_phone

COLUMNS = ("date", "person", "kind", "method", "amount", "receipt", "reference")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet would run as a formula


class InvalidMonth(LedgerError, InvalidInput):
    pass


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def name(self) -> str:
        return datetime(self.year, self.month, 1).strftime("%B %Y")

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The month's first instant and the next month's, in UTC."""
        following = (self.year + 1, 1) if self.month == 12 else (self.year, self.month + 1)
        start = datetime(self.year, self.month, 1, tzinfo=tz)
        end = datetime(*following, 1, tzinfo=tz)
        return start.astimezone(UTC), end.astimezone(UTC)


def parse_month(text: str) -> Month:
    shown = " ".join(text.split())
    match = _MONTH.fullmatch(shown)
    # 9999-12 would end in the year 10000, which no datetime holds.
    if match is None or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= 9998:
        what = f"“{shown[:20]}” is not a month." if shown else "Say which month."
        raise InvalidMonth(f"{what} Give the year and month, like 2026-11.")
    return Month(int(match[1]), int(match[2]))


@dataclass(frozen=True)
class Row:
    date: datetime  # in the company's timezone
    person: str
    kind: str
    method: str
    amount: int
    receipt: str
    reference: str

    def cells(self) -> list[str | int | datetime | None]:
        """For a spreadsheet: a blank is an empty cell, not an empty string."""
        return [
            self.date.replace(tzinfo=None),
            _text(self.person),
            self.kind,
            self.method or None,
            self.amount,
            _text(self.receipt) or None,
            _text(self.reference) or None,
        ]


@dataclass(frozen=True)
class MonthExport:
    month: Month
    rows: list[Row]  # the ledger's entries
    clients: list[Row]  # money from clients and given back to them: on no one's ledger

    @property
    def base_name(self) -> str:
        return f"ledger-{self.month.label}"

    @property
    def total(self) -> int:
        """The month's change in what everyone owes (the ledger's rows only)."""
        return sum(r.amount for r in self.rows)

    @property
    def received(self) -> int:
        return -sum(r.amount for r in self.clients if r.amount < 0)

    @property
    def given_back(self) -> int:
        return sum(r.amount for r in self.clients if r.amount > 0)

    @property
    def lines(self) -> list[Row]:
        """What the files hold: every row of both, by date (a sort that keeps each one's order)."""
        return sorted([*self.rows, *self.clients], key=lambda r: r.date)

    def csv_bytes(self) -> bytes:
        """UTF-8 with a byte-order mark, so that Excel shows names with accents."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for row in self.lines:
            cells = row.cells()
            cells[0] = row.date.strftime("%Y-%m-%d %H:%M")
            writer.writerow(cells)
        return out.getvalue().encode("utf-8-sig")

    def xlsx_bytes(self) -> bytes:
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        sheet.title = self.month.label
        sheet.append(list(COLUMNS))
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in self.lines:
            sheet.append(row.cells())
            sheet.cell(row=sheet.max_row, column=1).number_format = "yyyy-mm-dd hh:mm"
        for letter, width in zip("ABCDEFG", (17, 28, 11, 8, 11, 13, 40), strict=True):
            sheet.column_dimensions[letter].width = width
        sheet.freeze_panes = "A2"
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()


def _text(value: str) -> str:
    """A name or reference a spreadsheet would run as a formula is shown as typed."""
    return "'" + value if value.startswith(_FORMULA) else value


class Exports:
    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz

    async def for_manager(self, actor: Person | None, text: str) -> MonthExport:
        require_manager(actor, "export the books")
        return await self.month(text)

    async def month(self, text: str) -> MonthExport:
        """Every ledger entry of the month (in the company's timezone), oldest first."""
        month = parse_month(text)
        start, end = month.bounds(self.tz)
        entries = (
            await LedgerEntry.filter(created_at__gte=start, created_at__lt=end)
            .order_by("created_at", "id")
            .prefetch_related("person")
        )
        payments = {
            p.id: p
            for p in await Payment.filter(
                id__in=[e.payment_id for e in entries if e.payment_id] or [0]  # type: ignore[attr-defined]
            )
        }
        payouts = {
            p.id: p
            for p in await Payout.filter(
                id__in=[e.payout_id for e in entries if e.payout_id] or [0]  # type: ignore[attr-defined]
            )
        }
        ids = [e.id for e in entries] + [e.reverses_id for e in entries]  # type: ignore[attr-defined]
        records = {
            r.entry_id: r  # type: ignore[attr-defined]
            for r in await RecordedPayment.filter(entry_id__in=[i for i in ids if i] or [0])
        }
        refunds = {
            r.entry_id: r  # type: ignore[attr-defined]
            for r in await Refund.filter(
                entry_id__in=[e.id for e in entries if e.kind is LedgerKind.REFUND] or [0]
            )
        }
        rows = []
        for entry in entries:
            method = receipt = ""
            reference = entry.description
            record = records.get(entry.id) or records.get(entry.reverses_id)  # type: ignore[attr-defined]
            payment = payments.get(entry.payment_id)  # type: ignore[attr-defined]
            payout = payouts.get(entry.payout_id)  # type: ignore[attr-defined]
            refund = refunds.get(entry.id)
            if refund is not None:
                method, receipt = f"mpesa {refund.method.value}", refund.receipt or ""
                reference = f"refund #{refund.id} of payment #{refund.payment_id}"  # type: ignore[attr-defined]
            elif record is not None:
                method, reference = record.method.value, record.reference
            elif payment is not None:
                method, receipt, reference = (
                    "mpesa",
                    payment.receipt or "",
                    f"payment #{payment.id}",
                )
            elif payout is not None:
                method, receipt = "b2c", payout.transaction_id or ""
                reference = f"payout #{payout.id}"
            elif entry.kind is LedgerKind.PAYMENT:
                method = "mpesa"
            rows.append(
                Row(
                    date=entry.created_at.astimezone(self.tz),
                    person=entry.person.name,
                    kind=entry.kind.value,
                    method=method,
                    amount=entry.amount,
                    receipt=receipt,
                    reference=reference,
                )
            )
        return MonthExport(month, rows, await self.clients(start, end))

    async def clients(self, start: datetime, end: datetime) -> list[Row]:
        """Money that moved with clients in [start, end): completed payments of no one on the
        list (a deposit, an invoice), and what refunds gave back of such payments."""
        paid = await Payment.filter(
            person_id=None,
            status=PaymentStatus.COMPLETED,
            resolved_at__gte=start,
            resolved_at__lt=end,
        ).order_by("resolved_at", "id")
        refunds = (
            await Refund.filter(
                entry_id=None,
                status=RefundStatus.REFUNDED,
                finished_at__gte=start,
                finished_at__lt=end,
            )
            .order_by("finished_at", "id")
            .prefetch_related("payment", "person")
        )
        ids = [p.id for p in paid] + [r.payment.id for r in refunds]
        names = await _clients_of(ids)
        rows = [
            Row(
                date=(p.resolved_at or p.updated_at).astimezone(self.tz),
                person=names.get(p.id, ("", ""))[0] or display_phone(p.phone),
                kind="client",
                method="mpesa",
                amount=-(p.paid_amount or p.amount),
                receipt=p.receipt or "",
                reference=names.get(p.id, ("", ""))[1] or f"payment #{p.id}",
            )
            for p in paid
        ]
        rows += [
            Row(
                date=(r.finished_at or r.updated_at).astimezone(self.tz),
                person=(r.person.name if r.person else names.get(r.payment.id, ("", ""))[0])
                or display_phone(r.phone),
                kind="client",
                method=f"mpesa {r.method.value}",
                amount=r.amount,
                receipt=r.receipt or "",
                reference=f"refund #{r.id} of payment #{r.payment.id}",
            )
            for r in refunds
        ]
        return sorted(rows, key=lambda r: r.date)


async def _clients_of(payment_ids: list[int]) -> dict[int, tuple[str, str]]:
    """Each checkout payment's client and what it paid: ("Tamu Weddings", "invoice INV-…")."""
    links = dict(
        await InstalmentPayment.filter(payment_id__in=payment_ids or [0]).values_list(
            "payment_id", "instalment__deposit_id"
        )
    )
    deposits = {d.id: d for d in await Deposit.filter(id__in=set(links.values()) or {0})}
    numbers: dict[int, str] = dict(
        await Invoice.filter(
            id__in=[d.invoice_id for d in deposits.values() if d.invoice_id] or [0]  # type: ignore[attr-defined]
        ).values_list("id", "number")
    )
    found: dict[int, tuple[str, str]] = {}
    for payment_id, deposit_id in links.items():
        deposit = deposits[deposit_id]
        number = numbers.get(deposit.invoice_id)  # type: ignore[attr-defined]
        what = f"invoice {number}" if number else f"deposit #{deposit.id}"
        found[payment_id] = (deposit.client_name, f"{what} · payment #{payment_id}")
    return found
