"""Wages on the ledger: what an approved pay sheet version earns each person.

Each paid line posts, in the approving transaction, a WAGE entry of minus its net and, when
something is deducted, a DEDUCTION entry of minus the deduction: together minus the gross,
so what someone owes is settled by the deduction and the company owes them the net (the
payout, when paid, brings the balance back up by that net).

A version that supersedes an approved one does not add its wages on top: every WAGE and
DEDUCTION entry of the superseded version is reversed (an ADJUSTMENT pointing at it, undone
at most once) and the new version's entries are posted, so a balance moves by the difference
and each entry says which line it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F

from models import LedgerEntry, LedgerKind, Person

DESCRIPTION_MAX = 200


@dataclass(frozen=True)
class Wage:
    """One approved line: `net` to be paid and `deduction` withheld against what is owed."""

    person_id: int
    line_id: int
    net: int
    deduction: int
    description: str  # "Wages · #12 Harusi · rigger · v2"


async def post_wages(
    wages: Sequence[Wage],
    withdrawn_line_ids: Sequence[int],
    conn: BaseDBAsyncClient,
    *,
    at: datetime,
    actor_id: int,
) -> None:
    """Reverse the entries of `withdrawn_line_ids` (a superseded version's lines), then post
    `wages`; one balance update per person, in id order, so two writers never wait in a ring."""
    moves: dict[int, int] = {}  # person id → change of balance
    entries: list[LedgerEntry] = []
    if withdrawn_line_ids:
        standing = await LedgerEntry.filter(
            pay_line_id__in=list(withdrawn_line_ids),
            kind__in=[LedgerKind.WAGE, LedgerKind.DEDUCTION],
        ).using_db(conn)
        undone: set[int] = set(
            await LedgerEntry.filter(reverses_id__in=[e.id for e in standing])
            .using_db(conn)
            .values_list("reverses_id", flat=True)  # type: ignore[arg-type]
        )
        for entry in standing:
            if entry.id in undone:
                continue
            pid: int = entry.person_id  # type: ignore[attr-defined]
            entries.append(
                LedgerEntry(
                    person_id=pid,
                    kind=LedgerKind.ADJUSTMENT,
                    amount=-entry.amount,
                    description=f"Undo #{entry.id}: {entry.description}"[:DESCRIPTION_MAX],
                    pay_line_id=entry.pay_line_id,  # type: ignore[attr-defined]
                    reverses_id=entry.id,
                    created_by_id=actor_id,
                    created_at=at,
                )
            )
            moves[pid] = moves.get(pid, 0) - entry.amount
    for wage in wages:
        parts = [(LedgerKind.WAGE, wage.net, wage.description)]
        if wage.deduction:
            text = f"Deducted from wages · {wage.description}"
            parts.append((LedgerKind.DEDUCTION, wage.deduction, text))
        for kind, amount, text in parts:
            if amount <= 0:
                continue
            entries.append(
                LedgerEntry(
                    person_id=wage.person_id,
                    kind=kind,
                    amount=-amount,
                    description=text[:DESCRIPTION_MAX],
                    pay_line_id=wage.line_id,
                    created_by_id=actor_id,
                    created_at=at,
                )
            )
            moves[wage.person_id] = moves.get(wage.person_id, 0) - amount
    if entries:
        await LedgerEntry.bulk_create(entries, using_db=conn)
    for pid, change in sorted(moves.items()):
        if change:
            await (
                Person.filter(id=pid)
                .using_db(conn)
                .update(balance=F("balance") + change, updated_at=at)
            )
