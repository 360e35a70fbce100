"""Where each chat stands in a guided conversation, kept in the database so that every
instance sees it and a restart keeps it.

A chat's row holds the open flow (its name, state and what started it) and the chat's drafts.
It is read when an update arrives and written, only if something changed, when the update is
done. Every write names the version it read: if another instance wrote in between, the write is
refused (`Conflict`) rather than overwriting newer state. A row untouched for `ttl` is expired:
reading it deletes it and answers "nothing open", so the next message is treated fresh.
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from tortoise.exceptions import IntegrityError

from models import ConversationRow
from services.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(hours=2)


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
    snapshot: bytes = b""  # `data` as stored: handlers change the drafts in place

    @property
    def empty(self) -> bool:
        return self.flow is None and not self.data


class Conflict(Exception):
    """Another instance changed this chat's conversation since it was read."""


class ConversationStore:
    def __init__(self, clock: Clock, ttl: timedelta = DEFAULT_TTL) -> None:
        if ttl <= timedelta(0):
            raise ValueError("the conversation TTL must be positive")
        self.clock = clock
        self.ttl = ttl

    async def load(self, chat_id: int, user_id: int) -> Session:
        row = await ConversationRow.get_or_none(chat_id=chat_id, user_id=user_id)
        if row is None:
            return Session(chat_id, user_id)
        if row.expires_at <= self.clock.now():
            await ConversationRow.filter(id=row.id, version=row.version).delete()
            log.info("conversation in chat %s expired (%s)", chat_id, row.flow or "drafts only")
            return Session(chat_id, user_id)
        try:
            data = pickle.loads(row.data)  # our own rows, written by save()
        except (pickle.UnpicklingError, AttributeError, ImportError, EOFError) as exc:
            # Written by a version whose draft classes have since changed: start fresh.
            log.warning("conversation in chat %s unreadable, dropped: %r", chat_id, exc)
            await ConversationRow.filter(id=row.id, version=row.version).delete()
            return Session(chat_id, user_id)
        flow = None
        if row.flow is not None and row.state is not None:
            flow = OpenFlow(row.flow, row.state, row.started_by or row.flow)
        return Session(chat_id, user_id, flow, dict(data), row.version, row.data)

    async def save(self, read: Session, flow: OpenFlow | None, data: dict[Any, Any]) -> Session:
        """Stores what the chat has now (nothing, when nothing changed); `read` is what the
        update started from."""
        if flow is None and not data:
            await self._delete(read)
            return Session(read.chat_id, read.user_id)
        snapshot = pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL)
        if read.version and flow == read.flow and snapshot == read.snapshot:
            return read
        now = self.clock.now()
        values: dict[str, Any] = {
            "flow": flow.name if flow else None,
            "state": flow.state if flow else None,
            "started_by": flow.started_by if flow else None,
            "data": snapshot,
            "updated_at": now,
            "expires_at": now + self.ttl,
        }
        if read.version == 0:
            try:
                await ConversationRow.create(chat_id=read.chat_id, user_id=read.user_id, **values)
            except IntegrityError as exc:
                raise Conflict(f"chat {read.chat_id} started a conversation elsewhere") from exc
            version = 1
        else:
            version = read.version + 1
            changed = await ConversationRow.filter(
                chat_id=read.chat_id, user_id=read.user_id, version=read.version
            ).update(version=version, **values)
            if not changed:
                raise Conflict(f"chat {read.chat_id}'s conversation changed elsewhere")
        return Session(read.chat_id, read.user_id, flow, dict(data), version, snapshot)

    async def _delete(self, read: Session) -> None:
        if read.version == 0:
            return
        deleted = await ConversationRow.filter(
            chat_id=read.chat_id, user_id=read.user_id, version=read.version
        ).delete()
        if not deleted:
            raise Conflict(f"chat {read.chat_id}'s conversation changed elsewhere")

    async def forget_expired(self) -> int:
        return await ConversationRow.filter(expires_at__lte=self.clock.now()).delete()
