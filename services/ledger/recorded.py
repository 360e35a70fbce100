"""Money received outside M-Pesa: /record writes the payment and its credit, /unrecord undoes
it with a reversing entry (never a delete).

A reference is unique per method once spaces are removed and case is folded ("ABC 123" and
"abc123" are one bank transfer), among the payments not undone. The database enforces it
(UNIQUE (method, reference_key), the key emptied on undo): two managers recording one
transfer at once cannot both save it.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    DocumentSeries,
    LedgerEntry,
    LedgerKind,
    NotificationKind,
    Payment,
    PaymentMethod,
    Payout,
    Person,
    ReceiptKind,
    RecordedPayment,
)
from services import audit
from services.clock import Clock
from services.documents.numbers import issue_receipt
from services.errors import Conflict, InvalidInput, NotFound, require_manager
from services.ledger.service import (
    REASON_MAX,
    CannotUndo,
    InvalidReason,
    LedgerError,
    clean_reason,
)
from services.money import format_kes, parse_amount
from services.notifications import Notifier
from services.people import Among, PeopleService

RECORD_MAX = 10_000_000  # KES per recorded payment: far above any crew debt, below a typo
REFERENCE_MAX = 60
METHODS = " | ".join(m.value for m in PaymentMethod)
_ALIASES = {
    "check": PaymentMethod.CHEQUE,
    "airtel money": PaymentMethod.AIRTEL,
    "m-pesa": PaymentMethod.MPESA,
    "m pesa": PaymentMethod.MPESA,
}


class InvalidMethod(LedgerError, InvalidInput):
    pass


class InvalidReference(LedgerError, InvalidInput):
    pass


class DuplicateReference(LedgerError, Conflict):
    pass


class RecordNotFound(LedgerError, NotFound):
    pass


@dataclass(frozen=True)
class Recorded:
    """A recorded payment (or its undoing) and the person's balance after it."""

    record: RecordedPayment
    person: Person
    entry: LedgerEntry  # the credit, or the reversing entry


def parse_method(text: str) -> PaymentMethod:
    word = " ".join(text.split()).casefold()
    try:
        return _ALIASES.get(word) or PaymentMethod(word)
    except ValueError:
        shown = word if len(word) <= 20 else word[:19] + "…"
        raise InvalidMethod(
            f"“{shown}” is not a way of paying we record. Use one of: {METHODS}."
            if word
            else f"Say how the money came: {METHODS}."
        ) from None


def clean_reference(text: str) -> tuple[str, str]:
    """The reference as shown (single spaces) and as compared (no spaces, case-folded)."""
    shown = " ".join(text.split())
    if not shown:
        raise InvalidReference(
            "Give the reference: the bank or Airtel transaction code, the cheque number, or "
            "the cash receipt number."
        )
    if len(shown) > REFERENCE_MAX:
        raise InvalidReference(
            f"The reference is {len(shown)} characters; keep it to {REFERENCE_MAX}."
        )
    return shown, "".join(shown.split()).casefold()


def clean_undo_reason(text: str) -> str:
    if not text.strip():
        raise InvalidReason("Say why it is undone, like “Typed the wrong amount”.")
    return clean_reason(text)


def parse_record_amount(text: str) -> int:
    return parse_amount(text, maximum=RECORD_MAX)


