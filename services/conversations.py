"""Where each chat stands in a guided conversation, kept in the database so that every
instance sees it and a restart keeps it.

A chat's row holds the open flow (its name, state and what started it) and the chat's drafts.
An instance handling one of the chat's updates first claims the row (`claim`: a lease, so the
chat's next update waits, on any instance, until this one is done) and reads it; when the update
is done it writes what changed and lets go (`release`). Every write also names the version it
read: if a lease ran out and another instance wrote in between, the write is refused
(`Conflict`) rather than overwriting newer state. A flow untouched for `ttl` has expired: the
claim finds nothing open, so the next message is treated fresh. Only a step (a changed state or
draft) renews a flow; a refused answer does not.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from models import ConversationRow
from services.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(hours=2)
# A claim left by a killed process is free after this (sooner when the process restarts
# under the same owner name); an update that takes longer has its claim renewed meanwhile.
DEFAULT_LEASE = timedelta(seconds=15)
WAIT_STEP = 0.02  # seconds between looks at a row another instance holds
EMPTY = pickle.dumps({}, protocol=pickle.HIGHEST_PROTOCOL)


@dataclass(frozen=True)
class OpenFlow:
    name: str  # the ConversationHandler's name
    state: int
    started_by: str  # what the user is told when it is set aside: "/newevent"


@dataclass(frozen=True)
class Session:
    """A chat's stored conversation as read; `version` 0 means no row."""

    chat_id: int
    user_id: int
    flow: OpenFlow | None = None
    data: dict[Any, Any] = field(default_factory=dict)
    version: int = 0
    snapshot: bytes = EMPTY  # `data` as stored: handlers change the drafts in place

    @property
    def empty(self) -> bool:
        return self.flow is None and not self.data


class Conflict(Exception):
    """Another instance changed this chat's conversation since it was read."""


class ConversationStore:
    def __init__(
        self,
        clock: Clock,
        ttl: timedelta = DEFAULT_TTL,
        lease: timedelta = DEFAULT_LEASE,
        *,
        owner: str | None = None,
    ) -> None:
        if ttl <= timedelta(0) or lease <= timedelta(0):
            raise ValueError("the conversation TTL and lease must be positive")
        self.clock = clock
        self.ttl = ttl
        self.lease = lease
        # This instance, in `busy_by`: a name no other live instance has (host and HTTP
        # port), so that after a crash the restarted process takes back its own holds at
        # once instead of waiting out their lease; random when there is no such name.
        self.owner = (owner or secrets.token_hex(8))[:64]

    async def claim(self, chat_id: int, user_id: int) -> Session:
        """The chat's conversation, held for this instance until `release`; waits while
        another instance holds it (at most one lease)."""
        while True:
            now = self.clock.now()
            busy = {"busy_by": self.owner, "busy_until": now + self.lease}
            mine = ConversationRow.filter(chat_id=chat_id, user_id=user_id)
            taken = await mine.filter(busy_until__isnull=True).update(**busy)
            if not taken:
                taken = await mine.filter(busy_until__lte=now).update(**busy)
            if not taken:
                # Ours, left busy by an update whose release failed (a dropped connection):
                # this instance runs one update per chat at a time, so nothing else holds it.
                taken = await mine.filter(busy_by=self.owner).update(**busy)

            if taken:
                return await self._read(chat_id, user_id)
            if not await mine.exists():
                try:
                    await ConversationRow.create(
                        chat_id=chat_id,
                        user_id=user_id,
                        data=EMPTY,
                        updated_at=now,
                        expires_at=now + self.ttl,
                        busy_by=self.owner,
                        busy_until=now + self.lease,
                    )
                except IntegrityError:
                    continue  # another instance claimed it first: wait for it
                return Session(chat_id, user_id, version=1)
            await asyncio.sleep(WAIT_STEP)  # another instance is handling this chat

    async def renew(self, chat_id: int, user_id: int) -> None:
        """Extend this instance's hold on the chat (an update still being handled)."""
        await ConversationRow.filter(chat_id=chat_id, user_id=user_id, busy_by=self.owner).update(
            busy_until=self.clock.now() + self.lease
        )

    async def _read(self, chat_id: int, user_id: int) -> Session:
        row = await ConversationRow.get(chat_id=chat_id, user_id=user_id)
        if row.expires_at <= self.clock.now():
            if row.flow is not None or row.data != EMPTY:
                log.info("conversation in chat %s expired (%s)", chat_id, row.flow or "drafts")
            return Session(chat_id, user_id, version=row.version, snapshot=b"expired")
        try:
            data = pickle.loads(row.data)  # our own rows, written by release()
        except (pickle.UnpicklingError, AttributeError, ImportError, EOFError) as exc:
            # Written by a version whose draft classes have since changed: start fresh.
            log.warning("conversation in chat %s unreadable, dropped: %r", chat_id, exc)
            return Session(chat_id, user_id, version=row.version, snapshot=b"unreadable")
        flow = None
        if row.flow is not None and row.state is not None:
            flow = OpenFlow(row.flow, row.state, row.started_by or row.flow)
        return Session(chat_id, user_id, flow, dict(data), row.version, row.data)

    async def release(self, read: Session, flow: OpenFlow | None, data: dict[Any, Any]) -> None:
        """Stores what the chat has now (`read` is what the update started from) and lets the
        chat's next update go ahead. A chat with nothing to remember keeps no row."""
        mine = ConversationRow.filter(
            chat_id=read.chat_id, user_id=read.user_id, version=read.version
        )
        if flow is None and not data:
            if not await mine.delete():
                raise Conflict(f"chat {read.chat_id}'s conversation changed elsewhere")
            return
        free: dict[str, Any] = {"busy_by": None, "busy_until": None}
        snapshot = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        if flow == read.flow and snapshot == read.snapshot:
            changed = await mine.filter(busy_by=self.owner).update(**free)
        else:
            now = self.clock.now()
            changed = await mine.update(
                flow=flow.name if flow else None,
                state=flow.state if flow else None,
                started_by=flow.started_by if flow else None,
                data=snapshot,
                version=read.version + 1,
                updated_at=now,
                expires_at=now + self.ttl,
                **free,
            )
        if not changed:
            raise Conflict(f"chat {read.chat_id}'s conversation changed elsewhere")

    async def forget_expired(self) -> int:
        """Deletes expired rows no instance is handling an update for."""
        now = self.clock.now()
        idle = await ConversationRow.filter(expires_at__lte=now, busy_until__isnull=True).delete()
        left = await ConversationRow.filter(expires_at__lte=now, busy_until__lte=now).delete()
        return idle + left
