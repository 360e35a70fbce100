"""Outbound webhooks: the endpoints managers add, the events we emit, one delivery per event
and endpoint, and every attempt at it (the delivery log). Times are aware UTC."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.models import Model

ALL_EVENTS = "*"  # an endpoint that wants every event


class WebhookEventType(StrEnum):
    """What happened; an endpoint subscribes to some of these, or to all (`*`)."""

    ASSIGNMENT_CONFIRMED = "assignment.confirmed"
    ASSIGNMENT_DECLINED = "assignment.declined"
    EVENT_CREATED = "event.created"
    EVENT_CANCELLED = "event.cancelled"
    PAYMENT_COMPLETED = "payment.completed"
    PAYMENT_FAILED = "payment.failed"  # failed, cancelled by the payer or timed out
    PAYOUT_PAID = "payout.paid"
    REFUND_REFUNDED = "refund.refunded"
    REFUND_FAILED = "refund.failed"
    WEBHOOK_TEST = "webhook.test"  # /webhooks test: to one endpoint, never subscribed to

    @classmethod
    def subscribable(cls) -> list[WebhookEventType]:
        return [t for t in cls if t is not cls.WEBHOOK_TEST]


class EndpointStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"  # failing for WEBHOOK_GIVE_UP: nothing more is sent to it


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its next attempt
    SENDING = "sending"  # claimed by a sender until lease_until
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # given up: 3 days of failures, or its endpoint was disabled


class WebhookEndpoint(Model):
    id = fields.IntField(primary_key=True)
    url = fields.CharField(max_length=500)
    events = fields.CharField(max_length=500)  # comma list of WebhookEventType, or "*"
    # The signing secret has to be read back to sign each delivery, so unlike a link
    # token it cannot be kept as a hash. It is shown once, when the endpoint is added, and
    # never logged, listed or audited.
    secret = fields.CharField(max_length=100)
    status = fields.CharEnumField(EndpointStatus, max_length=16, default=EndpointStatus.ACTIVE)
    created_by: fields.ForeignKeyNullableRelation[Any] = fields.ForeignKeyField(
        "models.Person", related_name="webhook_endpoints", null=True, on_delete=fields.SET_NULL
    )
    failing_since = fields.DatetimeField(null=True)  # first failure since the last success
    disabled_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_endpoint"

    def __str__(self) -> str:  # never the secret
        return f"webhook #{self.id}"

    @property
    def event_list(self) -> list[str]:
        return [e for e in self.events.split(",") if e]

    def wants(self, kind: WebhookEventType) -> bool:
        return self.events == ALL_EVENTS or kind.value in self.event_list


class WebhookEvent(Model):
    """One thing that happened, as receivers see it. Its event_id is the same on every retry
    and for every endpoint, so receivers can deduplicate on it."""

    id = fields.BigIntField(primary_key=True)
    event_id = fields.CharField(max_length=40, unique=True)  # evt_<hex>
    type = fields.CharEnumField(WebhookEventType, max_length=40)
    data: Any = fields.JSONField()
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_event"


class WebhookDelivery(Model):
    """One event to one endpoint, retried with backoff until delivered or given up."""

    id = fields.BigIntField(primary_key=True)
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="deliveries", on_delete=fields.CASCADE
    )
    event: fields.ForeignKeyRelation[WebhookEvent] = fields.ForeignKeyField(
        "models.WebhookEvent", related_name="deliveries", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)  # also the claim's fencing token
    next_attempt_at = fields.DatetimeField()
    lease_until = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=500, null=True)
    done_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField()

    class Meta:
        table = "webhook_delivery"
        indexes = (("status", "next_attempt_at"),)


class WebhookAttempt(Model):
    """One POST and what came of it: a line of the delivery log of an endpoint."""

    id = fields.BigIntField(primary_key=True)
    delivery: fields.ForeignKeyRelation[WebhookDelivery] = fields.ForeignKeyField(
        "models.WebhookDelivery", related_name="tries", on_delete=fields.CASCADE
    )
    endpoint: fields.ForeignKeyRelation[WebhookEndpoint] = fields.ForeignKeyField(
        "models.WebhookEndpoint", related_name="attempts", on_delete=fields.CASCADE
    )
    at = fields.DatetimeField()
    status_code = fields.IntField(null=True)  # None: no HTTP answer (see error)
    error = fields.CharField(max_length=500, null=True)
    next_try_at = fields.DatetimeField(null=True)  # None: delivered or given up

    class Meta:
        table = "webhook_attempt"
        indexes = (("endpoint_id", "id"),)
