"""The Daraja client's collaborators backed by the database: the shared token and the audit log."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import weakref
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import BaseORMException, IntegrityError
from tortoise.transactions import in_transaction

from models import DarajaExchange as ExchangeRow
from models import ServiceToken
from services.daraja import DarajaExchange, TokenFetch

log = logging.getLogger(__name__)

DARAJA_TOKEN = "daraja"

# The payment a Daraja call is made for, so its audit rows point at it.
_current_payment: ContextVar[int | None] = ContextVar("daraja_payment", default=None)


@contextlib.contextmanager
def exchanges_for(payment_id: int) -> Iterator[None]:
    reset = _current_payment.set(payment_id)
    try:
        yield
    finally:
        _current_payment.reset(reset)


class DbTokenStore:
    """One token row shared by every instance.

    On PostgreSQL the row is locked (SELECT … FOR UPDATE) while a token is fetched, so two
    instances never fetch at once (a second fetch would invalidate the first token). SQLite
    serves one process: an asyncio lock does the same there.
    """

    def __init__(self, name: str = DARAJA_TOKEN) -> None:
        self.name = name
        self.fetches = 0

    async def get_valid(self, now: datetime) -> str | None:
        row = await ServiceToken.get_or_none(name=self.name)
        if row is None:
            return None
        return _usable(row, now)

    async def refresh(self, fetch: TokenFetch, stale_token: str | None, now: datetime) -> str:
        async with _process_lock(self.name):
            with contextlib.suppress(IntegrityError):
                await ServiceToken.get_or_create(name=self.name, defaults={"updated_at": now})
            if connections.get("default").capabilities.dialect != "postgres":
                # SQLite: one process, and a transaction would block every other query.
                row = await ServiceToken.get(name=self.name)
                return await self._replace(row, fetch, stale_token, now, None)
            async with in_transaction() as conn:
                row = (
                    await ServiceToken.filter(name=self.name)
                    .select_for_update()
                    .using_db(conn)
                    .get()
                )
                return await self._replace(row, fetch, stale_token, now, conn)

    async def _replace(
        self,
        row: ServiceToken,
        fetch: TokenFetch,
        stale_token: str | None,
        now: datetime,
        conn: BaseDBAsyncClient | None,
    ) -> str:
        current = _usable(row, now)
        if current is not None and current != stale_token:
            return current  # another instance replaced it while we waited
        token, usable_until = await fetch()
        self.fetches += 1
        row.token, row.expires_at, row.updated_at = token, usable_until, now
        await row.save(using_db=conn, update_fields=["token", "expires_at", "updated_at"])
        return token


_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def _process_lock(name: str) -> asyncio.Lock:
    """One lock per token name for every store in this process (and event loop)."""
    per_loop = _locks.setdefault(asyncio.get_running_loop(), {})
    return per_loop.setdefault(name, asyncio.Lock())


def _usable(row: ServiceToken, now: datetime) -> str | None:
    if row.token and row.expires_at is not None and now < row.expires_at:
        return row.token
    return None


class DbAuditSink:
    """Writes every exchange (already redacted by the client) as a DarajaExchange row."""

    async def record(self, exchange: DarajaExchange) -> None:
        try:
            await ExchangeRow.create(
                operation=exchange.operation,
                started_at=exchange.started_at,
                duration_ms=exchange.duration_ms,
                method=exchange.method,
                url=exchange.url[:300],
                request_body=exchange.request_body,
                status_code=exchange.status,
                response_body=None
                if exchange.response_body is None
                else json.dumps(exchange.response_body, ensure_ascii=False, default=str),
                error=exchange.error[:500] if exchange.error else None,
                payment_id=_current_payment.get(),
            )
        except (BaseORMException, OSError):
            # A lost audit row must not lose the CheckoutRequestID the caller is waiting for.
            log.exception("could not store the Daraja %s exchange", exchange.operation)
