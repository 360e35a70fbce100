"""Buttons on a statement reconciliation (`bks:`): Record a row that is not in our books."""

from __future__ import annotations

from dataclasses import dataclass

from services.buttons._base import CallbackData

AREA = "bks"


@dataclass(frozen=True)
class RecordStatementRow(CallbackData, prefix=AREA, action="record"):
    """Record a statement row's payment (paid straight to the paybill) for the person the
    statement names by phone."""

    row_id: int
