"""The sandbox's state: bots, people's chats and messages, callback queries, files, rate limits."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

from ._records import (
    JSON,
    ApiError,
    RequestRecord,
    SandboxError,
    SandboxFile,
    SandboxStats,
    SandboxUser,
)

# Answers that reach the bot broken, by `garble_answers`' name for them.
GARBLED: dict[str, Callable[[JSON], str]] = {
    "cut": lambda body: json.dumps(body)[:40],
    "not_a_message": lambda body: json.dumps(
        {"ok": True, "result": {"message_id": body["result"]["message_id"]}}
    ),
}
# Update types delivered when a bot never said which ones it wants.
DEFAULT_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


class _TokenBucket:
    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self.rate = rate
        self.capacity = capacity
        self.tokens = capacity
        self.updated = now

    def wait_time(self, now: float) -> float:
        """Seconds until one token is available (0: available now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.rate if self.rate > 0 else math.inf

    def take(self) -> None:
        self.tokens -= 1


@dataclass
class _Chat:
    user: SandboxUser
    bucket: _TokenBucket
    messages: dict[int, JSON] = field(default_factory=dict)
    next_message_id: int = 1
    started: bool = False  # the person has sent the bot something
    blocked: bool = False
    reply_keyboard: JSON | None = None
    menu_button: JSON | None = None


@dataclass
class _Query:
    id: str
    bot_id: int
    user: SandboxUser
    chat_id: int
    message_id: int
    answered: bool = False


@dataclass
class _Webhook:
    url: str
    secret_token: str | None
    max_connections: int
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class _Bot:
    token: str
    id: int
    username: str
    first_name: str
    bucket: _TokenBucket
    updates: list[JSON] = field(default_factory=list)
    next_update_id: int = 1
    allowed_updates: frozenset[str] = DEFAULT_UPDATES
    allowed_updates_set: list[str] | None = None  # as the bot last sent it
    webhook: _Webhook | None = None
    webhook_task: asyncio.Task[None] | None = None
    chats: dict[int, _Chat] = field(default_factory=dict)
    commands: dict[tuple[str, str], list[JSON]] = field(default_factory=dict)
    menu_button: JSON | None = None
    poll_generation: int = 0

    def to_user(self) -> JSON:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }


