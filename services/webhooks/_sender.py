"""The webhook sender: the background loop that POSTs due deliveries, signed, and records
each attempt. Every instance runs one; the claims (`_claims.py`) keep two from sending the
same attempt at once. A failed attempt is retried with backoff for WEBHOOK_GIVE_UP after the
event; an endpoint failing that long is disabled and every manager is told."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta

import httpx
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import (
    Access,
    AuditAction,
    DeliveryStatus,
    EndpointStatus,
    NotificationKind,
    Person,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from services import audit
from services.clock import Clock
from services.notifications import Notifier
from services.outbox import Outbox
from services.webhooks import _claims
from services.webhooks._addresses import resolve
from services.webhooks._errors import AddressRefused
from services.webhooks._signing import HEADER, signature
from services.worker import Failure, Worker, describe, isolated

log = logging.getLogger(__name__)

# After the 1st, 2nd, … failed attempt; then every 12 hours until GIVE_UP.
RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
)
LATER_DELAY = timedelta(hours=12)
GIVE_UP = timedelta(days=3)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)
NOT_SENT_DISABLED = "not sent: the webhook was turned off after 3 days of failures"


def build_http() -> httpx.AsyncClient:
    """No redirects (one could lead to a private address) and no kept connections: each POST
    goes to the address just checked, with its own host's TLS name."""
    return httpx.AsyncClient(
        timeout=TIMEOUT,
        follow_redirects=False,
        limits=httpx.Limits(max_keepalive_connections=0),
        headers={"User-Agent": "Callsheet-Webhooks/1"},
    )


def next_try(created_at: datetime, attempts: int, now: datetime) -> datetime | None:
    """When to try a delivery again after its `attempts`-th failure; None: give up."""
    deadline = created_at + GIVE_UP
    if now >= deadline:
        return None
    delay = RETRY_DELAYS[attempts - 1] if attempts <= len(RETRY_DELAYS) else LATER_DELAY
    return min(now + delay, deadline)


