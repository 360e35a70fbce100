"""/webhooks: add, list, remove, test and the delivery log, for managers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tortoise.transactions import in_transaction

from models import (
    ALL_EVENTS,
    AuditAction,
    Person,
    WebhookAttempt,
    WebhookEndpoint,
    WebhookEventType,
)
from services import audit
from services.clock import Clock
from services.errors import require_manager
from services.webhooks._addresses import resolve
from services.webhooks._emit import emit
from services.webhooks._errors import InvalidWebhook, WebhookNotFound
from services.webhooks._signing import new_secret

LOG_LINES = 10  # attempts shown by /webhooks log
USAGE = "/webhooks add https://example.com/hook | payment.completed, event.created"


@dataclass(frozen=True)
class Added:
    endpoint: WebhookEndpoint
    secret: str  # shown this once


@dataclass(frozen=True)
class EndpointLog:
    endpoint: WebhookEndpoint
    attempts: list[WebhookAttempt]  # newest first


def valid_events() -> str:
    return ", ".join(t.value for t in WebhookEventType.subscribable())


def parse_events(text: str) -> str:
    """A comma list of event names, or `*`, as stored; unknown names refused."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise InvalidWebhook(
            f"Say which events to send after the |, or * for all. Events: {valid_events()}."
        )
    if names == [ALL_EVENTS]:
        return ALL_EVENTS
    known = {t.value for t in WebhookEventType.subscribable()}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InvalidWebhook(
            f"Unknown event{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Events: {valid_events()}, or * for all."
        )
    return ",".join(dict.fromkeys(names))


def parse_id(text: str, doing: str) -> int:
    cleaned = text.strip().removeprefix("#")
    if not cleaned.isdigit() or len(cleaned) > 9:
        raise InvalidWebhook(
            f"Which webhook? Send /webhooks {doing} and its number, for example "
            f"/webhooks {doing} 3 (/webhooks lists them)."
        )
    return int(cleaned)


class WebhookService:
    def __init__(self, clock: Clock, *, allow_private: bool) -> None:
        self.clock = clock
        self.allow_private = allow_private

    async def add(self, actor: Person | None, text: str, *, chat_id: int | None) -> Added:
        """`<url> | <events>`: checked whole (the address resolved) before anything is saved."""
        manager = require_manager(actor, "manage webhooks")
        url, bar, events_text = text.partition("|")
        if not bar or not url.strip():
            raise InvalidWebhook(f"Send the address, a |, then the events: {USAGE}")
        events = parse_events(events_text)
        target = await resolve(url, allow_private=self.allow_private)
        now = self.clock.now()
        secret = new_secret()
        async with in_transaction() as conn:
            endpoint = await WebhookEndpoint.create(
                url=target.url,
                events=events,
                secret=secret,
                created_by=manager,
                created_at=now,
                using_db=conn,
            )
            await audit.record(
                AuditAction.WEBHOOK_ADDED,
                "webhook",
                endpoint.id,
                at=now,
                actor=manager,
                chat_id=chat_id,
                details={"url": endpoint.url, "events": events},
                using_db=conn,
            )
        return Added(endpoint, secret)

    async def endpoints(self, actor: Person | None) -> list[WebhookEndpoint]:
        require_manager(actor, "manage webhooks")
        return list(await WebhookEndpoint.all().order_by("id"))

    async def _get(self, endpoint_id: int) -> WebhookEndpoint:
        endpoint = await WebhookEndpoint.get_or_none(id=endpoint_id)
        if endpoint is None:
            raise WebhookNotFound(f"There is no webhook #{endpoint_id}. /webhooks lists them.")
        return endpoint

    async def remove(self, actor: Person | None, text: str, *, chat_id: int | None) -> int:
        manager = require_manager(actor, "manage webhooks")
        endpoint = await self._get(parse_id(text, "remove"))
        now = self.clock.now()
        async with in_transaction() as conn:
            # Its deliveries and their log go with it (ON DELETE CASCADE).
            await WebhookEndpoint.filter(id=endpoint.id).using_db(conn).delete()
            await audit.record(
                AuditAction.WEBHOOK_REMOVED,
                "webhook",
                endpoint.id,
                at=now,
                actor=manager,
                chat_id=chat_id,
                details={"url": endpoint.url},
                using_db=conn,
            )
        return endpoint.id

    async def test(self, actor: Person | None, text: str) -> WebhookEndpoint:
        """Queue a `webhook.test` event for this endpoint alone (a disabled one too)."""
        manager = require_manager(actor, "manage webhooks")
        endpoint = await self._get(parse_id(text, "test"))
        now = self.clock.now()
        async with in_transaction() as conn:
            await emit(
                WebhookEventType.WEBHOOK_TEST,
                {"webhook_id": endpoint.id, "sent_by": manager.name},
                at=now,
                using_db=conn,
                endpoints=[endpoint],
            )
        return endpoint

    async def log(self, actor: Person | None, text: str, doing: str = "log") -> EndpointLog:
        require_manager(actor, "manage webhooks")
        endpoint = await self._get(parse_id(text, doing))
        attempts = await (
            WebhookAttempt.filter(endpoint_id=endpoint.id)
            .order_by("-id")
            .limit(LOG_LINES)
            .prefetch_related("delivery__event")
        )
        return EndpointLog(endpoint, list(attempts))

    def now(self) -> datetime:
        return self.clock.now()