class _Changes:
    """Wakes every waiter on each change; cheap to notify from sync code."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float | None) -> None:
        event = self._event
        try:
            async with asyncio.timeout(seconds):
                await event.wait()
        except TimeoutError:
            pass


def _buttons(message: JSON) -> list[JSON]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def _render_buttons(message: JSON) -> str:
    return " ".join(f"[{button['text']}]" for button in _buttons(message))


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


class _State:
    """The sandbox's bots, people, chats, queries and files, and the helpers that change them."""

    def __init__(
        self,
        *,
        overall_rate: float = 30,
        chat_rate: float = 1.0,
        chat_burst: int = 5,
        webhook_retry_delay: float = 0.05,
        webhook_max_retry_delay: float = 2.0,
        webhook_timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.overall_rate = overall_rate
        self.chat_rate = chat_rate
        self.chat_burst = chat_burst
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_max_retry_delay = webhook_max_retry_delay
        self.webhook_timeout = webhook_timeout
        self._clock = clock
        self._monotonic = monotonic
        self.stats = SandboxStats()
        self.requests: list[RequestRecord] = []
        self.callback_answers: list[JSON] = []
        self.files: dict[str, SandboxFile] = {}
        self._bots: dict[str, _Bot] = {}
        self._users: dict[int, SandboxUser] = {}
        self._queries: dict[str, _Query] = {}
        self._query_ids = itertools.count(4_017_000_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._transcript: list[str] = []
        self._changes = _Changes()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._port: int | None = None
        self._host = "127.0.0.1"
        self._closing = False
        self._waiting_polls = 0
        self._garbled: dict[int, str] = {}  # chat id → how its sendMessage answers break

    def _bot(self, name: str | None) -> _Bot:
        if not self._bots:
            raise SandboxError("no bot yet: call tg.add_bot(token, username) first")
        if name is None:
            return next(iter(self._bots.values()))
        for bot in self._bots.values():
            if name in (bot.token, bot.username, f"@{bot.username}"):
                return bot
        raise SandboxError(f"no bot {name!r} in the sandbox")

    def _name(self, bot: _Bot) -> str:
        return "bot" if len(self._bots) == 1 else f"@{bot.username}"

    def _chat_with(self, bot: _Bot, person: SandboxUser) -> _Chat:
        chat = bot.chats.get(person.id)
        if chat is None:
            bucket = _TokenBucket(self.chat_rate, self.chat_burst, self._monotonic())
            chat = bot.chats[person.id] = _Chat(person, bucket)
        return chat

    def _person_chat(self, bot: _Bot, user: SandboxUser) -> _Chat:
        if self._users.get(user.id) != user:
            self._users[user.id] = user
        chat = self._chat_with(bot, user)
        if chat.blocked:
            raise SandboxError(f"{user.first_name} has blocked the bot; call tg.unblock() first")
        chat.started = True
        return chat

    def _chat_instance(self, bot: _Bot, chat: _Chat) -> str:
        digest = hashlib.sha256(f"{bot.id}:{chat.user.id}".encode()).digest()
        return str(int.from_bytes(digest[:8], "big", signed=True))

    def _new_message(self, chat: _Chat, sender: JSON, content: JSON) -> JSON:
        message: JSON = {
            "message_id": chat.next_message_id,
            "from": sender,
            "chat": chat.user.to_chat(),
            "date": int(self._clock()),
            **content,
        }
        chat.next_message_id += 1
        chat.messages[message["message_id"]] = message
        return message

    def _user_message(self, bot: _Bot, chat: _Chat, content: JSON, reply_to: int | None) -> JSON:
        message = self._new_message(chat, chat.user.to_user(), content)
        if reply_to is not None:
            target = chat.messages.get(reply_to)
            if target is None:
                raise SandboxError(f"there is no message {reply_to} to reply to")
            message["reply_to_message"] = copy.deepcopy(target)
        return message

    def _bot_message(
        self,
        bot: _Bot,
        chat: _Chat,
        content: JSON,
        entities: list[JSON],
        entities_name: str,
        markup: JSON | None,
    ) -> JSON:
        message = self._new_message(chat, bot.to_user(), content)
        if entities:
            message[entities_name] = entities
        if markup is not None and "inline_keyboard" in markup and any(markup["inline_keyboard"]):
            message["reply_markup"] = markup
        self._changes.notify()
        return message

    @staticmethod
    def _set_optional(message: JSON, key: str, value: Any) -> None:
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value

    @staticmethod
    def _file_path(stored: SandboxFile) -> str:
        return f"documents/{stored.file_unique_id}"

    def _store_file(self, name: str | None, mime: str | None, content: bytes | None) -> SandboxFile:

        number = next(self._file_ids)
        stored = SandboxFile(
            file_id=f"BQACAgIAAxkDAAI{number:08d}",
            file_unique_id=f"AgAD{number:06d}",
            file_name=name,
            mime_type=mime,
            content=content,
        )
        self.files[stored.file_id] = stored
        return stored

    def _throttle(self, bot: _Bot, chat: _Chat) -> None:
        now = self._monotonic()
        wait = max(bot.bucket.wait_time(now), chat.bucket.wait_time(now))
        if wait > 0:
            self.stats.too_many_requests += 1
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
            )
        bot.bucket.take()
        chat.bucket.take()

    def _enqueue(self, bot: _Bot, kind: str, payload: JSON) -> None:
        if kind in bot.allowed_updates:
            bot.updates.append({"update_id": bot.next_update_id, kind: copy.deepcopy(payload)})
            bot.next_update_id += 1
            self.stats.updates += 1
        self._changes.notify()

    def _say(self, line: str) -> None:
        self._transcript.append(line)
        self._changes.notify()
