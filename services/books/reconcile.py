"""Matching M-Pesa's statement against our books, and keeping the result.

Every completed row of the statement (fees apart) lands in one of four groups: matched
(same receipt, same amount), in the statement but not in our books, amount differs, and —
from our side — completed in our books within the statement's period but missing from it.
Matched rows are counted; the others are kept as `ReconciliationRow`s. The file's SHA-256
is unique, so the same file imported twice returns the first report and changes nothing.
When our books have something the statement lacks, or an amount differs, every manager is
alerted (chat and email).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import (
    Access,
    AuditAction,
    NotificationKind,
    PayLine,
    Payment,
    PaymentStatus,
    Payout,
    PayoutStatus,
    Person,
    Reconciliation,
    ReconciliationRow,
    ReconGroup,
    Refund,
    RefundStatus,
)
from services import audit
from services.books.statement import NotAStatement, Statement, StatementRow, parse
from services.clock import Clock
from services.errors import InvalidInput, require_manager
from services.ids import parse_id
from services.ledger.recorded import Recorded, RecordedPayments
from services.notifications import Notifier
from services.outbox import Outbox

CHUNK = 5_000  # receipts per IN (…) query
SHOWN = 6  # exception rows listed per group: the longest report stays one Telegram message


@dataclass(frozen=True, slots=True)
class Booked:
    """A completed movement in our books."""

    receipt: str
    cents: int
    direction: str  # "in": a payment received; "out": a payout or a refund sent
    when: datetime
    person_id: int | None
    payment_id: int | None = None
    payout_id: int | None = None


@dataclass(slots=True)
class Report:
    reconciliation: Reconciliation
    rows: dict[ReconGroup, list[ReconciliationRow]] = field(default_factory=dict)
    names: dict[int, str] = field(default_factory=dict)  # person id → name
    again: bool = False  # this file was reconciled before: nothing changed

    @property
    def balance_gap(self) -> int | None:
        """Cents by which opening + paid in − withdrawn − fees misses the closing balance."""
        r = self.reconciliation
        if r.opening is None or r.closing is None:
            return None
        return int(r.opening + r.paid_in - r.withdrawn - r.fees - r.closing)

    @property
    def books_gap(self) -> int:
        """Cents by which our movements miss the statement's (fees are M-Pesa's alone)."""
        r = self.reconciliation
        return int((r.books_in - r.books_out) - (r.paid_in - r.withdrawn))


class NotRecordable(InvalidInput):
    """A Record press on a row that is not (or no longer) one Record can book."""


def recordable(row: ReconciliationRow, names: dict[int, str] | None = None) -> bool:
    """A row Record can book: in the statement, not in our books, money in, whole shillings
    (we book no cents), and a payer the statement names by a phone we know (in `names`,
    when given: the people the report could name)."""
    person_id: int | None = row.person_id  # type: ignore[attr-defined]
    return (
        row.kind is ReconGroup.NOT_IN_BOOKS
        and row.direction == "in"
        and person_id is not None
        and (names is None or person_id in names)
        and bool(row.statement_amount)
        and (row.statement_amount or 0) % 100 == 0
    )


class Reconciler:
    def __init__(
        self,
        notifier: Notifier,
        outbox: Outbox,
        clock: Clock,
        tz: ZoneInfo,
        recorded: RecordedPayments,
    ) -> None:
        self.notifier = notifier
        self.outbox = outbox
        self.clock = clock
        self.tz = tz
        self.recorded = recorded

    async def reconcile(
        self,
        name: str,
        content: bytes,
        actor: Person | None,
        *,
        chat_id: int | None = None,
    ) -> Report:
        """Reconcile the statement file `content`; `actor` None is an operator's CLI run."""
        if actor is not None:
            require_manager(actor, "reconcile M-Pesa statements")
        digest = hashlib.sha256(content).hexdigest()
        known = await Reconciliation.get_or_none(sha256=digest)
        if known is not None:
            return await self.report(known, again=True)
        statement = parse(name, content, self.tz)  # NotAStatement: nothing saved
        kept, matched, totals = await self._match(statement)
        now = self.clock.now()
        counts = {g: sum(1 for r in kept if r.kind is g) for g in ReconGroup}
        try:
            async with in_transaction() as conn:
                recon = await Reconciliation.create(
                    sha256=digest,
                    file_name=name[:200],
                    short_code=statement.short_code,
                    period_from=statement.period_from,
                    period_to=statement.period_to,
                    opening=statement.opening,
                    closing=statement.closing,
                    rows=len(statement.rows),
                    left_out=statement.left_out,
                    matched=matched,
                    not_in_books=counts[ReconGroup.NOT_IN_BOOKS],
                    not_in_statement=counts[ReconGroup.NOT_IN_STATEMENT],
                    amount_differs=counts[ReconGroup.AMOUNT_DIFFERS],
                    created_by=actor,
                    created_at=now,
                    using_db=conn,
                    **totals,
                )
                for row in kept:
                    row.reconciliation = recon
                await ReconciliationRow.bulk_create(kept, batch_size=1_000, using_db=conn)
                await audit.record(
                    AuditAction.RECONCILIATION_IMPORTED,
                    "reconciliation",
                    recon.id,
                    at=now,
                    actor=actor,
                    actor_label=None if actor else "callsheet reconcile",
                    chat_id=chat_id,
                    details={
                        "file": recon.file_name,
                        "matched": matched,
                        **{g.value: n for g, n in counts.items()},
                    },
                    using_db=conn,
                )
                report = await self.report(recon, using_db=conn)
                if recon.not_in_statement or recon.amount_differs:
                    await self._alert(report, conn)
        except IntegrityError:
            # The same file, reconciled at this moment by someone else: theirs stands.
            known = await Reconciliation.get_or_none(sha256=digest)
            if known is None:
                raise
            return await self.report(known, again=True)
        self.outbox.wake()
        return report

    async def report(
        self, recon: Reconciliation, *, again: bool = False, using_db: Any = None
    ) -> Report:
        rows = (
            await ReconciliationRow.filter(reconciliation_id=recon.id)
            .using_db(using_db)
            .order_by("completed_at", "id")
        )
        grouped: dict[ReconGroup, list[ReconciliationRow]] = {g: [] for g in ReconGroup}
        for row in rows:
            grouped[row.kind].append(row)
        ids = {r.person_id for r in rows if r.person_id is not None}  # type: ignore[attr-defined]
        names = dict(
            await Person.filter(id__in=sorted(ids)).using_db(using_db).values_list("id", "name")
        )
        return Report(recon, grouped, names, again)

    async def shown(self, actor: Person, wanted: str) -> Report | None:
        """/statement: the last reconciliation (None if there is none), or number `wanted`."""
        require_manager(actor, "see reconciliations")
        wanted = wanted.strip().lstrip("#")
        if not wanted:
            recon = await Reconciliation.all().order_by("-id").first()
            return None if recon is None else await self.report(recon)
        number = parse_id(wanted)
        recon = None if number is None else await Reconciliation.get_or_none(id=number)
        if recon is None:
            raise NotAStatement(
                f"There is no statement #{wanted}. Send /statement for the last one."
            )
        return await self.report(recon)

    def record_rows(self, report: Report) -> list[ReconciliationRow]:
        """The listed rows a Record button is offered for."""
        listed = report.rows[ReconGroup.NOT_IN_BOOKS][:SHOWN]
        return [row for row in listed if recordable(row, report.names)]

    async def record_row(
        self, actor: Person, row_id: int, *, chat_id: int | None = None
    ) -> tuple[ReconciliationRow, Recorded]:
        """Record: book a statement row's payment (paid straight to the paybill) for the
        person the statement names; a second press is refused as a duplicate receipt."""
        require_manager(actor, "record payments")
        row = await ReconciliationRow.get_or_none(id=row_id)
        if row is None or not recordable(row):
            raise NotRecordable("That statement row can no longer be recorded.")
        done = await self.recorded.record(
            actor,
            f"#{row.person_id}",  # type: ignore[attr-defined]
            str((row.statement_amount or 0) // 100),
            "mpesa",
            row.receipt,
            chat_id=chat_id,
        )
        return row, done

    # --- matching ---------------------------------------------------------------------

    async def _match(
        self, statement: Statement
    ) -> tuple[list[ReconciliationRow], int, dict[str, int]]:
        moves = [r for r in statement.rows if not r.is_fee]
        fees = sum(r.withdrawn for r in statement.rows if r.is_fee)
        in_period = await _booked_between(statement.period_from, statement.period_to)
        books = {b.receipt: b for b in in_period}
        unknown = sorted({r.receipt for r in moves} - books.keys())
        for b in await _booked_with(unknown):  # booked just outside the period
            books[b.receipt] = b
        phones = {r.phone for r in moves if r.receipt not in books and r.phone}
        people = dict(
            await Person.filter(phone__in=sorted(p for p in phones if p)).values_list("phone", "id")
        )
        kept: list[ReconciliationRow] = []
        seen: set[str] = set()
        matched = 0
        for row in moves:
            seen.add(row.receipt)
            ours = books.get(row.receipt)
            if ours is None:
                kept.append(_row(ReconGroup.NOT_IN_BOOKS, row, None, people.get(row.phone or "")))
            elif ours.cents == row.amount:
                matched += 1
            else:
                kept.append(_row(ReconGroup.AMOUNT_DIFFERS, row, ours, ours.person_id))
        for ours in in_period:
            if ours.receipt not in seen:
                kept.append(
                    ReconciliationRow(
                        kind=ReconGroup.NOT_IN_STATEMENT,
                        receipt=ours.receipt,
                        completed_at=ours.when,
                        statement_amount=None,
                        books_amount=ours.cents,
                        direction=ours.direction,
                        person_id=ours.person_id,
                        payment_id=ours.payment_id,
                        payout_id=ours.payout_id,
                    )
                )
        totals = {
            "paid_in": sum(r.paid_in for r in moves),
            "withdrawn": sum(r.withdrawn for r in moves),
            "fees": fees,
            "books_in": sum(b.cents for b in in_period if b.direction == "in"),
            "books_out": sum(b.cents for b in in_period if b.direction == "out"),
        }
        return kept, matched, totals

    async def _alert(self, report: Report, conn: Any) -> None:
        recon = report.reconciliation
        managers = await Person.filter(access=Access.MANAGER, active=True).using_db(conn)
        for manager in managers:
            await self.notifier.notify(
                manager,
                NotificationKind.RECONCILIATION_ALERT,
                {"report": report, "recon": recon, "now": self.clock.now()},
                dedupe_key=f"reconciliation:{recon.id}:{manager.id}",
                using_db=conn,
            )


def _row(
    kind: ReconGroup, row: StatementRow, ours: Booked | None, person_id: int | None
) -> ReconciliationRow:
    return ReconciliationRow(
        kind=kind,
        receipt=row.receipt,
        completed_at=row.completed_at,
        statement_amount=row.amount,
        books_amount=None if ours is None else ours.cents,
        direction="in" if row.paid_in else "out",
        other_party=row.other_party[:120],
        line=row.line,
        person_id=person_id,
        payment_id=None if ours is None else ours.payment_id,
        payout_id=None if ours is None else ours.payout_id,
    )


async def _booked_between(start: datetime, end: datetime) -> list[Booked]:
    """Our completed payments and paid payouts whose completion falls in [start, end]."""
    payments = await Payment.filter(
        status=PaymentStatus.COMPLETED,
        receipt__isnull=False,
        updated_at__gte=start,
        updated_at__lte=end,
    ).values_list("id", "receipt", "paid_amount", "amount", "person_id", "updated_at")
    payouts = await Payout.filter(
        status=PayoutStatus.PAID,
        transaction_id__isnull=False,
        finished_at__gte=start,
        finished_at__lte=end,
    ).values_list("id", "transaction_id", "amount", "line_id", "finished_at")
    refunds = await Refund.filter(
        status=RefundStatus.REFUNDED,
        receipt__isnull=False,
        finished_at__gte=start,
        finished_at__lte=end,
    ).values_list("receipt", "amount", "person_id", "finished_at")
    return _booked(payments, await _with_people(payouts)) + _refunded(refunds)


async def _booked_with(receipts: Sequence[str]) -> list[Booked]:
    """Our completed movements with these receipts, whenever they were booked."""
    found: list[Booked] = []
    for i in range(0, len(receipts), CHUNK):
        chunk = list(receipts[i : i + CHUNK])
        payments = await Payment.filter(
            status=PaymentStatus.COMPLETED, receipt__in=chunk
        ).values_list("id", "receipt", "paid_amount", "amount", "person_id", "updated_at")
        payouts = await Payout.filter(
            status=PayoutStatus.PAID, transaction_id__in=chunk
        ).values_list("id", "transaction_id", "amount", "line_id", "finished_at")
        refunds = await Refund.filter(status=RefundStatus.REFUNDED, receipt__in=chunk).values_list(
            "receipt", "amount", "person_id", "finished_at"
        )
        found += _booked(payments, await _with_people(payouts)) + _refunded(refunds)
    return found


async def _with_people(payouts: Iterable[Any]) -> list[tuple[Any, ...]]:
    payouts = list(payouts)
    lines = {p[3] for p in payouts}
    owners = dict(
        await PayLine.filter(id__in=sorted(lines)).values_list("id", "person_id") if lines else []
    )
    return [
        (pid, receipt, amount, owners.get(line), when)
        for pid, receipt, amount, line, when in payouts
    ]


def _booked(payments: Iterable[Any], payouts: Iterable[Any]) -> list[Booked]:
    found = [
        Booked(
            receipt=str(receipt).upper(),
            cents=int(paid if paid is not None else amount) * 100,
            direction="in",
            when=when,
            person_id=person,
            payment_id=pid,
        )
        for pid, receipt, paid, amount, person, when in payments
    ]
    found += [
        Booked(
            receipt=str(receipt).upper(),
            cents=int(amount) * 100,
            direction="out",
            when=when,
            person_id=person,
            payout_id=pid,
        )
        for pid, receipt, amount, person, when in payouts
    ]
    return found


def _refunded(refunds: Iterable[Any]) -> list[Booked]:
    """Refunds made (a reversal's or a B2C payment's own receipt): money out."""
    return [
        Booked(
            receipt=str(receipt).upper(),
            cents=int(amount) * 100,
            direction="out",
            when=when,
            person_id=person,
        )
        for receipt, amount, person, when in refunds
    ]
