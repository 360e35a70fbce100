"""The pay sheet as one chat message: a header with the counts and totals, then the lines,
problems first, in pages that each fit Telegram's 4,096 characters. Nothing is ever cut: a
long name is shortened with "…", and lines beyond a page's budget go to the next page."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from models import Event, PayLine, Payout, PayoutStatus, PaySheet, PaySheetStatus, Person
from services.buttons.payroll import ApproveSheet, PaySheetNow, SheetPage, SubmitSheet
from services.notifications import Button, Keyboard
from services.payroll._lines import problem_of

# The header holds the event title (≤ 120), counts, totals and who did what: well under
# 800 characters of HTML; the lines of one page get the rest of 4,096, with room to spare.
PAGE_BUDGET = 3_000
NAME_MAX = 40
ROLE_MAX = 30


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _kes(amount: int) -> str:
    return f"{amount:,}"


def payout_html(payout: Payout) -> str:
    """How one line's latest payout stands, after the line."""
    if payout.status is PayoutStatus.PAID:
        return f" · ✅ paid {html.escape(payout.transaction_id or '')}"
    if payout.status is PayoutStatus.FAILED:
        return f" · ❌ {html.escape(_cut(payout.reason or 'failed', 120))}"
    if payout.status in (PayoutStatus.SENT, PayoutStatus.UNKNOWN):
        return " · ⏳ checking" if payout.status is PayoutStatus.UNKNOWN else " · ⏳ sent"
    return ""


def line_html(line: PayLine, person: Person, payout: Payout | None = None) -> str:
    name = html.escape(_cut(person.name, NAME_MAX))
    role = html.escape(_cut(line.role, ROLE_MAX))
    if line.left_out:
        return f"{name} · {role} · left out"
    problem = problem_of(line)
    if line.rate is None:
        fix = html.escape(f"/rates {line.role} | 3500")
        return f"❌ <b>{name}</b> · {role} · no rate: set one with {fix}"
    parts = [f"{_kes(line.rate)}{' own rate' if line.own_rate else ''}"]
    for adj in line.adjustments:
        amount = int(adj["amount"])
        sign = "+" if amount >= 0 else "−"
        parts.append(f"{sign}{_kes(abs(amount))} {html.escape(str(adj['reason']))}")
    money = " ".join(parts)
    owes = ""
    if line.owed > 0:
        owes = (
            f" · owes {_kes(line.owed)}, deduct {_kes(line.deduction)}"
            if line.deduction
            else f" · owes {_kes(line.owed)}, not deducted"
        )
    mark = "❌ " if problem else ""
    tail = f" · {html.escape(problem)}" if problem else ""
    paid = payout_html(payout) if payout is not None else ""
    return f"{mark}{name} · {role} · {money}{owes} · <b>net {_kes(line.net)}</b>{tail}{paid}"


@dataclass(frozen=True)
class PayProgress:
    """The live summary: "12 paid · 1 failed · 1 checking · KES 42,000 of 45,500"."""

    paid: int = 0
    failed: int = 0
    checking: int = 0  # sent, or unknown until Transaction Status answers
    queued: int = 0
    paid_amount: int = 0
    total: int = 0

    @property
    def open(self) -> int:
        return self.checking + self.queued


def progress_of(latest: dict[int, Payout]) -> PayProgress:
    counts = {status: 0 for status in PayoutStatus}
    for payout in latest.values():
        counts[payout.status] += 1
    return PayProgress(
        paid=counts[PayoutStatus.PAID],
        failed=counts[PayoutStatus.FAILED],
        checking=counts[PayoutStatus.SENT] + counts[PayoutStatus.UNKNOWN],
        queued=counts[PayoutStatus.QUEUED],
        paid_amount=sum(p.amount for p in latest.values() if p.status is PayoutStatus.PAID),
        total=sum(p.amount for p in latest.values() if p.status is not PayoutStatus.CANCELLED),
    )


@dataclass
class SheetView:
    sheet: PaySheet
    event: Event
    pages: list[list[str]]
    page: int  # 0-based, within pages
    crew: int
    to_pay: int  # lines with a net above zero
    left_out: int
    problems: int
    total_net: int
    total_deducted: int
    approvals: int
    names: dict[str, str] = field(default_factory=dict)  # prepared / submitted / approved
    frozen_note: str = ""
    progress: PayProgress = field(default_factory=PayProgress)

    @property
    def shown(self) -> list[str]:
        return self.pages[self.page] if self.pages else []

    @property
    def page_count(self) -> int:
        return max(len(self.pages), 1)


