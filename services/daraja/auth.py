"""Daraja's OAuth access token: fetched with the consumer key, shared through a store.

Daraja invalidates the previous token whenever a new one is issued, so every
client (and every running instance) shares one token through a `TokenStore`
and fetches a new one only when it is missing, expired or refused.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import re
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Protocol

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import ServiceToken
from services.clock import Clock
from services.daraja._config import DarajaConfig
from services.daraja._errors import (
    DarajaAuthError,
    DarajaProtocolError,
    DarajaUnavailable,
    DarajaUnknownOutcome,
)
from services.daraja._transport import Transport, error_fields

logger = logging.getLogger(__name__)

DARAJA_TOKEN = "daraja"

TokenFetch = Callable[[], Awaitable[tuple[str, datetime]]]


class TokenStore(Protocol):
    """The one Daraja access token shared by every running instance.

    Daraja invalidates the previous token whenever a new one is issued, so
    instances must not fetch concurrently. A database implementation: in
    `refresh`, lock the token row (SELECT … FOR UPDATE); if the row holds a
    token that is not `stale_token` and is still valid at `now`, someone else
    already replaced it: return theirs; otherwise call `fetch`, store its
    (token, usable_until) and return the token.
    """

    async def get_valid(self, now: datetime) -> str | None:
        """The stored token if it is usable at `now`."""
        ...

    async def refresh(self, fetch: TokenFetch, stale_token: str | None, now: datetime) -> str:
        """Replace `stale_token` (or a missing/expired token) with a fresh one, once."""
        ...


class InMemoryTokenStore:
    """For one process (tests, the demo); shared by every client built with it."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._token: str | None = None
        self._usable_until: datetime | None = None
        self.fetches = 0

    async def get_valid(self, now: datetime) -> str | None:
        if self._token and self._usable_until and now < self._usable_until:
            return self._token
        return None

    async def refresh(self, fetch: TokenFetch, stale_token: str | None, now: datetime) -> str:
        async with self._lock:
            current = await self.get_valid(now)
            if current is not None and current != stale_token:
                return current
            token, usable_until = await fetch()
            self.fetches += 1
            self._token, self._usable_until = token, usable_until
            return token


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


class Tokens:
    """The access token a client sends: the shared one, or a fresh one fetched once."""

    def __init__(
        self, transport: Transport, config: DarajaConfig, store: TokenStore, clock: Clock
    ) -> None:
        self._transport = transport
        self._config = config
        self._store = store
        self._clock = clock

    async def current(self) -> str:
        token = await self._store.get_valid(self._clock.now())
        if token is None:
            token = await self._store.refresh(self._fetch, None, self._clock.now())
        self._transport.remember(token)
        return token

    async def fresh(self, stale: str) -> str:
        """A token other than `stale`, which Daraja refused."""
        token = await self._store.refresh(self._fetch, stale, self._clock.now())
        self._transport.remember(token)
        return token

    async def _fetch(self) -> tuple[str, datetime]:
        credentials = f"{self._config.consumer_key}:{self._config.consumer_secret}"
        basic = base64.b64encode(credentials.encode()).decode("ascii")
        issued_at = self._clock.now()
        try:
            reply = await self._transport.exchange(
                "oauth",
                "GET",
                "/oauth/v1/generate?grant_type=client_credentials",
                headers={"Authorization": f"Basic {basic}"},
                body=None,
            )
        except DarajaUnknownOutcome as exc:
            raise DarajaUnavailable(f"could not get a Daraja token: {exc}") from exc
        answer = reply.body
        error = error_fields(answer)
        if error is not None or reply.status != 200:
            code, message, request_id = error or (f"HTTP {reply.status}", "no error body", "")
            raise DarajaAuthError(
                http_status=reply.status,
                error_code=code,
                error_message=message,
                request_id=request_id,
            )
        if not isinstance(answer, dict):
            raise DarajaProtocolError("the token reply is not a JSON object")
        token, expires_in = answer.get("access_token"), answer.get("expires_in")
        if not isinstance(token, str) or not token:
            raise DarajaProtocolError("the token reply has no access_token")
        # It goes into an Authorization header: anything else would fail there instead.
        if not re.fullmatch(r"[\x21-\x7e]{1,2048}", token):
            raise DarajaProtocolError("the token reply's access_token is not a header-safe token")
        try:
            lifetime = float(str(expires_in)) if not isinstance(expires_in, bool) else None
        except ValueError:
            lifetime = None
        if lifetime is None or not 0 < lifetime < 10**7:
            raise DarajaProtocolError(f"the token reply has expires_in {expires_in!r}")
        margin = min(self._config.token_margin.total_seconds(), lifetime / 2)
        self._transport.remember(token)
        logger.info("Daraja token issued, expires in %ds", int(lifetime))
        return token, issued_at + timedelta(seconds=lifetime - margin)
