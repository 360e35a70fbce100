"""What people owe: charges, payments received, balances, and the audit that checks them.

A person's balance is a cached sum of their ledger entries, changed only in the same
transaction as the entry, with an F-expression so concurrent writers cannot lose an update.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from models import LedgerEntry, LedgerKind, Payment, PaymentStatus, Person
from services import audit
from services.clock import Clock
from services.money import format_kes, parse_amount
from services.payments import NotAllowed, PaymentError, find_person

REASON_MAX = 200
LIST_LIMIT = 30
BALANCES_SHOWN = 50  # one chat message: 50 short lines stay far below Telegram's 4,096 characters


@dataclass(frozen=True)
class Owing:
    people: list[Person]  # the largest balances first
    count: int  # everyone who owes, shown or not
    total: int  # KES owed by all of them


class InvalidReason(PaymentError):
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
        if not actor.is_manager:
            raise NotAllowed("Only managers can add charges.")
        person = await find_person(who)
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
                "ledger.charge",
                "person",
                person.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"amount": value, "reason": text},
                using_db=conn,
            )
        return await Person.get(id=person.id), entry

    async def balances(self, actor: Person, limit: int = BALANCES_SHOWN) -> Owing:
        """Who owes something, largest first: the first `limit`, and the count and total of all."""
        if not actor.is_manager:
            raise NotAllowed("Only managers can see everyone's balance. Send /balance for yours.")
        owing = Person.filter(balance__gt=0)
        totals = await owing.annotate(n=Count("id"), total=Sum("balance")).values("n", "total")
        people = await owing.order_by("-balance", "name").limit(limit)
        return Owing(people=people, count=totals[0]["n"], total=int(totals[0]["total"] or 0))

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
                person = await find_person(text)
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
        entries = {
            row["payment_id"]: row["n"]
            for row in await LedgerEntry.filter(payment_id__isnull=False)
            .using_db(conn)
            .group_by("payment_id")
            .annotate(n=Count("id"))
            .values("payment_id", "n")
        }
        for payment in await Payment.all().using_db(conn).order_by("id"):
            should = (
                payment.status is PaymentStatus.COMPLETED
                and payment.flag_reason is None
                and payment.person_id is not None  # type: ignore[attr-defined]
            )
            count = entries.get(payment.id, 0)
            if should and count != 1:
                problems.append(
                    Mismatch(f"payment #{payment.id}", f"completed but has {count} ledger entries")
                )
            if not should and count:
                problems.append(
                    Mismatch(
                        f"payment #{payment.id}",
                        f"{payment.status.value}"
                        f"{' and flagged' if payment.flag_reason else ''} but has {count} "
                        "ledger entries",
                    )
                )
        return problems
