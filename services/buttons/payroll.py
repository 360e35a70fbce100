"""Buttons on a pay sheet (`prl:`): Submit, Approve, Pay (and Pay again, Retry failed) and
its pages."""

from __future__ import annotations

from dataclasses import dataclass

from services.buttons._base import CallbackData

AREA = "prl"


@dataclass(frozen=True)
class SubmitSheet(CallbackData, prefix=AREA, action="submit"):
    sheet_id: int


@dataclass(frozen=True)
class ApproveSheet(CallbackData, prefix=AREA, action="approve"):
    sheet_id: int


@dataclass(frozen=True)
class PaySheetNow(CallbackData, prefix=AREA, action="pay"):
    """Pay an approved sheet; after a stop, pay again; after failures, retry them."""

    sheet_id: int


@dataclass(frozen=True)
class SheetPage(CallbackData, prefix=AREA, action="page"):
    sheet_id: int
    page: int


@dataclass(frozen=True)
class PayCrew(CallbackData, prefix=AREA, action="event"):
    """The event card's Pay crew: open (or build) the event's pay sheet."""

    event_id: int
