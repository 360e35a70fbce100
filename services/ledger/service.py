"""Charges, payments received and balances: the only writer of ledger entries and balances.

A person's balance is a cached sum of their ledger entries, changed only in the same
transaction as the entry, with an F-expression (or, for a batch of credits, one relative
update per person in id order) so concurrent writers cannot lose an update. Settling
payments credits through `LedgerService.credit_many`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.functions import Count, Sum
from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Person,
)
from services import audit
from services.clock import Clock
from services.errors import (
    CallsheetError,
    Conflict,
    InvalidInput,
    NotAllowed,
    NotFound,
    require_manager,
)
from services.ledger.checks import Mismatch, find_mismatches
from services.money import parse_amount
from services.people import Among, PeopleService

REASON_MAX = 200
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


class LedgerError(CallsheetError):
    pass


class InvalidReason(LedgerError, InvalidInput):
    pass


class EntryNotFound(LedgerError, NotFound):
    pass


class FlaggedPaymentNotFound(LedgerError, NotFound):
    pass


class CannotUndo(LedgerError, Conflict):
    pass


@dataclass(frozen=True)
class Credit:
    """A payment received from `person_id`. What it brings beyond what they owe is charged
    (described as `beyond`, by whoever asked): a payment never leaves anyone in credit."""

    person_id: int
    amount: int  # shillings received
    payment_id: int
    description: str
    beyond: str
    asked_by_id: int


@dataclass(frozen=True)
class Reversal:
    """An entry withdrawn (a credit a later callback contradicts, or the charge beside it)."""

    person_id: int
    entry: LedgerEntry
    description: str


@dataclass(frozen=True)
class Statement:
    person: Person
    entries: list[LedgerEntry]
    payments: list[Payment]


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
                raise FlaggedPaymentNotFound(f"There is no payment #{payment_id}.")
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

    async def credit_many(
        self, moves: Sequence[Credit | Reversal], conn: BaseDBAsyncClient, *, at: datetime
    ) -> None:
        """Write the credits and reversals of one settling transaction: one insert for all the
        entries (in `moves` order, then the charges beyond what was owed) and one balance
        update per person, in id order so two instances' batches never wait in a ring."""
        entries: list[LedgerEntry] = []
        lowered: dict[int, int] = {}  # person id → shillings that lower the balance
        credits: list[Credit] = []
        for move in moves:
            if isinstance(move, Credit):
                entries.append(
                    LedgerEntry(
                        person_id=move.person_id,
                        kind=LedgerKind.PAYMENT,
                        amount=-move.amount,
                        description=move.description[:200],
                        payment_id=move.payment_id,
                        created_at=at,
                    )
                )
                lowered[move.person_id] = lowered.get(move.person_id, 0) + move.amount
                credits.append(move)
            else:
                entries.append(
                    LedgerEntry(
                        person_id=move.person_id,
                        kind=LedgerKind.ADJUSTMENT,
                        amount=-move.entry.amount,
                        description=move.description[:200],
                        reverses_id=move.entry.id,
                        created_at=at,
                    )
                )
                lowered[move.person_id] = lowered.get(move.person_id, 0) + move.entry.amount
        entries += await self._charges_beyond_owed(credits, lowered, conn, at)
        if entries:
            await LedgerEntry.bulk_create(entries, using_db=conn)
        for pid, amount in sorted(lowered.items()):
            await (
                Person.filter(id=pid)
                .using_db(conn)
                .update(balance=F("balance") - amount, updated_at=at)
            )

    async def _charges_beyond_owed(
        self,
        credits: Sequence[Credit],
        lowered: dict[int, int],
        conn: BaseDBAsyncClient,
        at: datetime,
    ) -> list[LedgerEntry]:
        """A request settles what the payer owes; whatever they pay beyond that is charged
        with the request (its purpose), so a payment never leaves anyone in credit."""
        if not credits:
            return []
        payers = await (
            Person.filter(id__in=sorted({c.person_id for c in credits}))
            .order_by("id")  # locked in id order, like the balance updates after it
            .select_for_update()
            .using_db(conn)
        )
        # What each owes before these credits: the stored balance, plus any credit this
        # batch withdraws (a late callback that did not match).
        owed = {p.id: p.balance for p in payers}
        for pid, amount in lowered.items():
            owed[pid] = owed.get(pid, 0) - amount
        for credit in credits:
            owed[credit.person_id] += credit.amount
        charges: list[LedgerEntry] = []
        for credit in credits:
            pid = credit.person_id
            beyond = credit.amount - max(owed[pid], 0)
            owed[pid] -= credit.amount
            if beyond <= 0:
                continue
            owed[pid] += beyond
            charges.append(
                LedgerEntry(
                    person_id=pid,
                    kind=LedgerKind.CHARGE,
                    amount=beyond,
                    description=credit.beyond[:200],
                    created_by_id=credit.asked_by_id,
                    created_at=at,
                )
            )
            lowered[pid] -= beyond
        return charges

    @staticmethod
    async def still_standing(
        payment_id: int, person_id: int, beyond: str, conn: BaseDBAsyncClient
    ) -> list[LedgerEntry]:
        """The credit a payment gave and the charge for what it brought beyond what was
        owed (described `beyond`), each unless already reversed."""
        credit = await LedgerEntry.filter(payment_id=payment_id).using_db(conn).first()
        charges = await LedgerEntry.filter(
            person_id=person_id, kind=LedgerKind.CHARGE, description=beyond
        ).using_db(conn)
        return [
            entry
            for entry in (credit, *charges)
            if entry is not None
            and not await LedgerEntry.exists(reverses_id=entry.id, using_db=conn)
        ]

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
            return await find_mismatches(conn, self.clock.now())
