"""What people owe: charges, payments received, balances, and the audit that checks them.

A person's balance is a cached sum of their ledger entries, changed only in the same
transaction as the entry, with an F-expression so concurrent writers cannot lose an update.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    CallbackStatus,
    DarajaCallback,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Person,
)
from services import audit
from services.clock import Clock
from services.daraja import MalformedCallback, parse_callback
from services.errors import Conflict, InvalidInput, NotAllowed, NotFound, require_manager
from services.money import format_kes, parse_amount
from services.payments import PaymentError, PaymentNotFound
from services.people import Among, PeopleService
from services.phones import display_phone

REASON_MAX = 200
# A success callback waits unmatched until its push's answer is stored (seconds); past this,
# the audit reports it.
UNMATCHED_GRACE = timedelta(minutes=10)
LIST_LIMIT = 30
BALANCES_SHOWN = 50  # one chat message: 50 short lines stay far below Telegram's 4,096 characters


@dataclass(frozen=True)
class Owing:
    people: list[Person]  # the largest balances first
    count: int  # everyone who owes, shown or not
    total: int  # KES owed by all of them
    credits: list[Person] = field(default_factory=list)  # in credit, the largest credit first
    credit_count: int = 0
    credit_total: int = 0  # KES the company owes them (positive)


class InvalidReason(PaymentError, InvalidInput):
    pass


class EntryNotFound(PaymentError, NotFound):
    pass


class CannotUndo(PaymentError, Conflict):
    pass


@dataclass(frozen=True)
class Statement:
    person: Person
    entries: list[LedgerEntry]
    payments: list[Payment]


@dataclass(frozen=True)
class Mismatch:
    subject: str
    problem: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.problem}"


def clean_reason(text: str) -> str:
    reason = " ".join(text.split())
    if not reason:
        raise InvalidReason("Say what the charge is for, like “Lost XLR cable”.")
    if len(reason) > REASON_MAX:
        raise InvalidReason(f"The reason is {len(reason)} characters; keep it under 200.")
    return reason


class LedgerService:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def charge(
        self, actor: Person, who: str, amount: str | int, reason: str, *, chat_id: int | None = None
    ) -> tuple[Person, LedgerEntry]:
        """Add what `who` owes; every field is checked before anything is saved."""
        require_manager(actor, "add charges")
        person = await PeopleService.find(who, among=Among.OWING_TOO)
        value = amount if isinstance(amount, int) else parse_amount(amount)
        text = clean_reason(reason)
        now = self.clock.now()
        async with in_transaction() as conn:
            entry = await LedgerEntry.create(
                person=person,
                kind=LedgerKind.CHARGE,
                amount=value,
                description=text,
                created_by=actor,
                created_at=now,
                using_db=conn,
            )
            await (
                Person.filter(id=person.id)
                .using_db(conn)
                .update(balance=F("balance") + value, updated_at=now)
            )
            await audit.record(
                AuditAction.LEDGER_CHARGE,
                "person",
                person.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"amount": value, "reason": text},
                using_db=conn,
            )
        return await Person.get(id=person.id), entry

    async def uncharge(
        self, actor: Person, entry_id: int, reason: str, *, chat_id: int | None = None
    ) -> tuple[Person, LedgerEntry]:
        """Undo a charge with a reversing entry (same amount, opposite sign), once."""
        require_manager(actor, "undo charges")
        text = clean_reason(reason)
        now = self.clock.now()
        async with in_transaction() as conn:
            charge = (
                await LedgerEntry.filter(id=entry_id).select_for_update().using_db(conn).first()
            )
            if charge is None:
                raise EntryNotFound(
                    f"There is no ledger entry #{entry_id}. The numbers are on /balance."
                )
            if charge.kind is not LedgerKind.CHARGE or charge.reverses_id is not None:  # type: ignore[attr-defined]
                raise CannotUndo(
                    f"Entry #{entry_id} is not a charge ({charge.kind.value}); only charges "
                    "can be undone this way."
                )
            done = await LedgerEntry.filter(reverses_id=charge.id).using_db(conn).first()
            if done is not None:
                raise CannotUndo(f"Charge #{entry_id} was already undone (entry #{done.id}).")
            person_id: int = charge.person_id  # type: ignore[attr-defined]
            entry = await LedgerEntry.create(
                person_id=person_id,
                kind=LedgerKind.ADJUSTMENT,
                amount=-charge.amount,
                description=f"Undo #{charge.id} ({charge.description}): {text}"[:REASON_MAX],
                created_by=actor,
                reverses_id=charge.id,
                created_at=now,
                using_db=conn,
            )
            await (
                Person.filter(id=person_id)
                .using_db(conn)
                .update(balance=F("balance") - charge.amount, updated_at=now)
            )
            await audit.record(
                AuditAction.LEDGER_UNCHARGE,
                "person",
                person_id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"entry": charge.id, "amount": charge.amount, "reason": text},
                using_db=conn,
            )
        return await Person.get(id=person_id), entry

    async def resolve_flag(
        self, actor: Person, payment_id: int, note: str, *, chat_id: int | None = None
    ) -> Payment:
        """A manager says what was done about a flagged payment, or where the receipt of one
        settled without it is; the audit stops asking."""
        require_manager(actor, "resolve flagged payments")
        text = clean_reason(note)
        now = self.clock.now()
        async with in_transaction() as conn:
            payment = await Payment.filter(id=payment_id).select_for_update().using_db(conn).first()
            if payment is None:
                raise PaymentNotFound(f"There is no payment #{payment_id}.")
            no_receipt = payment.status is PaymentStatus.COMPLETED and payment.receipt is None
            if payment.flag_reason is None and not no_receipt:
                raise CannotUndo(f"Payment #{payment_id} is not flagged: nothing to resolve.")
            if payment.flag_resolved_at is not None:
                raise CannotUndo(
                    f"Payment #{payment_id} was already resolved: {payment.flag_resolution}"
                )
            await (
                Payment.filter(id=payment_id)
                .using_db(conn)
                .update(
                    flag_resolved_at=now,
                    flag_resolved_by_id=actor.id,
                    flag_resolution=text,
                    updated_at=now,
                )
            )
            await audit.record(
                AuditAction.PAYMENT_FLAG_RESOLVED,
                "payment",
                payment_id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"flag": payment.flag_reason, "resolution": text},
                using_db=conn,
            )
        return await Payment.get(id=payment_id)

    async def balances(self, actor: Person, limit: int = BALANCES_SHOWN) -> Owing:
        """Who owes something, largest first, and who is in credit: the first `limit` of
        each, and the count and total of all."""
        if not actor.is_manager:
            raise NotAllowed("Only managers can see everyone's balance. Send /balance for yours.")
        owing = Person.filter(balance__gt=0)
        totals = await owing.annotate(n=Count("id"), total=Sum("balance")).values("n", "total")
        people = await owing.order_by("-balance", "name").limit(limit)
        credit = Person.filter(balance__lt=0)
        credit_totals = await credit.annotate(n=Count("id"), total=Sum("balance")).values(
            "n", "total"
        )
        credits = await credit.order_by("balance", "name").limit(limit)
        return Owing(
            people=people,
            count=totals[0]["n"],
            total=int(totals[0]["total"] or 0),
            credits=credits,
            credit_count=credit_totals[0]["n"],
            credit_total=-int(credit_totals[0]["total"] or 0),
        )

    async def statement(self, person: Person) -> Statement:
        fresh = await Person.get(id=person.id)
        entries = await LedgerEntry.filter(person=fresh).order_by("-id").limit(LIST_LIMIT)
        payments = await Payment.filter(person=fresh).order_by("-id").limit(LIST_LIMIT)
        return Statement(fresh, list(reversed(entries)), payments)

    async def payments(self, actor: Person, query: str = "") -> tuple[str, list[Payment]]:
        """Payment history, filtered by a status word or a person; returns (filter label, rows)."""
        if not actor.is_manager:
            raise NotAllowed("Only managers can see every payment. Send /balance for yours.")
        text = query.strip()
        rows = Payment.all().prefetch_related("person")
        label = "latest"
        if text:
            statuses = {s.value: s for s in PaymentStatus}
            if text.lower() in statuses:
                rows = rows.filter(status=statuses[text.lower()])
                label = text.lower()
            elif text.lower() == "flagged":
                rows = rows.filter(flag_reason__isnull=False)
                label = "flagged"
            else:
                person = await PeopleService.find(text, among=Among.OWING_TOO)
                rows = rows.filter(person=person)
                label = person.name
        return label, list(await rows.order_by("-id").limit(LIST_LIMIT))

    async def audit(self) -> list[Mismatch]:
        """Every balance equals its ledger; every credited payment has exactly one entry.

        All reads see one snapshot: a payment settled between reading the ledger and
        reading the balances would otherwise show as a mismatch on a running system."""
        async with in_transaction() as conn:
            if conn.capabilities.dialect == "postgres":
                # READ COMMITTED takes a new snapshot per statement.
                await conn.execute_script("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            return await self._audit(conn)

    async def _audit(self, conn: BaseDBAsyncClient) -> list[Mismatch]:
        problems: list[Mismatch] = []
        sums = {
            row["person_id"]: int(row["total"] or 0)
            for row in await LedgerEntry.all()
            .using_db(conn)
            .group_by("person_id")
            .annotate(total=Sum("amount"))
            .values("person_id", "total")
        }
        for person in await Person.all().using_db(conn).order_by("id"):
            total = sums.get(person.id, 0)
            if person.balance != total:
                problems.append(
                    Mismatch(
                        f"person #{person.id} {person.name}",
                        f"balance {format_kes(person.balance)} but ledger sums to "
                        f"{format_kes(total)}",
                    )
                )
        problems += await self._audit_payments(conn)
        problems += await self._audit_callbacks(conn)
        return problems

    async def _audit_payments(self, conn: BaseDBAsyncClient) -> list[Mismatch]:
        """Each completed, unflagged payment has exactly one entry, for its payer, of what
        was paid; a flagged one has no credit left; a receipt is known; flags are resolved."""
        problems: list[Mismatch] = []
        entries: dict[int, list[LedgerEntry]] = {}
        for entry in await LedgerEntry.filter(payment_id__isnull=False).using_db(conn):
            entries.setdefault(entry.payment_id, []).append(entry)  # type: ignore[attr-defined]
        undone: set[int] = {
            int(r["reverses_id"])
            for r in await LedgerEntry.filter(reverses_id__isnull=False)
            .using_db(conn)
            .values("reverses_id")
        }
        names = dict(await Person.all().using_db(conn).values_list("id", "name"))
        for payment in await Payment.all().using_db(conn).order_by("id"):
            subject = f"payment #{payment.id}"
            payer_id: int | None = payment.person_id  # type: ignore[attr-defined]
            should = (
                payment.status is PaymentStatus.COMPLETED
                and payment.flag_reason is None
                and payer_id is not None
            )
            mine = entries.get(payment.id, [])
            live = [e for e in mine if e.id not in undone]
            if should and len(mine) != 1:
                problems.append(Mismatch(subject, f"completed but has {len(mine)} ledger entries"))
            elif should:
                entry = mine[0]
                paid = payment.paid_amount if payment.paid_amount is not None else payment.amount
                credited_to: int = entry.person_id  # type: ignore[attr-defined]
                if credited_to != payer_id:
                    problems.append(
                        Mismatch(
                            subject,
                            f"paid by #{payer_id} {names.get(payer_id, '?')} but ledger entry "
                            f"#{entry.id} credits #{credited_to} {names.get(credited_to, '?')}",
                        )
                    )
                if entry.amount != -paid:
                    problems.append(
                        Mismatch(
                            subject,
                            f"{format_kes(paid)} paid but ledger entry #{entry.id} credits "
                            f"{format_kes(-entry.amount)}",
                        )
                    )
                if entry.id in undone:
                    problems.append(Mismatch(subject, f"its ledger entry #{entry.id} was undone"))
            elif live:
                problems.append(
                    Mismatch(
                        subject,
                        f"{payment.status.value}"
                        f"{' and flagged' if payment.flag_reason else ''} but has {len(live)} "
                        "ledger entries",
                    )
                )
            if (
                payment.status is PaymentStatus.COMPLETED
                and payment.receipt is None
                and payment.flag_reason is None
                and payment.flag_resolved_at is None
            ):
                problems.append(
                    Mismatch(
                        subject,
                        "completed without an M-Pesa receipt: find it on the M-Pesa "
                        f"statement, then /resolve {payment.id} | the receipt",
                    )
                )
            if payment.flag_reason and payment.flag_resolved_at is None:
                problems.append(
                    Mismatch(
                        subject,
                        f"flagged and not resolved ({payment.flag_reason}): "
                        f"/resolve {payment.id} | what was done",
                    )
                )
        return problems

    async def _audit_callbacks(self, conn: BaseDBAsyncClient) -> list[Mismatch]:
        """Money M-Pesa says came in that no payment took."""
        problems: list[Mismatch] = []
        waited = self.clock.now() - UNMATCHED_GRACE
        for callback in await (
            DarajaCallback.filter(status=CallbackStatus.UNMATCHED, received_at__lte=waited)
            .using_db(conn)
            .order_by("id")
        ):
            try:
                parsed = parse_callback(callback.body.encode())
            except MalformedCallback:
                continue
            if not parsed.succeeded:
                continue
            amount = format_kes(parsed.amount) if parsed.amount is not None else "money"
            phone = f" from {display_phone(parsed.phone)}" if parsed.phone else ""
            problems.append(
                Mismatch(
                    f"callback #{callback.id}",
                    f"M-Pesa reports {amount} paid{phone} (receipt {parsed.receipt or '?'}), "
                    "but no payment matched it: nobody was credited",
                )
            )
        return problems