def body_of(event: WebhookEvent) -> bytes:
    payload = {
        "id": event.event_id,
        "type": event.type.value,
        "created": int(event.created_at.timestamp()),
        "data": event.data,
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class WebhookSender(Worker):
    name = "webhooks"

    def __init__(
        self,
        http: httpx.AsyncClient,
        notifier: Notifier,
        outbox: Outbox,
        clock: Clock,
        *,
        allow_private: bool,
        batch: int = 20,
        poll_seconds: float = 1.0,
    ) -> None:
        super().__init__(idle_seconds=poll_seconds)
        self.http = http
        self.notifier = notifier
        self.outbox = outbox
        self.clock = clock
        self.allow_private = allow_private
        self.batch = batch
        self.recorded = 0  # attempts recorded by this sender, for operators and tests
        self.changed = asyncio.Condition()  # notified after each recorded attempt

    async def round(self) -> int:
        rows = await _claims.claim(self.clock.now(), self.batch)
        if not rows:
            return 0
        in_flight = list(rows)
        endpoints = {
            e.id: e
            for e in await WebhookEndpoint.filter(id__in={r.endpoint_id for r in rows})  # type: ignore[attr-defined]
        }
        events = {
            e.id: e
            for e in await WebhookEvent.filter(id__in={r.event_id for r in rows})  # type: ignore[attr-defined]
        }

        async def one(row: WebhookDelivery) -> None:
            endpoint = endpoints.get(row.endpoint_id)  # type: ignore[attr-defined]
            event = events.get(row.event_id)  # type: ignore[attr-defined]
            if endpoint is not None and event is not None:  # else removed meanwhile
                done = await isolated(
                    f"webhook delivery {row.id}", lambda: self._deliver(row, endpoint, event)
                )
                if isinstance(done, Failure):
                    await isolated(
                        f"webhook delivery {row.id} outcome",
                        lambda: self._record(row, endpoint, None, done.text()),
                    )
            in_flight.remove(row)

        try:
            async with asyncio.TaskGroup() as group:
                for row in rows:
                    group.create_task(one(row))
        except BaseException:
            # Cancelled (shutdown): hand back what was not finished, at once.
            await asyncio.shield(_claims.release(in_flight, self.clock.now()))
            raise
        return len(rows)

    async def _deliver(
        self, row: WebhookDelivery, endpoint: WebhookEndpoint, event: WebhookEvent
    ) -> None:
        body = body_of(event)
        code: int | None = None
        try:
            # Checked again now: the host may resolve elsewhere than when it was added.
            target = await resolve(endpoint.url, allow_private=self.allow_private)
            signed = signature(endpoint.secret, int(self.clock.now().timestamp()), body)
            response = await self.http.post(
                target.pinned_url(),
                content=body,
                headers={
                    "Host": target.host_header,
                    "Content-Type": "application/json",
                    HEADER: signed,
                },
                extensions={"sni_hostname": target.host},
            )
            code = response.status_code
            error = None if 200 <= code < 300 else f"HTTP {code}"
        except AddressRefused as exc:
            error = str(exc)
        except httpx.HTTPError as exc:
            error = describe(exc)
        log.info(
            "webhook delivery %s (event %s to webhook %s) attempt %s: %s",
            row.id,
            event.event_id,
            endpoint.id,
            row.attempts,
            error or code,
        )
        await self._record(row, endpoint, code, error)

    async def _record(
        self, row: WebhookDelivery, endpoint: WebhookEndpoint, code: int | None, error: str | None
    ) -> None:
        now = self.clock.now()
        disabled = False
        async with in_transaction() as conn:
            later = None if error is None else next_try(row.created_at, row.attempts, now)
            status = (
                DeliveryStatus.DELIVERED
                if error is None
                else DeliveryStatus.PENDING
                if later is not None
                else DeliveryStatus.FAILED
            )
            updated = (
                await WebhookDelivery.filter(_claims.mine(row))
                .using_db(conn)
                .update(
                    status=status,
                    lease_until=None,
                    next_attempt_at=later or row.next_attempt_at,
                    last_error=error,
                    done_at=None if later is not None else now,
                )
            )
            if updated:  # else the lease ran out, or the webhook was removed meanwhile
                await WebhookAttempt.create(
                    delivery_id=row.id,
                    endpoint_id=endpoint.id,
                    at=now,
                    status_code=code,
                    error=error,
                    next_try_at=later,
                    using_db=conn,
                )
                mine = WebhookEndpoint.filter(id=endpoint.id).using_db(conn)
                if error is None:
                    # Working again (a delivered test turns a disabled webhook back on).
                    await mine.update(
                        status=EndpointStatus.ACTIVE, failing_since=None, disabled_at=None
                    )
                else:
                    await mine.filter(failing_since=None).update(failing_since=now)
                    disabled = await self._disable_if_failing(endpoint.id, error, now, conn)
        if disabled:
            self.outbox.wake()
        async with self.changed:
            self.recorded += 1
            self.changed.notify_all()

    async def _disable_if_failing(
        self, endpoint_id: int, error: str, now: datetime, conn: BaseDBAsyncClient
    ) -> bool:
        turned_off = (
            await WebhookEndpoint.filter(
                id=endpoint_id, status=EndpointStatus.ACTIVE, failing_since__lte=now - GIVE_UP
            )
            .using_db(conn)
            .update(status=EndpointStatus.DISABLED, disabled_at=now)
        )
        if not turned_off:
            return False
        endpoint = await WebhookEndpoint.filter(id=endpoint_id).using_db(conn).get()
        await (
            WebhookDelivery.filter(endpoint_id=endpoint_id, status=DeliveryStatus.PENDING)
            .using_db(conn)
            .update(status=DeliveryStatus.FAILED, last_error=NOT_SENT_DISABLED, done_at=now)
        )
        await audit.record(
            AuditAction.WEBHOOK_DISABLED,
            "webhook",
            endpoint_id,
            at=now,
            details={"url": endpoint.url, "last_error": error},
            using_db=conn,
        )
        managers = await Person.filter(access=Access.MANAGER, active=True).using_db(conn)
        context = {"endpoint": endpoint, "error": error, "now": now}
        for manager in managers:
            await self.notifier.notify(
                manager,
                NotificationKind.WEBHOOK_DISABLED,
                context,
                dedupe_key=f"webhook-off:{endpoint_id}:{int(now.timestamp())}:{manager.id}",
                using_db=conn,
            )
        log.warning("webhook %s disabled after 3 days of failures: %s", endpoint_id, error)
        return True