class RecordedPayments:
    def __init__(self, notifier: Notifier, clock: Clock) -> None:
        self.notifier = notifier
        self.clock = clock
        self.tz = notifier.renderer.tz  # the company year a receipt is numbered in

    async def record(
        self,
        actor: Person,
        who: str,
        amount: str,
        method: str,
        reference: str,
        *,
        chat_id: int | None = None,
    ) -> Recorded:
        """Credit money received outside M-Pesa; every field is checked before anything is
        saved, and the payer is told (chat, email) in the same transaction."""
        require_manager(actor, "record payments")
        person = await PeopleService.find(who, among=Among.OWING_TOO)
        value = parse_record_amount(amount)
        how = parse_method(method)
        shown, key = clean_reference(reference)
        await self._refuse_duplicate(how, key)
        now = self.clock.now()
        try:
            async with in_transaction() as conn:
                entry = await LedgerEntry.create(
                    person=person,
                    kind=LedgerKind.RECORDED,
                    amount=-value,
                    description=f"{how.value} · {shown}",
                    created_by=actor,
                    created_at=now,
                    using_db=conn,
                )
                record = await RecordedPayment.create(
                    person=person,
                    amount=value,
                    method=how,
                    reference=shown,
                    reference_key=key,
                    recorded_by=actor,
                    recorded_at=now,
                    entry=entry,
                    using_db=conn,
                )
                await (
                    Person.filter(id=person.id)
                    .using_db(conn)
                    .update(balance=F("balance") - value, updated_at=now)
                )
                await audit.record(
                    AuditAction.LEDGER_RECORDED,
                    "recorded_payment",
                    record.id,
                    at=now,
                    actor=actor,
                    chat_id=chat_id,
                    details={
                        "person": person.id,
                        "amount": value,
                        "method": how.value,
                        "reference": shown,
                        "entry": entry.id,
                    },
                    using_db=conn,
                )
                document = await issue_receipt(
                    conn,
                    kind=ReceiptKind.RECORDED,
                    person_id=person.id,
                    amount=value,
                    at=now,
                    tz=self.tz,
                    recorded_payment_id=record.id,
                )
                payer = await Person.get(id=person.id, using_db=conn)
                await self.notifier.notify(
                    payer,
                    NotificationKind.PAYMENT_RECORDED,
                    {"record": record, "recorded_by": actor, "document": document},
                    dedupe_key=f"rec:{record.id}",
                    attachment=(DocumentSeries.RECEIPT, document.id),
                    using_db=conn,
                )
        except IntegrityError:
            # Another manager saved the same reference between our check and our insert.
            await self._refuse_duplicate(how, key)
            raise
        return Recorded(record, payer, entry)

    async def _refuse_duplicate(self, method: PaymentMethod, key: str) -> None:
        if method is PaymentMethod.MPESA:
            # A receipt our own push or payout already booked is not money received twice.
            receipt = key.upper()
            payment = await Payment.get_or_none(receipt=receipt)
            if payment is not None:
                raise DuplicateReference(
                    f"M-Pesa receipt {receipt} is already in the books: payment #{payment.id}, "
                    f"{format_kes(payment.paid_amount or payment.amount)}. Nothing was saved."
                )
            if await Payout.exists(transaction_id=receipt):
                raise DuplicateReference(
                    f"M-Pesa receipt {receipt} is a payout we sent, not money received. "
                    "Nothing was saved."
                )
        earlier = await RecordedPayment.get_or_none(
            method=method, reference_key=key
        ).prefetch_related("person")
        if earlier is not None:
            label = (
                "M-Pesa receipt"
                if method is PaymentMethod.MPESA
                else f"{method.value.capitalize()} reference"
            )
            raise DuplicateReference(
                f"{label} {earlier.reference} is already recorded: "
                f"#{earlier.id}, {format_kes(earlier.amount)} from {earlier.person.name}. "
                "Nothing was saved. If that one was wrong, /unrecord it, then record this again."
            )

    async def unrecord(
        self, actor: Person, record_id: int, reason: str, *, chat_id: int | None = None
    ) -> Recorded:
        """Undo a recorded payment with a reversing entry (same amount, opposite sign), once."""
        require_manager(actor, "undo recorded payments")
        text = clean_undo_reason(reason)
        now = self.clock.now()
        async with in_transaction() as conn:
            record = (
                await RecordedPayment.filter(id=record_id)
                .select_for_update()
                .using_db(conn)
                .first()
            )
            if record is None:
                raise RecordNotFound(
                    f"There is no recorded payment #{record_id}. The number is in the reply "
                    "to /record."
                )
            if record.undone_at is not None:
                raise CannotUndo(
                    f"Recorded payment #{record_id} was already undone "
                    f"(entry #{record.undo_entry_id}): {record.undo_reason}"  # type: ignore[attr-defined]
                )
            person_id: int = record.person_id  # type: ignore[attr-defined]
            entry = await LedgerEntry.create(
                person_id=person_id,
                kind=LedgerKind.ADJUSTMENT,
                amount=record.amount,
                description=(
                    f"Undo recorded #{record.id} ({record.method.value} · {record.reference}): "
                    f"{text}"
                )[:REASON_MAX],
                created_by=actor,
                reverses_id=record.entry_id,  # type: ignore[attr-defined]
                created_at=now,
                using_db=conn,
            )
            await (
                RecordedPayment.filter(id=record.id)
                .using_db(conn)
                .update(
                    undone_by_id=actor.id,
                    undone_at=now,
                    undo_reason=text,
                    undo_entry=entry,
                    reference_key=None,  # the reference may be recorded again
                )
            )
            await (
                Person.filter(id=person_id)
                .using_db(conn)
                .update(balance=F("balance") + record.amount, updated_at=now)
            )
            await audit.record(
                AuditAction.LEDGER_UNRECORDED,
                "recorded_payment",
                record.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={"amount": record.amount, "entry": entry.id, "reason": text},
                using_db=conn,
            )
            undone = await RecordedPayment.get(id=record.id, using_db=conn)
            payer = await Person.get(id=person_id, using_db=conn)
            await self.notifier.notify(
                payer,
                NotificationKind.PAYMENT_UNRECORDED,
                {"record": undone, "person": payer, "undone_by": actor},
                dedupe_key=f"unrec:{record.id}",
                using_db=conn,
            )
        return Recorded(
            await RecordedPayment.get(id=record.id), await Person.get(id=person_id), entry
        )
