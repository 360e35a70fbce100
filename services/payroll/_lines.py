"""A sheet's lines: built from the confirmed crew, kept in step with rates and balances while
the version is a draft, and the rules every change obeys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.functions import Sum

from models import (
    Assignment,
    AssignmentStatus,
    LedgerEntry,
    LedgerKind,
    PayLine,
    PaySheet,
    Person,
)
from services.money import MAX_AMOUNT
from services.payroll._rates import rates_for

PAID_STATUSES = (AssignmentStatus.CONFIRMED, AssignmentStatus.COMPLETED)
ADJUSTMENTS_MAX = 8  # per line: the sheet is a chat message
REASON_MAX = 40


def gross_of(rate: int | None, adjustments: Sequence[dict[str, Any]]) -> int:
    return (rate or 0) + sum(int(a["amount"]) for a in adjustments)


def refigure(line: PayLine) -> None:
    """Gross and net from the rate, adjustments and deduction; the deduction is never more
    than owed or than the gross, and the net never negative."""
    line.gross = gross_of(line.rate, line.adjustments)
    line.deduction = max(0, min(line.deduction, max(line.owed, 0), max(line.gross, 0)))
    line.net = 0 if line.left_out else max(line.gross - line.deduction, 0)


def problem_of(line: PayLine) -> str | None:
    """Why this line blocks Submit, or None."""
    if line.left_out:
        return None
    if line.rate is None:
        return "no rate"
    if line.net > MAX_AMOUNT:
        return f"net over KES {MAX_AMOUNT:,}, M-Pesa's limit for one payment"
    return None


async def owed_before(sheet: PaySheet, conn: BaseDBAsyncClient) -> dict[int, int]:
    """What each person owes not counting the wages of the version this one replaces (their
    balance already holds them until this one is approved): person id → shillings."""
    if sheet.supersedes_id is None:  # type: ignore[attr-defined]
        return {}
    old_lines = await PayLine.filter(sheet_id=sheet.supersedes_id).using_db(conn)  # type: ignore[attr-defined]
    if not old_lines:
        return {}
    entries = await LedgerEntry.filter(
        pay_line_id__in=[line.id for line in old_lines],
        kind__in=[LedgerKind.WAGE, LedgerKind.DEDUCTION],
    ).using_db(conn)
    undone: set[int] = set(
        await LedgerEntry.filter(reverses_id__in=[e.id for e in entries] or [0])
        .using_db(conn)
        .values_list("reverses_id", flat=True)  # type: ignore[arg-type]
    )
    standing: dict[int, int] = {}
    for entry in entries:
        if entry.id not in undone:
            pid: int = entry.person_id  # type: ignore[attr-defined]
            standing[pid] = standing.get(pid, 0) + entry.amount
    return standing


async def sync(sheet: PaySheet, conn: BaseDBAsyncClient, at: datetime) -> list[PayLine]:
    """Bring a draft's lines up to date: one per confirmed crew member, today's rates and
    balances. Returns the lines, person prefetched."""
    assignments = await (
        Assignment.filter(event_id=sheet.event_id, status__in=PAID_STATUSES)  # type: ignore[attr-defined]
        .using_db(conn)
        .order_by("id")
    )
    crew = {a.person_id: a for a in assignments}  # type: ignore[attr-defined]
    lines = await PayLine.filter(sheet_id=sheet.id).using_db(conn)
    by_person = {line.person_id: line for line in lines}  # type: ignore[attr-defined]
    gone = [line.id for pid, line in by_person.items() if pid not in crew]
    if gone:
        await PayLine.filter(id__in=gone).using_db(conn).delete()
    people = {p.id: p for p in await Person.filter(id__in=sorted(crew) or [0]).using_db(conn)}
    rates = await rates_for({a.role for a in assignments}, conn)
    earlier = await owed_before(sheet, conn)
    kept: list[PayLine] = []
    for pid, assignment in crew.items():
        line = by_person.get(pid)
        if line is None:
            line = PayLine(sheet_id=sheet.id, person_id=pid, adjustments=[], updated_at=at)
        line.role = assignment.role
        own = rates.get((assignment.role, pid))
        line.own_rate = own is not None
        line.rate = own if own is not None else rates.get((assignment.role, None))
        line.owed = people[pid].balance - earlier.get(pid, 0)
        refigure(line)
        line.updated_at = at
        await line.save(using_db=conn)
        line.person = people[pid]
        kept.append(line)
    return kept


async def lines_of(sheet_id: int, conn: BaseDBAsyncClient | None = None) -> list[PayLine]:
    return list(await PayLine.filter(sheet_id=sheet_id).using_db(conn).prefetch_related("person"))


async def copy_lines(old: PaySheet, new: PaySheet, conn: BaseDBAsyncClient, at: datetime) -> None:
    """A new version starts as the approved one was: the same choices for each person."""
    for line in await PayLine.filter(sheet_id=old.id).using_db(conn):
        await PayLine.create(
            sheet_id=new.id,
            person_id=line.person_id,  # type: ignore[attr-defined]
            role=line.role,
            rate=line.rate,
            own_rate=line.own_rate,
            adjustments=list(line.adjustments),
            owed=line.owed,
            deduction=line.deduction,
            left_out=line.left_out,
            gross=line.gross,
            net=line.net,
            updated_at=at,
            using_db=conn,
        )


async def total_net(sheet_id: int, conn: BaseDBAsyncClient | None = None) -> int:
    rows = await (
        PayLine.filter(sheet_id=sheet_id, left_out=False)
        .using_db(conn)
        .annotate(total=Sum("net"))
        .values("total")
    )
    return int(rows[0]["total"] or 0) if rows else 0
