"""The board's money pages, read only: payments with filters, pay sheets waiting for review,
refunds waiting for a decision, and the kept reconciliations. Approving goes through
services/payroll and services/refunds, as the chat's buttons do."""

from __future__ import annotations

from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from tortoise.functions import Count, Sum

from models import (
    PayLine,
    Payment,
    PaymentStatus,
    PaySheet,
    PaySheetStatus,
    Person,
    Reconciliation,
    Refund,
    RefundStatus,
)
from services.errors import InvalidInput, NotFound, require_manager
from services.ledger import Month, parse_month
from services.payroll import problem_of
from services.people import Among, PeopleService

PAYMENTS_SHOWN = 50
SHEETS_SHOWN = 20
RECONCILIATIONS_SHOWN = 12
REVIEW = (PaySheetStatus.SUBMITTED, PaySheetStatus.DRAFT)
FLAGGED = "flagged"


class BadFilter(InvalidInput):
    pass


@dataclass(frozen=True)
class PaymentFilter:
    status: PaymentStatus | None = None
    flagged: bool = False
    month: Month | None = None
    person: Person | None = None
    typed_person: str = ""  # as the manager typed it, shown back in the form

    @property
    def any(self) -> bool:
        return bool(self.status or self.flagged or self.month or self.person)


@dataclass(frozen=True)
class PaymentList:
    wanted: PaymentFilter
    payments: list[Payment]
    count: int  # all that match, shown or not
    total_paid: int  # KES, completed ones among all that match


async def parse_filter(status: str, month: str, person: str) -> PaymentFilter:
    """The money page's GET parameters; a wrong one says what it expects."""
    wanted_status: PaymentStatus | None = None
    flagged = False
    text = status.strip().lower()
    if text == FLAGGED:
        flagged = True
    elif text:
        statuses = {s.value: s for s in PaymentStatus}
        if text not in statuses:
            raise BadFilter(
                f"“{status.strip()[:20]}” is not a payment status. Pick one of "
                f"{', '.join(statuses)} or {FLAGGED}."
            )
        wanted_status = statuses[text]
    wanted_month = parse_month(month) if month.strip() else None
    found: Person | None = None
    if person.strip():
        try:
            found = await PeopleService.find(person.strip()[:100], among=Among.OWING_TOO)
        except NotFound as exc:  # a filter typed wrong: the page is there, the person not
            raise BadFilter(str(exc)) from exc
    return PaymentFilter(wanted_status, flagged, wanted_month, found, person.strip()[:100])


async def payments(actor: Person, wanted: PaymentFilter, tz: ZoneInfo) -> PaymentList:
    require_manager(actor, "see every payment")
    rows = Payment.all()
    if wanted.status is not None:
        rows = rows.filter(status=wanted.status)
    if wanted.flagged:
        rows = rows.filter(flag_reason__isnull=False)
    if wanted.month is not None:
        starts, ends = wanted.month.bounds(tz)
        rows = rows.filter(created_at__gte=starts, created_at__lt=ends)
    if wanted.person is not None:
        rows = rows.filter(person_id=wanted.person.id)
    count = await rows.count()
    paid = (
        await rows.filter(status=PaymentStatus.COMPLETED)
        .annotate(total=Sum("amount"))
        .values("total")
    )
    # Newest first. Filtered by status, the (status, created_at) index gives them in order;
    # ordered by id there, the database would sort every match (80,000 of 100,000) first.
    newest = ("-created_at", "-id") if wanted.status is not None else ("-id",)
    shown = await rows.order_by(*newest).limit(PAYMENTS_SHOWN).prefetch_related("person")
    return PaymentList(wanted, list(shown), count, int(paid[0]["total"] or 0) if paid else 0)


@dataclass(frozen=True)
class SheetRow:
    sheet: PaySheet
    lines: int  # to pay
    net: int
    problems: int


async def sheets_to_review(actor: Person) -> list[SheetRow]:
    """Each event's latest version that is a draft or waiting for approval, submitted
    first, then the oldest first."""
    require_manager(actor, "see pay sheets")
    sheets = await (
        PaySheet.filter(status__in=REVIEW)
        .order_by("-status", "id")  # "submitted" after "draft" reversed
        .limit(SHEETS_SHOWN)
        .prefetch_related("event")
    )
    totals = {
        row["sheet_id"]: row
        for row in await PayLine.filter(sheet_id__in=[s.id for s in sheets] or [0], left_out=False)
        .annotate(n=Count("id"), net=Sum("net"))
        .group_by("sheet_id")
        .values("sheet_id", "n", "net")
    }
    problems: dict[int, int] = {}
    for line in await PayLine.filter(
        sheet_id__in=[s.id for s in sheets] or [0], left_out=False, rate__isnull=True
    ):
        problems[line.sheet_id] = problems.get(line.sheet_id, 0) + 1  # type: ignore[attr-defined]
    return [
        SheetRow(
            s,
            int(totals.get(s.id, {}).get("n") or 0),
            int(totals.get(s.id, {}).get("net") or 0),
            problems.get(s.id, 0),
        )
        for s in sheets
    ]


@dataclass
class SheetReview:
    sheet: PaySheet
    lines: list[PayLine]  # with .person
    names: dict[str, str] = field(default_factory=dict)  # prepared / submitted / approved
    approvals: int = 1

    @property
    def paid_lines(self) -> list[PayLine]:
        return [line for line in self.lines if not line.left_out]

    @property
    def total_net(self) -> int:
        return sum(line.net for line in self.paid_lines)

    @property
    def total_gross(self) -> int:
        return sum(line.gross for line in self.paid_lines)

    @property
    def total_deducted(self) -> int:
        return sum(line.deduction for line in self.paid_lines)

    def problem(self, line: PayLine) -> str | None:
        return problem_of(line)


async def sheet_review(actor: Person, sheet_id: int, approvals: int) -> SheetReview | None:
    require_manager(actor, "see pay sheets")
    sheet = await PaySheet.get_or_none(id=sheet_id).prefetch_related("event")
    if sheet is None:
        return None
    lines = list(await PayLine.filter(sheet_id=sheet.id).order_by("id").prefetch_related("person"))
    ids = {
        "prepared": sheet.prepared_by_id,  # type: ignore[attr-defined]
        "submitted": sheet.submitted_by_id,  # type: ignore[attr-defined]
        "approved": sheet.approved_by_id,  # type: ignore[attr-defined]
    }
    people = {
        p.id: p.name for p in await Person.filter(id__in=[i for i in ids.values() if i] or [0])
    }
    names = {what: people[pid] for what, pid in ids.items() if pid in people}
    return SheetReview(sheet, lines, names, approvals)


async def refunds_waiting(actor: Person) -> list[Refund]:
    require_manager(actor, "see refunds")
    return list(
        await Refund.filter(status=RefundStatus.REQUESTED)
        .order_by("id")
        .prefetch_related("payment", "person", "requested_by")
    )


async def reconciliations(actor: Person) -> list[Reconciliation]:
    require_manager(actor, "see reconciliations")
    return list(await Reconciliation.all().order_by("-id").limit(RECONCILIATIONS_SHOWN))
