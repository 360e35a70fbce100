"""Emitting webhook events from the service layer, in the transaction of the change: the
event and its deliveries exist if and only if the change was committed (the outbox's rule).
The sender (`_sender.py`) delivers them later; no ordering is promised."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models import (
    Assignment,
    EndpointStatus,
    Event,
    Payment,
    Person,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    WebhookEventType,
)


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(12)


async def emit(
    kind: WebhookEventType,
    data: dict[str, Any],
    *,
    at: datetime,
    using_db: BaseDBAsyncClient,
    endpoints: list[WebhookEndpoint] | None = None,
) -> WebhookEvent | None:
    """Queue `kind` for every active endpoint that wants it (or for `endpoints`); nothing
    is written when none does."""
    if endpoints is None:
        active = await WebhookEndpoint.filter(status=EndpointStatus.ACTIVE).using_db(using_db)
        endpoints = [e for e in active if e.wants(kind)]
    if not endpoints:
        return None
    event = await WebhookEvent.create(
        event_id=new_event_id(), type=kind, data=data, created_at=at, using_db=using_db
    )
    await WebhookDelivery.bulk_create(
        [
            WebhookDelivery(endpoint=e, event=event, next_attempt_at=at, created_at=at)
            for e in endpoints
        ],
        using_db=using_db,
    )
    return event


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def event_data(event: Event) -> dict[str, Any]:
    return {
        "event": {
            "id": event.id,
            "title": event.title,
            "venue": event.venue,
            "starts_at": _iso(event.starts_at),
            "ends_at": _iso(event.ends_at),
            "call_at": _iso(event.call_at),
            "crew_target": event.crew_target,
            "status": event.status.value,
        }
    }


def assignment_data(assignment: Assignment, event: Event, person: Person) -> dict[str, Any]:
    return {
        "assignment": {
            "id": assignment.id,
            "status": assignment.status.value,
            "role": assignment.role,
            "responded_at": _iso(assignment.responded_at),
            "person": {"id": person.id, "name": person.name},
        },
        **event_data(event),
    }


def payment_data(payment: Payment, reason: str | None = None) -> dict[str, Any]:
    return {
        "payment": {
            "id": payment.id,
            "status": payment.status.value,
            "amount": payment.amount,  # whole shillings asked
            "paid_amount": payment.paid_amount,
            "purpose": payment.purpose,
            "mpesa_receipt": payment.receipt,
            "person_id": payment.person_id,  # type: ignore[attr-defined]
            # A success that disagrees with what was asked waits for a manager (/resolve).
            "flagged": payment.flag_reason is not None,
            "reason": reason,
        }
    }


def payout_data(
    payout_id: int, amount: int, receipt: str | None, person: Person, event: Event, version: int
) -> dict[str, Any]:
    return {
        "payout": {
            "id": payout_id,
            "amount": amount,
            "mpesa_receipt": receipt,
            "person": {"id": person.id, "name": person.name},
            "event_id": event.id,
            "pay_sheet_version": version,
        }
    }


def refund_data(refund: Any, payment: Payment) -> dict[str, Any]:
    return {
        "refund": {
            "id": refund.id,
            "payment_id": payment.id,
            "payment_receipt": payment.receipt,
            "amount": refund.amount,
            "method": refund.method.value,
            "status": refund.status.value,
            "receipt": refund.receipt,
            "reason": refund.reason,
            "error": refund.error,
        }
    }
