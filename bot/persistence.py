"""Guided conversations shared by every instance: PTB's ConversationHandlers keep their state in
memory, so each update first loads its chat's stored conversation (services/conversations.py)
into them, and writes back what changed before the next update of that chat is processed (the
store holds the chat for one instance meanwhile: the chat's next update waits for it).

PTB's own persistence (BasePersistence) is not used: it loads conversations once at start-up
and flushes on an interval, so another instance's newer state would be overwritten by an old
flush. Here the database is read per update and every write is checked against the version
read.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from telegram import Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import Application, ConversationHandler, ExtBot

from bot.context import BotData, CallsheetContext
from handlers.events._common import Typed
from handlers.people._views import Step as PersonStep
from models.errors import DATABASE_UNAVAILABLE
from services.conversations import Conflict, ConversationStore, OpenFlow, Session

log = logging.getLogger(__name__)

Key = tuple[int, int]

# What a flow started by a button is called when it is set aside ("Your edit was set aside."),
# by its name or by its name and state; a flow started by a command is called by its command.
TITLES: dict[str | tuple[str, int], str] = {
    "people": "person form",
    ("people", PersonStep.EDIT_VALUE): "edit",
    "typed": "edit",
    ("typed", Typed.BRIEF_TEXT): "briefing",
    "payment-batch": "payment request",
    "attach": "attachment",
}


def title(name: str, state: int) -> str:
    return TITLES.get((name, state)) or TITLES.get(name) or name


def chat_key(update: object) -> Key | None:
    """The conversation key PTB uses (per chat and user) for a private chat's update."""
    if not isinstance(update, Update):
        return None
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None or chat.type != ChatType.PRIVATE:
        return None
    return chat.id, user.id


def command_of(update: Update) -> str | None:
    message = update.message
    if message is None or not message.text or not message.text.startswith("/"):
        return None
    return message.text.split()[0].split("@")[0]


class SharedConversationsApplication(
    Application[ExtBot[Any], CallsheetContext, dict[Any, Any], dict[Any, Any], BotData, Any]
):
    """The Application `bot.app.build_application` builds; `conversations` is set at start-up."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conversations: ConversationStore | None = None
        self._chat_locks: defaultdict[Key, asyncio.Lock] = defaultdict(asyncio.Lock)

    def _flows(self) -> dict[str, ConversationHandler[Any]]:
        flows: dict[str, ConversationHandler[Any]] = {}
        for handlers in self.handlers.values():
            for handler in handlers:
                if isinstance(handler, ConversationHandler) and handler.name:
                    flows[handler.name] = handler
        return flows

    async def process_update(self, update: object) -> None:
        try:
            await self._process(update)
        finally:
            # What the handlers queued is committed by now: send it at once rather than at
            # the dispatchers' next poll (a pay sheet's page turn waited up to a second).
            self.bot_data.wake_outbox()

    async def _process(self, update: object) -> None:
        key = chat_key(update)
        if key is None or self.conversations is None:
            await super().process_update(update)
            return

        assert isinstance(update, Update)
        async with self._one_at_a_time(key):
            store = self.conversations
            try:
                session = await store.claim(*key)
            except DATABASE_UNAVAILABLE:
                log.exception("conversation of chat %s not loaded; update handled without", key[0])
                await super().process_update(update)
                return
            flows = self._flows()
            self._install(key, session, flows)
            if session.flow is not None and self._sets_aside(update, session.flow, flows):
                flows[session.flow.name]._conversations.pop(key, None)
                await self._tell_set_aside(key[0], session.flow)
            renewing = asyncio.create_task(self._keep_holding(store, key))
            try:
                await super().process_update(update)
            finally:
                renewing.cancel()
                await self._write_back(key, update, session, flows)

    @staticmethod
    async def _keep_holding(store: ConversationStore, key: Key) -> None:
        """Renew the chat's hold while its update runs longer than a third of the lease."""
        every = store.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(every)
            try:
                await store.renew(*key)
            except DATABASE_UNAVAILABLE:
                log.warning("hold on chat %s not renewed; tried again", key[0])

    @asynccontextmanager
    async def _one_at_a_time(self, key: Key) -> AsyncIterator[None]:
        """A chat's updates on this instance run one after another, as the form expects."""
        lock = self._chat_locks[key]
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and not getattr(lock, "_waiters", None):
                self._chat_locks.pop(key, None)

    def _install(
        self, key: Key, session: Session, flows: dict[str, ConversationHandler[Any]]
    ) -> None:
        for name, handler in flows.items():
            handler._conversations.pop(key, None)
            if session.flow is not None and session.flow.name == name:
                handler._conversations[key] = session.flow.state
        drafts = self._user_data[key[1]]
        drafts.clear()
        drafts.update(session.data)

    @staticmethod
    def _sets_aside(
        update: Update, flow: OpenFlow, flows: dict[str, ConversationHandler[Any]]
    ) -> bool:
        """A command the open flow does not take itself (/cancel, a re-entry) replaces it."""
        handler = flows.get(flow.name)
        if handler is None or command_of(update) is None:
            return False
        return not handler.check_update(update)

    async def _tell_set_aside(self, chat_id: int, flow: OpenFlow) -> None:
        text = self.bot_data.services.notifier.renderer.reply(
            "conversations/set_aside", {"started_by": flow.started_by}
        )
        try:
            await self.bot.send_message(chat_id, text)
        except TelegramError as exc:
            log.warning("chat %s not told its %s was set aside: %s", chat_id, flow.name, exc)

    async def _write_back(
        self,
        key: Key,
        update: Update,
        session: Session,
        flows: dict[str, ConversationHandler[Any]],
    ) -> None:
        holders = [h for h in flows.values() if isinstance(h._conversations.get(key), int)]
        old = session.flow
        if len(holders) > 1 and old is not None:  # a button started another flow
            flows[old.name]._conversations.pop(key, None)
            holders = [h for h in holders if h.name != old.name]
            await self._tell_set_aside(key[0], old)
        flow: OpenFlow | None = None
        if holders:
            handler = holders[0]
            assert handler.name is not None
            state = handler._conversations[key]
            assert isinstance(state, int)
            if old is not None and old.name == handler.name and command_of(update) is None:
                started_by = old.started_by
            else:
                started_by = command_of(update) or title(handler.name, state)
            flow = OpenFlow(handler.name, int(state), started_by)
        data = dict(self._user_data.get(key[1], {}))
        assert self.conversations is not None
        try:
            await self.conversations.release(session, flow, data)
        except Conflict as exc:
            log.warning("conversation not saved, another instance moved it first: %s", exc)
        except DATABASE_UNAVAILABLE:
            log.exception("conversation of chat %s not saved", key[0])
