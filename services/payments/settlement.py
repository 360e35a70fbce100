"""Applying an outcome to a payment: its row, the ledger, the audit and the messages, once.

Callbacks (services/payments/intake.py), STK queries and Daraja's refusals all settle through
`SettlingBatch`, on payment rows locked first, so the same outcome, however often it arrives
and from however many instances, changes the payment and the ledger once. A batch writes one
statement per kind of row for all its payments rather than a dozen per payment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    AuditAction,
    OutboxMessage,
    Payment,
    PaymentStatus,
    Person,
    Receipt,
    ReceiptKind,
    WebhookEventType,
)
from services import audit, webhooks
from services.clock import Clock
from services.daraja import StkCallback
from services.documents.numbers import issue_receipt
from services.ledger import Credit, LedgerService, Reversal
from services.money import format_kes
from services.outbox import Outbox
from services.payments._sql import numbered
from services.payments.messages import (
    PaymentMessages,
    active_managers,
    manager_follows,
)
from services.payments.states import OPEN, SETTLED_UNPAID, status_for
from services.phones import display_phone

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Settlement:
    status: PaymentStatus
    reason: str
    result_code: int | None = None
    result_desc: str | None = None
    receipt: str | None = None
    paid_amount: int | None = None
    paid_phone: str | None = None
    flag_reason: str | None = None


def from_callback(payment: Payment, parsed: StkCallback) -> Settlement:
    """What a callback says about `payment`; a success that disagrees with it is flagged."""
    if not parsed.succeeded:
        return Settlement(
            status_for(parsed.kind),
            parsed.reason,
            result_code=parsed.result_code,
            result_desc=parsed.result_desc[:255],
        )
    problems = list(parsed.problems)
    if parsed.amount is not None and parsed.amount != payment.amount:
        problems.append(
            f"M-Pesa reports {format_kes(parsed.amount)} paid, but "
            f"{format_kes(payment.amount)} was asked"
        )
    if parsed.phone is not None and parsed.phone != payment.phone:
        problems.append(
            f"paid from {display_phone(parsed.phone)}, not {display_phone(payment.phone)}"
        )
    if payment.status in SETTLED_UNPAID:
        problems.append(f"M-Pesa reported success after the payment was {payment.status}")
    return Settlement(
        PaymentStatus.COMPLETED,
        "paid",
        result_code=0,
        result_desc=parsed.result_desc[:255],
        receipt=parsed.receipt,
        paid_amount=parsed.amount,
        paid_phone=parsed.phone,
        flag_reason="; ".join(problems)[:255] if problems else None,
    )


async def locked(conn: BaseDBAsyncClient, **where: Any) -> Payment | None:
    """The payment row, locked until the transaction ends (PostgreSQL; SQLite serialises)."""
    return await Payment.filter(**where).select_for_update().using_db(conn).first()


class Settler:
    def __init__(
        self, ledger: LedgerService, messages: PaymentMessages, outbox: Outbox, clock: Clock
    ) -> None:
        self.ledger = ledger
        self.messages = messages
        self.outbox = outbox
        self.clock = clock
        # Called after each committed settlement (the checkout pages' live streams).
        self.watchers: list[Callable[[], None]] = []

    def committed(self) -> None:
        """Settlements were committed: wake the dispatchers and whoever watches payments."""
        self.outbox.wake()
        for watcher in self.watchers:
            watcher()

    def batch(self, conn: BaseDBAsyncClient) -> SettlingBatch:
        return SettlingBatch(self, conn)

    async def settle_now(self, payment_id: int, settlement: Settlement) -> bool:
        """Move an open payment to its outcome, once; credit the ledger on a clean success."""
        async with in_transaction() as conn:
            payment = await locked(conn, id=payment_id)
            assert payment is not None
            batch = self.batch(conn)
            await batch.load_people([payment])
            applied = await batch.settle(payment, settlement)
            await batch.write()
        self.committed()
        return applied

    async def mark_unknown(self, payment_id: int, reason: str) -> bool:
        """An open payment nobody can settle now: managers are told to ask the payer."""
        now = self.clock.now()
        async with in_transaction() as conn:
            payment = await locked(conn, id=payment_id)
            assert payment is not None
            updated = (
                await Payment.filter(
                    id=payment.id, status__in=[PaymentStatus.INITIATED, PaymentStatus.PENDING]
                )
                .using_db(conn)
                .update(status=PaymentStatus.UNKNOWN, error=reason[:500], updated_at=now)
            )
            if updated:
                fresh = await Payment.filter(id=payment.id).using_db(conn).get()
                await audit.record(
                    AuditAction.PAYMENT_UNKNOWN,
                    "payment",
                    fresh.id,
                    at=now,
                    actor_label="system",
                    details={"reason": reason},
                    using_db=conn,
                )
                await self.messages.notify_status(fresh, conn)
                await self.messages.alert_managers(fresh, reason, conn)
        self.committed()
        if updated:
            log.warning("payment %s unknown: %s", payment_id, reason)
        return bool(updated)


@dataclass(frozen=True)
class _Audited:
    action: AuditAction
    payment_id: int
    details: dict[str, Any]


class SettlingBatch:
    """The settlements of one transaction, written together. The caller holds the payments'
    locks (PostgreSQL) or the only write transaction (SQLite), so the payments it passes are
    current; each is changed in memory as it settles, so a second outcome for the same
    payment in the batch sees the first."""

    def __init__(self, settler: Settler, conn: BaseDBAsyncClient) -> None:
        self.settler = settler
        self.conn = conn
        self.now: datetime = settler.clock.now()
        self.people: dict[int, Person] = {}
        self.managers: list[Person] | None = None
        self.receipts: dict[str, int] = {}  # receipt → the payment that holds it
        self.updates: list[list[Any]] = []
        self.ledger: list[Credit | Reversal] = []
        self.audit: list[_Audited] = []
        self.hooks: list[tuple[WebhookEventType, dict[str, Any]]] = []  # webhook events
        self.messages: list[OutboxMessage] = []
        self.batches: set[int] = set()  # payment requests whose summary must be rewritten

    async def load_people(self, payments: Sequence[Payment]) -> None:
        wanted = {p.requested_by_id for p in payments}  # type: ignore[attr-defined]
        wanted |= {p.person_id for p in payments if p.person_id}  # type: ignore[attr-defined]
        missing = wanted - self.people.keys()
        if missing:
            for person in await Person.filter(id__in=missing).using_db(self.conn):
                self.people[person.id] = person

    async def know_receipts(self, receipts: Sequence[str]) -> None:
        if receipts:
            found = (
                await Payment.filter(receipt__in=list(receipts))
                .using_db(self.conn)
                .values_list("receipt", "id")
            )
            self.receipts.update(found)

    def receipt_unused(self, payment: Payment, settlement: Settlement) -> Settlement:
        """A receipt already credited to another payment is a replay (or a forgery): flag it,
        keep the receipt out of the unique column, credit nothing."""
        if settlement.receipt is None:
            return settlement
        other = self.receipts.get(settlement.receipt)
        if other is None or other == payment.id:
            return settlement
        problem = f"M-Pesa receipt {settlement.receipt} was already used for payment #{other}"
        flag = "; ".join(p for p in (settlement.flag_reason, problem) if p)
        return replace(settlement, receipt=None, flag_reason=flag[:255])

    async def settle(self, payment: Payment, settlement: Settlement, source: str = "") -> bool:
        """Move an open payment to its outcome, once; credit the ledger on a clean success."""
        completed = settlement.status is PaymentStatus.COMPLETED
        late_success = completed and payment.status in SETTLED_UNPAID
        allowed = [*OPEN, *SETTLED_UNPAID] if late_success else list(OPEN)
        if payment.status not in allowed:
            return False
        was = payment.status
        payment.status = settlement.status
        payment.result_code = settlement.result_code
        payment.result_desc = settlement.result_desc
        payment.resolved_at = self.now
        payment.error = None if completed else settlement.reason
        if completed:
            payment.receipt = settlement.receipt
            payment.paid_amount = settlement.paid_amount
            payment.paid_phone = settlement.paid_phone
            payment.flag_reason = settlement.flag_reason
            if payment.receipt:
                self.receipts[payment.receipt] = payment.id
        self._queue_update(payment, was)
        payer_id: int | None = payment.person_id  # type: ignore[attr-defined]
        credited = completed and payment.flag_reason is None and payer_id is not None
        if credited:
            assert payer_id is not None
            self.ledger.append(
                Credit(
                    person_id=payer_id,
                    amount=payment.paid_amount or payment.amount,
                    payment_id=payment.id,
                    description=f"M-Pesa {payment.receipt or 'payment'} · {payment.purpose}",
                    beyond=beyond_description(payment),
                    asked_by_id=payment.requested_by_id,  # type: ignore[attr-defined]
                )
            )
        details = {
            "reason": settlement.reason,
            "receipt": payment.receipt,
            "flag": payment.flag_reason,
            "credited": credited,
        }
        self.audit.append(_Audited(AuditAction.payment(payment.status), payment.id, details))
        kind = WebhookEventType.PAYMENT_COMPLETED if completed else WebhookEventType.PAYMENT_FAILED
        self.hooks.append(
            (kind, webhooks.payment_data(payment, None if completed else settlement.reason))
        )
        person = await self._tell(payment)
        if completed:
            # Numbered in this transaction: a rollback gives the number back.
            document = await issue_receipt(
                self.conn,
                kind=ReceiptKind.PAYMENT,
                person_id=payer_id,
                amount=payment.paid_amount or payment.amount,
                at=self.now,
                tz=self.settler.messages.notifier.renderer.tz,
                payment_id=payment.id,
            )
            manager = self.people[payment.requested_by_id]  # type: ignore[attr-defined]
            self.messages += self.settler.messages.receipts(payment, manager, person, document)
        await self._alert_if_flagged(payment, person)
        log.info(
            "payment %s %s (%s)%s%s",
            payment.id,
            payment.status.value,
            settlement.reason,
            f" from {source}" if source else "",
            f" flagged: {payment.flag_reason}" if payment.flag_reason else "",
        )
        return True

    async def fill_in(self, payment: Payment, settlement: Settlement, source: str = "") -> bool:
        """The success callback of a payment the STK query already settled (the query has no
        receipt): record its receipt and check it like any callback. A mismatch flags the
        payment and withdraws the credit the query gave."""
        if not (
            payment.status is PaymentStatus.COMPLETED
            and payment.receipt is None
            and payment.flag_reason is None
            and settlement.status is PaymentStatus.COMPLETED
        ):
            return False
        payment.receipt = settlement.receipt
        payment.paid_amount = settlement.paid_amount or payment.paid_amount
        payment.paid_phone = settlement.paid_phone
        payment.flag_reason = settlement.flag_reason
        if payment.flag_reason:
            # A new flag needs a new look, even if the missing receipt was resolved before.
            payment.flag_resolved_at = payment.flag_resolution = None
            payment.flag_resolved_by_id = None
        if payment.receipt:
            self.receipts[payment.receipt] = payment.id
        self._queue_update(payment, payment.status)
        # Our receipt (issued when the query settled it) says what M-Pesa says was received.
        await (
            Receipt.filter(payment_id=payment.id)
            .using_db(self.conn)
            .update(amount=payment.paid_amount or payment.amount)
        )
        payer_id: int | None = payment.person_id  # type: ignore[attr-defined]
        withdrawn = 0
        if payment.flag_reason and payer_id is not None:
            # The query's credit, and the charge for what it paid beyond what was owed: as
            # if this callback had come first (flagged, nothing credited, nothing charged).
            standing = await self.settler.ledger.still_standing(
                payment.id, payer_id, beyond_description(payment), self.conn
            )
            for entry in standing:
                withdrawn -= entry.amount
                self.ledger.append(
                    Reversal(
                        person_id=payer_id,
                        entry=entry,
                        description=f"Payment #{payment.id} not credited: {payment.flag_reason}",
                    )
                )
        details = {"receipt": payment.receipt, "flag": payment.flag_reason, "withdrawn": withdrawn}
        self.audit.append(_Audited(AuditAction.PAYMENT_RECEIPT, payment.id, details))
        person = await self._tell(payment)
        await self._alert_if_flagged(payment, person)
        log.info(
            "payment %s receipt %s%s%s",
            payment.id,
            payment.receipt,
            f" from {source}" if source else "",
            f" flagged: {payment.flag_reason}" if payment.flag_reason else "",
        )
        return True

    async def write(self) -> None:
        conn = self.conn
        if self.updates:
            # In settling order: a late success follows the failure it overrides. The rows
            # are locked (or SQLite has one writer), so the status condition always holds.
            await conn.execute_many(
                numbered(
                    conn,
                    "UPDATE payment SET status = ?, result_code = ?, result_desc = ?,"
                    " resolved_at = ?, error = ?, receipt = ?, paid_amount = ?, paid_phone = ?,"
                    " flag_reason = ?, flag_resolved_at = ?, flag_resolved_by_id = ?,"
                    " flag_resolution = ?, updated_at = ? WHERE id = ? AND status = ?",
                ),
                self.updates,
            )
        await self.settler.ledger.credit_many(self.ledger, conn, at=self.now)
        for row in self.audit:
            await audit.record(
                row.action,
                "payment",
                row.payment_id,
                at=self.now,
                actor_label="daraja",
                details=row.details,
                using_db=conn,
            )
        for kind, data in self.hooks:
            await webhooks.emit(kind, data, at=self.now, using_db=conn)
        if self.messages:
            await self.settler.messages.write(self.messages, conn)
        # After the payments are written (the summary reads them), in id order: the payments
        # are all locked already, so two settlers cannot wait for each other in a ring.
        for batch_id in sorted(self.batches):
            await self.settler.messages.refresh_batch(batch_id, conn)

    async def _tell(self, payment: Payment) -> Person | None:
        """Queue the payment's status messages; returns its payer."""
        payer_id: int | None = payment.person_id  # type: ignore[attr-defined]
        manager = self.people[payment.requested_by_id]  # type: ignore[attr-defined]
        person = self.people.get(payer_id) if payer_id else None
        to_manager = await manager_follows(payment, self.conn)
        self.messages += self.settler.messages.status(
            payment, manager, person, to_manager=to_manager
        )
        batch_id: int | None = payment.batch_id  # type: ignore[attr-defined]
        if batch_id is not None:
            self.batches.add(batch_id)
        return person

    def _queue_update(self, payment: Payment, was: PaymentStatus) -> None:
        """The payment's row as settled, for `write`; applied only if it is still `was`."""
        self.updates.append(
            [
                payment.status.value,
                payment.result_code,
                payment.result_desc,
                payment.resolved_at,
                payment.error,
                payment.receipt,
                payment.paid_amount,
                payment.paid_phone,
                payment.flag_reason,
                payment.flag_resolved_at,
                payment.flag_resolved_by_id,  # type: ignore[attr-defined]
                payment.flag_resolution,
                self.now,
                payment.id,
                was.value,
            ]
        )

    async def _alert_if_flagged(self, payment: Payment, person: Person | None) -> None:
        if payment.flag_reason:
            if self.managers is None:
                self.managers = await active_managers(self.conn)
            self.messages += self.settler.messages.alerts(
                payment, payment.flag_reason, person, self.managers
            )


def beyond_description(payment: Payment) -> str:
    """The charge for what a request's payment brought beyond what the payer owed."""
    return f"{payment.purpose} · asked with payment #{payment.id}"[:200]