def paginate(texts: list[str]) -> list[list[str]]:
    pages: list[list[str]] = [[]]
    used = 0
    for text in texts:
        size = len(text) + 1
        if pages[-1] and used + size > PAGE_BUDGET:
            pages.append([])
            used = 0
        pages[-1].append(text)
        used += size
    return pages if pages[0] else []


def build_view(
    sheet: PaySheet,
    event: Event,
    lines: list[PayLine],
    people: dict[int, Person],
    *,
    approvals: int,
    page: int = 0,
    focus_person_id: int | None = None,
    payouts: dict[int, Payout] | None = None,
) -> SheetView:
    """`payouts`: each line's latest payout (by line id), once paying has begun; failed
    lines come first then, as problems do before."""
    latest = payouts or {}

    def order(line: PayLine) -> tuple[int, str]:
        person = people[line.person_id]  # type: ignore[attr-defined]
        payout = latest.get(line.id)
        failed = payout is not None and payout.status is PayoutStatus.FAILED
        rank = 0 if problem_of(line) or failed else 2 if line.left_out else 1
        return rank, person.name.lower()

    ordered = sorted(lines, key=order)
    texts = [
        line_html(line, people[line.person_id], latest.get(line.id))  # type: ignore[attr-defined]
        for line in ordered
    ]
    pages = paginate(texts)
    if focus_person_id is not None:
        index = next(
            (i for i, line in enumerate(ordered) if line.person_id == focus_person_id),  # type: ignore[attr-defined]
            None,
        )
        if index is not None:
            seen = 0
            for number, chunk in enumerate(pages):
                seen += len(chunk)
                if index < seen:
                    page = number
                    break
    page = min(max(page, 0), max(len(pages) - 1, 0))
    names = {
        key: people[pid].name
        for key, pid in (
            ("prepared", sheet.prepared_by_id),  # type: ignore[attr-defined]
            ("submitted", sheet.submitted_by_id),  # type: ignore[attr-defined]
            ("approved", sheet.approved_by_id),  # type: ignore[attr-defined]
        )
        if pid is not None and pid in people
    }
    return SheetView(
        sheet=sheet,
        event=event,
        pages=pages,
        page=page,
        crew=len(lines),
        to_pay=sum(1 for line in lines if not line.left_out and line.net > 0),
        left_out=sum(1 for line in lines if line.left_out),
        problems=sum(1 for line in lines if problem_of(line)),
        total_net=sum(line.net for line in lines if not line.left_out),
        total_deducted=sum(line.deduction for line in lines if not line.left_out),
        approvals=approvals,
        names=names,
        progress=progress_of(latest),
    )


def buttons(view: SheetView, board_url: str | None = None) -> Keyboard:
    rows: list[list[Button]] = []
    sheet = view.sheet
    if sheet.status is PaySheetStatus.DRAFT:
        rows.append([Button("Submit for approval", SubmitSheet(sheet.id).pack())])
    elif sheet.status is PaySheetStatus.SUBMITTED:
        rows.append([Button("Approve", ApproveSheet(sheet.id).pack())])
    elif sheet.status is PaySheetStatus.APPROVED:
        rows.append([Button("Pay now", PaySheetNow(sheet.id).pack())])
    elif sheet.status is PaySheetStatus.STOPPED:
        rows.append([Button("Pay again", PaySheetNow(sheet.id).pack())])
    elif sheet.status is PaySheetStatus.PAYING and view.progress.failed and not view.progress.open:
        rows.append([Button("Retry failed", PaySheetNow(sheet.id).pack())])
    if view.page_count > 1:
        nav: list[Button] = []
        if view.page > 0:
            nav.append(Button("‹ Prev", SheetPage(sheet.id, view.page - 1).pack()))
        if view.page < view.page_count - 1:
            nav.append(Button("Next ›", SheetPage(sheet.id, view.page + 1).pack()))
        rows.append(nav)
    if board_url is not None:
        # The Mini App opened on this sheet (handlers/web/money.py), to review and approve.
        rows.append([Button("Open board", web_app=f"{board_url}?view=/app/view/sheet/{sheet.id}")])
    return rows
