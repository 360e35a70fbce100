"""What the payer and the managers are told about a payment, as outbox rows.

Rows are prepared, not sent: the caller saves them in the transaction that changed the
payment, so a message never describes a change that was rolled back.
"""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.backends.base.client import BaseDBAsyncClient

from models import (
    Access,
    Channel,
    DocumentSeries,
    NotificationKind,
    OutboxMessage,
    Payment,
    PaymentStatus,
    Person,
    Receipt,
)
from services import batch_summary
from services.buttons.payments import CheckStatus, ResendPayment
from services.buttons.refunds import StartRefund
from services.notifications import Button, Keyboard, Notifier
from services.payments.states import NEEDS_A_MANAGER, SETTLED_UNPAID
from services.phones import display_phone


class PaymentMessages:
    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier

    def status(
        self,
        payment: Payment,
        manager: Person,
        person: Person | None,
        *,
        payer: bool = True,
        to_manager: bool = True,
    ) -> list[OutboxMessage]:
        """The live status message of the manager who asked and of the payer."""
        context = {"payment": payment, "payer": person, "phone": display_phone(payment.phone)}
        rows = (
            self.notifier.prepare(
                manager,
                NotificationKind.PAYMENT_STATUS,
                {**context, "for_manager": True},
                buttons=_manager_buttons(payment),
                live_key=f"pay:{payment.id}:mgr",
                channels=(Channel.TELEGRAM,),
            )
            if to_manager
            else []
        )
        if payer and person is not None and person.id != manager.id:
            rows += self.notifier.prepare(
                person,
                NotificationKind.PAYMENT_STATUS,
                {**context, "for_manager": False},
                buttons=_payer_buttons(payment),
                live_key=f"pay:{payment.id}:payer",
                channels=(Channel.TELEGRAM,),
            )
        return rows

    def receipts(
        self,
        payment: Payment,
        manager: Person,
        person: Person | None,
        document: Receipt | None = None,
    ) -> list[OutboxMessage]:
        """Receipt emails to the payer and the manager, `document`'s PDF attached."""
        recipients = [manager] if person is None or person.id == manager.id else [person, manager]
        rows: list[OutboxMessage] = []
        # Someone without an email address has the receipt number in their chat message
        # already: no row (not even a skipped one) for an email that cannot exist.
        for recipient in (r for r in recipients if r.email):
            rows += self.notifier.prepare(
                recipient,
                NotificationKind.PAYMENT_RECEIPT,
                {
                    "payment": payment,
                    "payer": person,
                    "phone": display_phone(payment.phone),
                    "for_manager": recipient.id == manager.id,
                    "document": document,
                },
                dedupe_key=f"pay:{payment.id}:receipt:{recipient.id}",
                channels=(Channel.EMAIL,),
                attachment=(DocumentSeries.RECEIPT, document.id) if document else None,
            )
        return rows

    def alerts(
        self, payment: Payment, reason: str, person: Person | None, managers: Sequence[Person]
    ) -> list[OutboxMessage]:
        """Every manager is told about a payment someone must look at."""
        rows: list[OutboxMessage] = []
        for manager in managers:
            rows += self.notifier.prepare(
                manager,
                NotificationKind.PAYMENT_ALERT,
                {
                    "payment": payment,
                    "payer": person,
                    "phone": display_phone(payment.phone),
                    "reason": reason,
                },
                buttons=[[Button("Check status", CheckStatus(payment.id).pack())]]
                if payment.checkout_request_id
                else (),
                dedupe_key=f"pay:{payment.id}:alert:{payment.status.value}:{manager.id}",
            )
        return rows

    async def write(self, rows: Sequence[OutboxMessage], conn: BaseDBAsyncClient) -> None:
        """Save rows, dropping the older edits of the same live messages still waiting."""
        await self.notifier.supersede(rows, conn)
        if rows:
            await OutboxMessage.bulk_create(list(rows), using_db=conn)

    async def notify_status(
        self, payment: Payment, conn: BaseDBAsyncClient, *, payer: bool = True
    ) -> None:
        manager, person = await people_of(payment, conn)
        to_manager = await manager_follows(payment, conn)
        await self.write(
            self.status(payment, manager, person, payer=payer, to_manager=to_manager), conn
        )
        batch_id: int | None = payment.batch_id  # type: ignore[attr-defined]
        if batch_id is not None:
            await self.refresh_batch(batch_id, conn)

    async def refresh_batch(self, batch_id: int, conn: BaseDBAsyncClient) -> None:
        """The live summary of an event's payment request, rewritten."""
        await batch_summary.refresh(self.notifier, batch_id, conn)

    async def alert_managers(self, payment: Payment, reason: str, conn: BaseDBAsyncClient) -> None:
        _, person = await people_of(payment, conn)
        rows = self.alerts(payment, reason, person, await active_managers(conn))
        if rows:
            await OutboxMessage.bulk_create(rows, using_db=conn)


async def active_managers(conn: BaseDBAsyncClient) -> list[Person]:
    return list(await Person.filter(access=Access.MANAGER, active=True).using_db(conn))


async def people_of(payment: Payment, conn: BaseDBAsyncClient) -> tuple[Person, Person | None]:
    """The manager who asked and the payer (None for a phone nobody on the list has)."""
    manager = await Person.filter(id=payment.requested_by_id).using_db(conn).get()  # type: ignore[attr-defined]
    person = (
        await Person.filter(id=payment.person_id).using_db(conn).first()  # type: ignore[attr-defined]
        if payment.person_id  # type: ignore[attr-defined]
        else None
    )
    return manager, person


async def manager_follows(payment: Payment, conn: BaseDBAsyncClient) -> bool:
    """Whether the manager's own status message for this payment is written. In a batch the
    summary is the manager's view; a payment gets its own message (with Resend / Check
    status) only once it needs them, and keeps it from then on."""
    return (
        payment.batch_id is None  # type: ignore[attr-defined]
        or payment.status in NEEDS_A_MANAGER
        or await OutboxMessage.exists(live_key=f"pay:{payment.id}:mgr", using_db=conn)
    )


def _manager_buttons(payment: Payment) -> Keyboard:
    row: list[Button] = []
    if payment.status in SETTLED_UNPAID or payment.status is PaymentStatus.UNKNOWN:
        row.append(Button("Resend", ResendPayment(payment.id).pack()))
    if payment.checkout_request_id and payment.status in (
        PaymentStatus.PENDING,
        PaymentStatus.UNKNOWN,
        *SETTLED_UNPAID,
    ):
        row.append(Button("Check status", CheckStatus(payment.id).pack()))
    if payment.status is PaymentStatus.COMPLETED and payment.receipt:
        row.append(Button("Refund", StartRefund(payment.id).pack()))
    return [row] if row else []


def _payer_buttons(payment: Payment) -> Keyboard:
    if payment.checkout_request_id and payment.status in (
        PaymentStatus.PENDING,
        PaymentStatus.UNKNOWN,
    ):
        return [[Button("Check status", CheckStatus(payment.id).pack())]]
    return []
