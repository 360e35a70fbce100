"""M-Pesa org-portal statements in their real layout (DARAJA.md), for tests and the bench:
six metadata rows, the headers on row 7, day-first times, masked phones, fee rows."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

HEADERS = [
    "Receipt No.",
    "Completion Time",
    "Initiation Time",
    "Details",
    "Transaction Status",
    "Paid In",
    "Withdrawn",
    "Balance",
    "Balance Confirmed",
    "Reason Type",
    "Other Party Info",
    "Linked Transaction ID",
    "A/C No.",
]
STK = "Pay Utility"
FULIZA = "Pay Utility with OD via STK"
B2C = "Business Payment to Customer via API"
B2C_FEE = "Business Payment to Customer via API Charge"
TRANSFER = "Utility Account to Organization Settlement Account"


@dataclass(frozen=True)
class Line:
    receipt: str
    when: datetime  # Nairobi wall time, naive
    reason: str
    paid_in: Decimal = Decimal(0)
    withdrawn: Decimal = Decimal(0)
    other_party: str = ""
    details: str = ""
    status: str = "Completed"


def day_first(when: datetime) -> str:
    return when.strftime("%d-%m-%Y %H:%M:%S")


def metadata(
    start: datetime, end: datetime, opening: Decimal, lines: Sequence[Line]
) -> list[list[str]]:
    paid_in = sum((line.paid_in for line in lines if line.status == "Completed"), Decimal(0))
    withdrawn = sum((line.withdrawn for line in lines if line.status == "Completed"), Decimal(0))
    closing = opening + paid_in - withdrawn
    return [
        ["Account Holder:", "Sauti Sound Ltd"],
        ["Short Code:", "600123"],
        ["Account:", "Utility Account"],
        [f"Time Period: From {day_first(start)} To {day_first(end)}"],
        ["Operator: api_operator", "Date of Report: 06-12-2026 10:00:00"],
        [
            f"Opening Balance: {opening:,.2f}",
            f"Closing Balance: {closing:,.2f}",
            f"Total Paid In: {paid_in:,.2f}",
            f"Total Withdrawn: {withdrawn:,.2f}",
        ],
    ]


def rows(lines: Sequence[Line], opening: Decimal) -> list[list[object]]:
    balance = opening
    out: list[list[object]] = []  # cells: text, or numbers in an XLSX
    for line in lines:
        if line.status == "Completed":
            balance += line.paid_in - line.withdrawn
        out.append(
            [
                line.receipt,
                day_first(line.when),
                day_first(line.when),
                line.details or line.reason,
                line.status,
                f"{line.paid_in:,.2f}" if line.paid_in else "",
                f"-{line.withdrawn:,.2f}" if line.withdrawn else "",  # exports print it negative
                f"{balance:,.2f}",
                "Yes",
                line.reason,
                line.other_party,
                "",
                "",
            ]
        )
    return out


def as_csv(start: datetime, end: datetime, lines: Sequence[Line], opening: Decimal) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows(metadata(start, end, opening, lines))
    writer.writerow(HEADERS)
    writer.writerows(rows(lines, opening))
    return buffer.getvalue().encode("utf-8-sig")


def as_xlsx(
    start: datetime,
    end: datetime,
    lines: Sequence[Line],
    opening: Decimal,
    *,
    serial_times: bool = False,
) -> bytes:
    """An XLSX as the portal gives it; `serial_times`: Completion Time as Excel serial
    numbers (as some exports store them) instead of day-first text."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("Statement")
    for row in metadata(start, end, opening, lines):
        sheet.append(row)
    sheet.append(HEADERS)
    for line, printed in zip(lines, rows(lines, opening), strict=True):
        cells: list[object] = list(printed)

        if serial_times:
            cells[1] = (line.when - datetime(1899, 12, 30)).total_seconds() / 86_400
        sheet.append(cells)

    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
