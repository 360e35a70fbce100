"""What the managers and the payer are told about a refund, written in the transaction that
changed it (so a message never describes a change that was rolled back).

- The refund's card: one live chat message per manager who follows it (the one who asked,
  the one who decided, and while it waits for approval every other manager), edited as it
  moves on. Approve / Reject while it waits; the asker can withdraw it.
- An email asking the other managers to approve (PAYROLL_APPROVALS=2).
- Once it is done: the payer's notice (chat and email, the receipt PDF attached) and every
  manager's outcome (chat and email); a failure says why and what to do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models import (
    Access,
    Channel,
    DocumentSeries,
    NotificationKind,
    OutboxMessage,
    Payment,
    Person,
    Receipt,
    Refund,
    RefundStatus,
    WebhookEventType,
)
from services import webhooks
from services.buttons.refunds import ApproveRefund, RejectRefund
from services.notifications import Button, Keyboard
from services.phones import display_phone

if TYPE_CHECKING:
    from services.refunds._service import RefundsCore


def card_key(refund_id: int, person_id: int) -> str:
    return f"refund:{refund_id}:{person_id}"


async def context_of(refund: Refund, conn: BaseDBAsyncClient) -> dict[str, Any]:
    fresh = await Refund.filter(id=refund.id).using_db(conn).get()
    payment = await Payment.filter(id=fresh.payment_id).using_db(conn).get()  # type: ignore[attr-defined]
    ids = {
        i
        for i in (
            fresh.person_id,  # type: ignore[attr-defined]
            fresh.requested_by_id,  # type: ignore[attr-defined]
            fresh.decided_by_id,  # type: ignore[attr-defined]
        )
        if i
    }
    people = {p.id: p for p in await Person.filter(id__in=sorted(ids) or [0]).using_db(conn)}
    document = await Receipt.filter(refund_id=fresh.id).using_db(conn).first()
    return {
        "refund": fresh,
        "payment": payment,
        "payer": people.get(fresh.person_id),  # type: ignore[attr-defined]
        "phone": display_phone(fresh.phone),
        "asked_by": people[fresh.requested_by_id],  # type: ignore[attr-defined]
        "decided_by": people.get(fresh.decided_by_id),  # type: ignore[attr-defined]
        "document": document,
    }


def _buttons(refund: Refund, viewer: Person) -> Keyboard:
    if refund.status is not RefundStatus.REQUESTED:
        return []
    if viewer.id == refund.requested_by_id:  # type: ignore[attr-defined]
        return [[Button("Withdraw", RejectRefund(refund.id).pack())]]
    return [
        [
            Button("✅ Approve", ApproveRefund(refund.id).pack()),
            Button("❌ Reject", RejectRefund(refund.id).pack()),
        ]
    ]


async def publish(
    core: RefundsCore, refund: Refund, conn: BaseDBAsyncClient, *, asking: bool = False
) -> None:
    """Each following manager's card, rewritten; `asking`: the refund was just asked for and
    waits for another manager, who is emailed too."""
    context = await context_of(refund, conn)
    fresh: Refund = context["refund"]
    notifier = core.notifier
    managers = list(
        await Person.filter(access=Access.MANAGER, active=True).using_db(conn).order_by("id")
    )
    rows: list[OutboxMessage] = []
    for manager in managers:
        key = card_key(fresh.id, manager.id)
        follows = (
            manager.id in (fresh.requested_by_id, fresh.decided_by_id)  # type: ignore[attr-defined]
            or (asking and core.approvals >= 2)
            or await OutboxMessage.exists(live_key=key, using_db=conn)
        )
        if not follows:
            continue
        rows += notifier.prepare(
            manager,
            NotificationKind.REFUND,
            {**context, "viewer": manager, "approvals": core.approvals},
            buttons=_buttons(fresh, manager),
            live_key=key,
            channels=(Channel.TELEGRAM,),
        )
        if asking and manager.id != fresh.requested_by_id and manager.email:  # type: ignore[attr-defined]
            rows += notifier.prepare(
                manager,
                NotificationKind.REFUND_APPROVAL,
                {**context, "viewer": manager},
                dedupe_key=f"refund:{fresh.id}:approval:{manager.id}",
                channels=(Channel.EMAIL,),
            )
    await notifier.supersede(rows, conn)
    if rows:
        await OutboxMessage.bulk_create(rows, using_db=conn)


async def tell_outcome(core: RefundsCore, refund: Refund, conn: BaseDBAsyncClient) -> None:
    """Refunded or failed: the cards, every manager, and (refunded) the payer."""
    await publish(core, refund, conn)
    context = await context_of(refund, conn)
    fresh: Refund = context["refund"]
    notifier = core.notifier
    rows: list[OutboxMessage] = []
    managers = await Person.filter(access=Access.MANAGER, active=True).using_db(conn).order_by("id")
    for manager in managers:
        rows += notifier.prepare(
            manager,
            NotificationKind.REFUND_OUTCOME,
            {**context, "viewer": manager},
            dedupe_key=f"refund:{fresh.id}:{fresh.status.value}:{manager.id}",
        )
    payer: Person | None = context["payer"]
    document: Receipt | None = context["document"]
    if fresh.status is RefundStatus.REFUNDED and payer is not None:
        rows += notifier.prepare(
            payer,
            NotificationKind.REFUND_NOTICE,
            context,
            dedupe_key=f"refund:{fresh.id}:notice",
            attachment=(DocumentSeries.RECEIPT, document.id) if document else None,
        )
    if rows:
        await OutboxMessage.bulk_create(rows, using_db=conn)
    kind = (
        WebhookEventType.REFUND_REFUNDED
        if fresh.status is RefundStatus.REFUNDED
        else WebhookEventType.REFUND_FAILED
    )
    await webhooks.emit(
        kind, webhooks.refund_data(fresh, context["payment"]), at=core.clock.now(), using_db=conn
    )
