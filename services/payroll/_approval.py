"""Submit and approve, on a sheet version the caller has locked in its transaction.

Approving is where money becomes real: the wages (and deductions) go on the ledger through
`services.ledger.post_wages` (reversing the superseded version's, see its docstring), and one
queued payout per line with something to pay is written for the paying step, all in the
transaction that moves the version to APPROVED, or none of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise.backends.base.client import BaseDBAsyncClient

from models import (
    Access,
    AuditAction,
    Event,
    PayLine,
    Payout,
    PaySheet,
    PaySheetStatus,
    Person,
)
from services import audit
from services.ledger import Wage, post_wages
from services.payroll._errors import NotReady, SecondApprover, SheetClosed
from services.payroll._lines import lines_of, owed_before, problem_of, sync

if TYPE_CHECKING:
    from services.payroll._service import PayrollService

PROBLEMS_NAMED = 5


def originator_id(line_id: int, attempt: int) -> str:
    """Our OriginatorConversationID for one attempt at one line: unique, and ours."""
    return f"cs-pay-{line_id}-{attempt}"


async def submit_locked(
    service: PayrollService,
    sheet: PaySheet,
    actor: Person,
    conn: BaseDBAsyncClient,
    *,
    chat_id: int | None,
) -> list[Person]:
    """Draft → submitted, once every line to pay has a rate. Returns the managers to ask
    for approval (none when the preparer may approve)."""
    if sheet.status is not PaySheetStatus.DRAFT:
        raise SheetClosed(f"Version {sheet.version} is already {sheet.status.value}.")
    now = service.clock.now()
    lines = await sync(sheet, conn, now)
    problems = [line for line in lines if problem_of(line)]
    if problems:
        named = ", ".join(
            f"{line.person.name} ({problem_of(line)})" for line in problems[:PROBLEMS_NAMED]
        )
        more = (
            f" and {len(problems) - PROBLEMS_NAMED} more" if len(problems) > PROBLEMS_NAMED else ""
        )
        raise NotReady(
            f"Fix these first: {named}{more}. Set a missing rate with "
            "/rates <role> | <amount>, or leave the person out."
        )
    if not any(not line.left_out for line in lines):
        raise NotReady("There is nobody to pay on this sheet: no confirmed crew, or all left out.")
    moved = (
        await PaySheet.filter(id=sheet.id, status=PaySheetStatus.DRAFT)
        .using_db(conn)
        .update(
            status=PaySheetStatus.SUBMITTED,
            submitted_by_id=actor.id,
            submitted_at=now,
            updated_at=now,
        )
    )
    if not moved:
        raise SheetClosed(f"Version {sheet.version} was submitted meanwhile.")
    await audit.record(
        AuditAction.PAYROLL_SUBMITTED,
        "pay_sheet",
        sheet.id,
        at=now,
        actor=actor,
        chat_id=chat_id,
        details={"version": sheet.version, "net": sum(line.net for line in lines)},
        using_db=conn,
    )
    if service.approvals < 2:
        return []
    return list(
        await Person.filter(access=Access.MANAGER, active=True)
        .exclude(id=actor.id)
        .using_db(conn)
        .order_by("id")
    )


async def approve_locked(
    service: PayrollService,
    sheet: PaySheet,
    actor: Person,
    conn: BaseDBAsyncClient,
    *,
    chat_id: int | None,
) -> None:
    """Submitted → approved: frozen from here; wages posted, payouts queued."""
    if sheet.status is PaySheetStatus.DRAFT:
        raise SheetClosed(f"Version {sheet.version} is a draft: submit it first.")
    if sheet.status is not PaySheetStatus.SUBMITTED:
        who = await Person.filter(id=sheet.approved_by_id).using_db(conn).first()  # type: ignore[attr-defined]
        by = f" by {who.name}" if who else ""
        raise SheetClosed(f"Version {sheet.version} is already {sheet.status.value}{by}.")
    if service.approvals >= 2 and sheet.submitted_by_id == actor.id:  # type: ignore[attr-defined]
        raise SecondApprover(
            "You submitted this sheet: another manager must approve it (PAYROLL_APPROVALS=2)."
        )
    lines = await lines_of(sheet.id, conn)
    people = {
        p.id: p
        for p in await Person.filter(id__in=[line.person.id for line in lines] or [0]).using_db(
            conn
        )
    }
    earlier = await owed_before(sheet, conn)

    def owes(pid: int) -> int:
        return max(int(people[pid].balance) - earlier.get(pid, 0), 0)

    moved_balance = [
        line for line in lines if not line.left_out and line.deduction > owes(line.person.id)
    ]
    if moved_balance:
        first = moved_balance[0]
        raise NotReady(
            f"{first.person.name} now owes KES {owes(first.person.id):,}, less than the "
            f"KES {first.deduction:,} deducted. Change it (/payroll {sheet.event_id} | "  # type: ignore[attr-defined]
            f"{first.person.name} | deduct all) and submit again."
        )
    now = service.clock.now()
    moved = (
        await PaySheet.filter(id=sheet.id, status=PaySheetStatus.SUBMITTED)
        .using_db(conn)
        .update(
            status=PaySheetStatus.APPROVED, approved_by_id=actor.id, approved_at=now, updated_at=now
        )
    )
    if not moved:
        raise SheetClosed(f"Version {sheet.version} was approved meanwhile.")
    event = await Event.filter(id=sheet.event_id).using_db(conn).get()  # type: ignore[attr-defined]
    paid = [line for line in lines if not line.left_out]
    withdrawn: list[int] = []
    if sheet.supersedes_id is not None:  # type: ignore[attr-defined]
        withdrawn = [
            line.id
            for line in await PayLine.filter(sheet_id=sheet.supersedes_id).using_db(conn)  # type: ignore[attr-defined]
        ]
    wages = [
        Wage(
            person_id=line.person.id,
            line_id=line.id,
            net=line.net,
            deduction=line.deduction,
            description=f"Wages · #{event.id} {event.title} · {line.role} · v{sheet.version}",
        )
        for line in paid
    ]
    await post_wages(wages, withdrawn, conn, at=now, actor_id=actor.id)
    payouts = [
        Payout(
            sheet_id=sheet.id,
            line_id=line.id,
            attempt=1,
            originator_conversation_id=originator_id(line.id, 1),
            amount=line.net,
            phone=people[line.person.id].phone,
            created_at=now,
            updated_at=now,
        )
        for line in paid
        if line.net > 0
    ]
    if payouts:
        await Payout.bulk_create(payouts, using_db=conn)
    await audit.record(
        AuditAction.PAYROLL_APPROVED,
        "pay_sheet",
        sheet.id,
        at=now,
        actor=actor,
        chat_id=chat_id,
        details={
            "version": sheet.version,
            "payouts": len(payouts),
            "net": sum(p.amount for p in payouts),
            "deducted": sum(line.deduction for line in paid),
            "submitted_by": sheet.submitted_by_id,  # type: ignore[attr-defined]
        },
        using_db=conn,
    )
