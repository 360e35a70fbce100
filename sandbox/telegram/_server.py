"""A local Telegram Bot API server with people the tests can act as.

The bot talks to it over real HTTP through PTB's `base_url`; the tests drive
the people's side in-process (`send_text`, `press`, ...) and read the chats.
It refuses what Telegram refuses, with Telegram's own error texts.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web

from ._markup import ParseError, parse, strip, utf16_len

logger = logging.getLogger(__name__)

JSON = dict[str, Any]
T = TypeVar("T")

TEXT_LIMIT = 4096
# Answers that reach the bot broken, by `garble_answers`' name for them.
GARBLED: dict[str, Callable[[JSON], str]] = {
    "cut": lambda body: json.dumps(body)[:40],
    "not_a_message": lambda body: json.dumps(
        {"ok": True, "result": {"message_id": body["result"]["message_id"]}}
    ),
}
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
ANSWER_TEXT_LIMIT = 200
UPLOAD_LIMIT = 50 * 1024 * 1024
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
INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
COMMAND_SCOPES = {
    "default": (),
    "all_private_chats": (),
    "all_group_chats": (),
    "all_chat_administrators": (),
    "chat": ("chat_id",),
    "chat_administrators": ("chat_id",),
    "chat_member": ("chat_id", "user_id"),
}
# Parameters that PTB (and any client using form encoding) sends JSON-encoded.
JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "scope",
        "commands",
        "allowed_updates",
        "menu_button",
        "reply_parameters",
        "link_preview_options",
    }
)
QUERY_EXPIRED = "query is too old and response timeout expired or query ID is invalid"
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
COMMAND_IN_TEXT = re.compile(r"/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{1,32})?")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


class SandboxError(Exception):
    """A test asked a sandbox person to do something a real person could not do."""


class ButtonNotFound(SandboxError):
    """The button is not on that message, in that chat, right now."""


class ApiError(Exception):
    """A refusal, sent to the bot as Telegram's error object."""

    def __init__(self, code: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(text: str) -> ApiError:
    return ApiError(400, f"Bad Request: {text}")


@dataclass(frozen=True)
class SandboxUser:
    """A person on Telegram; their private chat with any bot has chat id == user id."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    phone: str | None = None
    language_code: str | None = None

    def to_user(self) -> JSON:
        user: JSON = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def to_chat(self) -> JSON:
        chat: JSON = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class RequestRecord:
    """One Bot API call as the sandbox saw it (the token is never kept)."""

    method: str
    params: JSON
    status: int
    description: str | None
    bot: str
    retry_after: int | None = None
    at: float = 0.0  # the sandbox's monotonic clock when it answered (for latency benchmarks)

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class SandboxStats:
    requests: int = 0
    too_many_requests: int = 0
    updates: int = 0
    webhook_deliveries: int = 0
    webhook_failures: int = 0


@dataclass
class SandboxFile:
    file_id: str
    file_unique_id: str
    file_name: str | None
    mime_type: str | None
    content: bytes | None  # None for a document sent by URL


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


# --- request parameters ------------------------------------------------------


def _param_str(params: JSON, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    raise bad_request(f'field "{name}" must be of type String')


def _param_int(params: JSON, name: str, *, missing: str | None = None) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        if missing:
            raise bad_request(missing)
        return None
    if isinstance(value, bool):
        raise bad_request(f'field "{name}" must be of type Integer')
    if isinstance(value, int):
        return value
    try:
        return int(str(value))
    except ValueError:
        raise bad_request(f'field "{name}" must be of type Integer') from None


def _param_bool(params: JSON, name: str) -> bool:
    value = params.get(name)
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _param_json(params: JSON, name: str) -> Any:
    value = params.get(name)
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        if name == "reply_markup":
            raise bad_request("can't parse reply keyboard markup JSON object") from None
        raise bad_request(f"can't parse {name} JSON object") from None


def _decoded_for_log(params: JSON, files: dict[str, web.FileField]) -> JSON:
    logged: JSON = {}
    for name, value in params.items():
        if name in JSON_PARAMS and isinstance(value, str):
            try:
                logged[name] = json.loads(value)
            except ValueError:
                logged[name] = value
        else:
            logged[name] = value
    for name, upload in files.items():
        logged[name] = {"filename": upload.filename, "content_type": upload.content_type}
    return logged


def _buttons(message: JSON) -> list[JSON]:
    markup = message.get("reply_markup") or {}
    return [button for row in markup.get("inline_keyboard", []) for button in row]


def _render_buttons(message: JSON) -> str:
    return " ".join(f"[{button['text']}]" for button in _buttons(message))


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


class TelegramSandbox:
    """Telegram Bot API stand-in: `async with TelegramSandbox() as tg:`."""

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
        self._methods: dict[str, Callable[[_Bot, JSON, dict[str, web.FileField]], Awaitable[Any]]]
        self._methods = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "answercallbackquery": self._answer_callback_query,
            "deletemessage": self._delete_message,
            "setmycommands": self._set_my_commands,
            "getmycommands": self._get_my_commands,
            "deletemycommands": self._delete_my_commands,
            "senddocument": self._send_document,
            "setchatmenubutton": self._set_chat_menu_button,
            "getchatmenubutton": self._get_chat_menu_button,
            "getchat": self._get_chat,
            "close": self._no_op,
            "logout": self._no_op,
        }

    # --- lifetime -------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        app = web.Application(client_max_size=UPLOAD_LIMIT + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self._host = host
        self._port = self._runner.addresses[0][1]
        self._session = aiohttp.ClientSession()
        self._closing = False
        for bot in self._bots.values():
            await self._restart_delivery(bot)
        logger.info("Telegram sandbox listening on %s", self.base_url)

    async def stop(self) -> None:
        self._closing = True
        self._changes.notify()  # long polls return at once
        for bot in self._bots.values():
            await self._stop_delivery(bot)
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TelegramSandbox:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What PTB takes as `base_url`; it appends `<token>/<method>`."""
        if self._port is None:
            raise RuntimeError("TelegramSandbox.start() has not been awaited")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}/bot"

    # --- set-up -----------------------------------------------------------------

    def add_bot(self, token: str, username: str, first_name: str = "Callsheet") -> JSON:
        """Register a bot; returns its User object as getMe answers it."""
        bot_id, sep, secret = token.partition(":")
        if not (sep and bot_id.isdigit() and secret):
            raise ValueError("a bot token looks like '123456:ABC-DEF...'")
        bot = _Bot(
            token=token,
            id=int(bot_id),
            username=username.removeprefix("@"),
            first_name=first_name,
            bucket=_TokenBucket(self.overall_rate, max(1.0, self.overall_rate), self._monotonic()),
        )
        self._bots[token] = bot
        return bot.to_user()

    def user(
        self,
        user_id: int,
        first_name: str,
        last_name: str | None = None,
        username: str | None = None,
        phone: str | None = None,
        language_code: str | None = None,
    ) -> SandboxUser:
        """A person who exists on Telegram (they have not talked to any bot yet)."""
        if user_id <= 0:
            raise ValueError("user ids are positive")
        person = SandboxUser(user_id, first_name, last_name, username, phone, language_code)
        self._users[user_id] = person
        for bot in self._bots.values():
            if user_id in bot.chats:
                bot.chats[user_id].user = person
        return person

    # --- acting as people --------------------------------------------------------

    async def send_text(
        self,
        user: SandboxUser,
        text: str,
        *,
        reply_to: int | None = None,
        bot: str | None = None,
    ) -> JSON:
        """The person sends `text` to the bot; returns their message."""
        if not text.strip():
            raise SandboxError("Telegram clients do not send empty messages")
        if len(text) > TEXT_LIMIT:
            raise SandboxError(f"Telegram clients split messages over {TEXT_LIMIT} characters")
        target = self._bot(bot)
        chat = self._person_chat(target, user)
        message = self._user_message(target, chat, {"text": text}, reply_to)
        command = COMMAND_IN_TEXT.match(text)
        if command:
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command.group())}
            ]
        self._say(f"[{user.first_name} → {self._name(target)}] {_indent(text)}")
        self._enqueue(target, "message", message)
        return copy.deepcopy(message)

    async def share_contact(
        self,
        user: SandboxUser,
        phone_number: str,
        *,
        contact_user_id: int | EllipsisType | None = ...,
        first_name: str | None = None,
        last_name: str | None = None,
        bot: str | None = None,
    ) -> JSON:
        """The person shares a contact; by default their own (`user_id` == their id)."""
        target = self._bot(bot)
        chat = self._person_chat(target, user)
        contact: JSON = {
            "phone_number": phone_number,
            "first_name": first_name or user.first_name,
        }
        if last_name or (first_name is None and user.last_name):
            contact["last_name"] = last_name or user.last_name
        owner = user.id if contact_user_id is ... else contact_user_id
        if owner is not None:
            contact["user_id"] = owner
        message = self._user_message(target, chat, {"contact": contact}, None)
        self._say(
            f"[{user.first_name} → {self._name(target)}] shared contact {phone_number} "
            f"({contact['first_name']})"
        )
        self._enqueue(target, "message", message)
        return copy.deepcopy(message)

    async def press(
        self, user: SandboxUser, message_id: int, button: str, *, bot: str | None = None
    ) -> str:
        """The person taps an inline button (its text, a unique part of it, or its data).

        Returns the callback query id.
        """
        target = self._bot(bot)
        chat = target.chats.get(user.id)
        message = chat.messages.get(message_id) if chat else None
        if chat is None or message is None:
            raise ButtonNotFound(
                f"there is no message {message_id} in {user.first_name}'s chat with "
                f"{self._name(target)}"
            )
        if chat.blocked:
            raise SandboxError(f"{user.first_name} has blocked the bot; unblock first")
        found = self._find_button(message, button)
        if found is None:
            on_message = _render_buttons(message) or "no buttons"
            raise ButtonNotFound(
                f"no button {button!r} on message {message_id} in {user.first_name}'s chat "
                f"right now (it has: {on_message})"
            )
        if "callback_data" not in found:
            raise SandboxError(
                f"button [{found['text']}] does not send a callback query "
                f"({', '.join(k for k in found if k != 'text')})"
            )
        query_id = str(next(self._query_ids))
        self._queries[query_id] = _Query(query_id, target.id, user, chat.user.id, message_id)
        query = {
            "id": query_id,
            "from": user.to_user(),
            "message": copy.deepcopy(message),
            "chat_instance": self._chat_instance(target, chat),
            "data": found["callback_data"],
        }
        self._say(f"[{user.first_name} pressed] {found['text']}")
        self._enqueue(target, "callback_query", query)
        return query_id

    async def press_forged(
        self, user: SandboxUser, message_id: int, data: str, *, bot: str | None = None
    ) -> str:
        """A modified client sends `data` as if a button on `message_id` carried it.

        Telegram passes any callback_data a client sends (up to 64 bytes) for a message in
        its own chat; bots must not trust it. Returns the callback query id.
        """
        target = self._bot(bot)
        chat = target.chats.get(user.id)
        message = chat.messages.get(message_id) if chat else None
        if chat is None or message is None:
            raise ButtonNotFound(
                f"there is no message {message_id} in {user.first_name}'s chat with "
                f"{self._name(target)}"
            )
        if len(data.encode()) > 64:
            raise SandboxError("Telegram clients cannot send callback data over 64 bytes")
        query_id = str(next(self._query_ids))
        self._queries[query_id] = _Query(query_id, target.id, user, chat.user.id, message_id)
        query = {
            "id": query_id,
            "from": user.to_user(),
            "message": copy.deepcopy(message),
            "chat_instance": self._chat_instance(target, chat),
            "data": data,
        }
        self._say(f"[{user.first_name} sent forged callback data] {data}")
        self._enqueue(target, "callback_query", query)
        return query_id

    def block(self, user: SandboxUser, *, bot: str | None = None) -> None:
        self._set_blocked(user, True, bot)

    def unblock(self, user: SandboxUser, *, bot: str | None = None) -> None:
        self._set_blocked(user, False, bot)

    def garble_answers(self, user: SandboxUser, how: str | None = "cut") -> None:
        """A fault between Telegram and the bot: sendMessage to this person is delivered,
        but the answer cannot be parsed. `how`: "cut" (the JSON ends mid-way, as when a
        proxy drops the connection), "not_a_message" (valid JSON whose result lacks the
        message's fields), or None to heal."""
        if how is None:
            self._garbled.pop(user.id, None)
        elif how in GARBLED:
            self._garbled[user.id] = how
        else:
            raise SandboxError(f"unknown way to garble an answer: {how!r}")

    # --- reading and waiting -------------------------------------------------

    def chat(self, chat_id: int, *, bot: str | None = None) -> list[JSON]:
        """The chat's current messages, both sides, oldest first, edits applied."""
        chat = self._bot(bot).chats.get(chat_id)
        return copy.deepcopy(list(chat.messages.values())) if chat else []

    def bot_messages(self, chat_id: int, *, bot: str | None = None) -> list[JSON]:
        return [m for m in self.chat(chat_id, bot=bot) if m["from"]["is_bot"]]

    def last_bot_message(self, chat_id: int, *, bot: str | None = None) -> JSON | None:
        messages = self.bot_messages(chat_id, bot=bot)
        return messages[-1] if messages else None

    def reply_keyboard(self, chat_id: int, *, bot: str | None = None) -> list[list[JSON]] | None:
        """The reply keyboard the person sees now (None when there is none)."""
        chat = self._bot(bot).chats.get(chat_id)
        if chat is None or chat.reply_keyboard is None:
            return None
        rows: list[list[JSON]] = copy.deepcopy(chat.reply_keyboard["keyboard"])
        return rows

    def commands(
        self,
        scope: JSON | str | None = None,
        language_code: str = "",
        *,
        bot: str | None = None,
    ) -> list[JSON]:
        """What setMyCommands stored for exactly this scope and language."""
        scope_json = {"type": scope} if isinstance(scope, str) else scope
        key = (self._scope_key(scope_json), language_code)
        return copy.deepcopy(self._bot(bot).commands.get(key, []))

    def commands_for(
        self, user: SandboxUser, language_code: str | None = None, *, bot: str | None = None
    ) -> list[JSON]:
        """The command menu this person sees in their private chat with the bot."""
        target = self._bot(bot)
        language = language_code if language_code is not None else user.language_code or ""
        scopes: list[JSON | None] = [
            {"type": "chat", "chat_id": user.id},
            {"type": "all_private_chats"},
            None,
        ]
        for scope in scopes:
            for lang in dict.fromkeys([language, ""]):
                stored = target.commands.get((self._scope_key(scope), lang))
                if stored:
                    return copy.deepcopy(stored)
        return []

    def menu_button(self, chat_id: int | None = None, *, bot: str | None = None) -> JSON:
        return self._menu_button_for(self._bot(bot), chat_id)

    @property
    def waiting_polls(self) -> int:
        """getUpdates calls waiting for an update right now (the bot is listening)."""
        return self._waiting_polls

    def transcript(self) -> list[str]:
        """What happened, one entry per event, as `callsheet demo` prints it."""
        return list(self._transcript)

    async def wait_for(
        self,
        predicate: Callable[[], T | bool | None],
        timeout: float = 5.0,
        *,
        description: str | None = None,
    ) -> T:
        """Wait until `predicate()` is truthy (re-checked on every change); return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result  # type: ignore[return-value]
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(self._timeout_report(description or repr(predicate), timeout))
            await self._changes.wait(remaining)

    async def wait_for_bot_message(
        self,
        chat_id: int,
        contains: str | None = None,
        *,
        after: int | None = None,
        message_id: int | None = None,
        timeout: float = 5.0,
        bot: str | None = None,
    ) -> JSON:
        """The newest bot message (sent or edited) in the chat that contains `contains`.

        `after`: only messages with a greater id; `message_id`: only that message.
        """

        def matching() -> JSON | None:
            for message in reversed(self.bot_messages(chat_id, bot=bot)):
                if after is not None and message["message_id"] <= after:
                    continue
                if message_id is not None and message["message_id"] != message_id:
                    continue
                shown = message.get("text") or message.get("caption") or ""
                if contains is None or contains in shown:
                    return message
            return None

        wanted = f"a bot message in chat {chat_id}"
        if contains is not None:
            wanted += f" containing {contains!r}"
        if after is not None:
            wanted += f" after message {after}"
        if message_id is not None:
            wanted += f" (message {message_id})"
        return await self.wait_for(matching, timeout, description=wanted)

    async def wait_for_callback_answer(
        self,
        query_id: str,
        timeout: float = 5.0,
    ) -> JSON:
        def answered() -> JSON | None:
            for answer in self.callback_answers:
                if answer["query_id"] == query_id:
                    return answer
            return None

        return await self.wait_for(
            answered, timeout, description=f"an answer to callback query {query_id}"
        )

    # --- HTTP -----------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        bot = self._bots.get(request.match_info["token"])
        method = request.match_info["method"]
        if bot is None:
            return web.json_response(ApiError(401, "Unauthorized").to_json(), status=401)
        params: JSON = {}
        files: dict[str, web.FileField] = {}
        result: Any = None
        description: str | None = None
        try:
            params, files = await self._read_params(request)
            handler = self._methods.get(method.lower())
            if handler is None:
                raise ApiError(404, "Not Found")
            result = await handler(bot, params, files)
        except ApiError as exc:
            body = exc.to_json()
            status = exc.code
        else:
            body = {"ok": True, "result": result}
            status = 200
            if isinstance(result, tuple):  # (result, description) as for setWebhook
                body = {"ok": True, "result": result[0], "description": result[1]}
        if status != 200:
            description = body["description"]
            logger.debug("@%s %s → %s %s", bot.username, method, status, description)
        retry_after = body.get("parameters", {}).get("retry_after")
        self.requests.append(
            RequestRecord(
                method,
                _decoded_for_log(params, files),
                status,
                description,
                bot.username,
                retry_after,
                self._monotonic(),
            )
        )
        self.stats.requests += 1
        self._changes.notify()
        if status == 200 and method.lower() == "sendmessage":
            how = self._garbled.get(body["result"]["chat"]["id"])
            if how is not None:
                return web.Response(text=GARBLED[how](body), content_type="application/json")
        return web.json_response(body, status=status)

    async def _read_params(self, request: web.Request) -> tuple[JSON, dict[str, web.FileField]]:
        params: JSON = dict(request.query)
        files: dict[str, web.FileField] = {}
        if not request.body_exists:
            return params, files
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise bad_request("can't parse JSON object") from None
            if not isinstance(body, dict):
                raise bad_request("JSON object expected")
            params.update(body)
        elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for name, value in form.items():
                if isinstance(value, web.FileField):
                    files[name] = value
                else:
                    params[name] = value
        return params, files

    # --- Bot API methods -------------------------------------------------------------

    async def _no_op(self, bot: _Bot, params: JSON, files: dict[str, web.FileField]) -> bool:
        return True

    async def _get_me(self, bot: _Bot, params: JSON, files: dict[str, web.FileField]) -> JSON:
        return bot.to_user()

    async def _get_updates(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> list[JSON]:
        if bot.webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = _param_int(params, "offset") or 0
        limit = min(max(_param_int(params, "limit") or 100, 1), 100)
        timeout = max(_param_int(params, "timeout") or 0, 0)
        self._set_allowed_updates(bot, _param_json(params, "allowed_updates"))
        if offset > 0:
            bot.updates = [u for u in bot.updates if u["update_id"] >= offset]
        elif offset < 0:
            bot.updates = bot.updates[offset:]
        bot.poll_generation += 1
        generation = bot.poll_generation
        self._changes.notify()  # an older long poll still waiting is now terminated
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if bot.poll_generation != generation:
                raise ApiError(409, POLL_CONFLICT)
            if bot.webhook is not None:
                raise ApiError(409, WEBHOOK_CONFLICT)
            if bot.updates:
                return copy.deepcopy(bot.updates[:limit])
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0 or self._closing:
                return []
            self._waiting_polls += 1
            self._changes.notify()
            try:
                await self._changes.wait(remaining)
            finally:
                self._waiting_polls -= 1

    async def _set_webhook(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> tuple[bool, str]:
        url = _param_str(params, "url") or ""
        if not url:
            return await self._delete_webhook(bot, params, files)
        parts = urlsplit(url)
        local = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        if not (parts.scheme == "https" or local) or not parts.hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = _param_str(params, "secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = _param_int(params, "max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("invalid max_connections specified")
        self._set_allowed_updates(bot, _param_json(params, "allowed_updates"))
        if _param_bool(params, "drop_pending_updates"):
            bot.updates.clear()
        unchanged = (
            bot.webhook is not None
            and bot.webhook.url == url
            and bot.webhook.secret_token == secret
        )
        bot.webhook = _Webhook(url, secret, max_connections)
        await self._restart_delivery(bot)
        self._changes.notify()
        return True, "Webhook is already set" if unchanged else "Webhook was set"

    async def _delete_webhook(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> tuple[bool, str]:
        if _param_bool(params, "drop_pending_updates"):
            bot.updates.clear()
        had_webhook = bot.webhook is not None
        bot.webhook = None
        await self._stop_delivery(bot)
        self._changes.notify()
        return True, "Webhook was deleted" if had_webhook else "Webhook is already deleted"

    async def _get_webhook_info(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> JSON:
        info: JSON = {
            "url": bot.webhook.url if bot.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        if bot.webhook is not None:
            info["max_connections"] = bot.webhook.max_connections
            info["ip_address"] = "127.0.0.1"
            if bot.allowed_updates_set:
                info["allowed_updates"] = bot.allowed_updates_set
            if bot.webhook.last_error_date is not None:
                info["last_error_date"] = bot.webhook.last_error_date
                info["last_error_message"] = bot.webhook.last_error_message
        return info

    async def _send_message(self, bot: _Bot, params: JSON, files: dict[str, web.FileField]) -> JSON:
        chat = self._chat_to_send(bot, params)
        text, entities = self._formatted(params, "text", "entities", TEXT_LIMIT)
        markup = self._reply_markup(params)
        reply_to = self._reply_target(chat, params)
        self._throttle(bot, chat)
        message = self._bot_message(bot, chat, {"text": text}, entities, "entities", markup)
        if reply_to is not None:
            message["reply_to_message"] = copy.deepcopy(reply_to)
        keyboard = self._keyboard_note(chat, markup)
        self._say(f"[{self._name(bot)} → {chat.user.first_name}] {self._shown(message)}{keyboard}")
        return copy.deepcopy(message)

    async def _send_document(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> JSON:
        chat = self._chat_to_send(bot, params)
        document = self._document(params, files)
        caption, entities = self._formatted(
            params, "caption", "caption_entities", CAPTION_LIMIT, optional=True
        )
        markup = self._reply_markup(params)
        reply_to = self._reply_target(chat, params)
        self._throttle(bot, chat)
        content: JSON = {"document": document}
        if caption:
            content["caption"] = caption
        message = self._bot_message(bot, chat, content, entities, "caption_entities", markup)
        if reply_to is not None:
            message["reply_to_message"] = copy.deepcopy(reply_to)
        keyboard = self._keyboard_note(chat, markup)
        self._say(f"[{self._name(bot)} → {chat.user.first_name}] {self._shown(message)}{keyboard}")
        return copy.deepcopy(message)

    async def _edit_message_text(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> JSON:
        chat, message = self._message_to_edit(bot, params)
        if "text" not in message:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities", TEXT_LIMIT)
        markup = self._inline_markup_for_edit(params)
        if (
            text == message["text"]
            and entities == message.get("entities", [])
            and markup == message.get("reply_markup")
        ):
            raise bad_request(NOT_MODIFIED)
        self._throttle(bot, chat)
        message["text"] = text
        self._set_optional(message, "entities", entities or None)
        self._set_optional(message, "reply_markup", markup)
        message["edit_date"] = int(self._clock())
        self._say(f"[{self._name(bot)} ✎ {chat.user.first_name}] edited: {self._shown(message)}")
        return copy.deepcopy(message)

    async def _edit_message_reply_markup(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> JSON:
        chat, message = self._message_to_edit(bot, params)
        markup = self._inline_markup_for_edit(params)
        if markup == message.get("reply_markup"):
            raise bad_request(NOT_MODIFIED)
        self._throttle(bot, chat)
        self._set_optional(message, "reply_markup", markup)
        message["edit_date"] = int(self._clock())
        buttons = _render_buttons(message) or "(buttons removed)"
        self._say(f"[{self._name(bot)} ✎ {chat.user.first_name}] buttons: {buttons}")
        return copy.deepcopy(message)

    async def _answer_callback_query(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> bool:
        query_id = _param_str(params, "callback_query_id")
        if not query_id:
            raise bad_request("query ID is not specified")  # nothing to look up
        query = self._queries.get(query_id)
        if query is None or query.answered or query.bot_id != bot.id:
            raise bad_request(QUERY_EXPIRED)
        text = _param_str(params, "text")
        if text is not None and len(text) > ANSWER_TEXT_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answered = True
        answer = {
            "query_id": query_id,
            "text": text,
            "show_alert": _param_bool(params, "show_alert"),
            "url": _param_str(params, "url"),
            "cache_time": _param_int(params, "cache_time") or 0,
            "user": query.user,
            "chat_id": query.chat_id,
            "message_id": query.message_id,
        }
        self.callback_answers.append(answer)
        shown = text or "(no text)"
        if answer["show_alert"]:
            shown = f"alert: {shown}"
        self._say(f"[{self._name(bot)} answered {query.user.first_name}] {shown}")
        return True

    async def _delete_message(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> bool:
        chat = self._known_chat(bot, params)
        message_id = _param_int(params, "message_id", missing="message identifier is not specified")
        message = chat.messages.pop(message_id or 0, None)
        if message is None:
            raise bad_request("message to delete not found")
        first_line = (message.get("text") or message.get("caption") or "").split("\n", 1)[0]
        self._say(
            f"[{self._name(bot)} ✕ {chat.user.first_name}] deleted message {message_id}: "
            f"{first_line}"
        )
        return True

    async def _set_my_commands(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> bool:
        commands = _param_json(params, "commands")
        if not isinstance(commands, list):
            raise bad_request('field "commands" must be an Array')
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        stored: list[JSON] = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad_request("BotCommand must be an Object")
            name = str(command.get("command", "")).removeprefix("/")
            description = str(command.get("description", "")).strip()
            if not COMMAND_NAME.fullmatch(name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise bad_request("command description must be non-empty and up to 256 characters")
            stored.append({"command": name, "description": description})
        key = self._commands_key(bot, params)
        if stored:
            bot.commands[key] = stored
        else:
            bot.commands.pop(key, None)
        self._changes.notify()
        return True

    async def _get_my_commands(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> list[JSON]:
        return copy.deepcopy(bot.commands.get(self._commands_key(bot, params), []))

    async def _delete_my_commands(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> bool:
        bot.commands.pop(self._commands_key(bot, params), None)
        self._changes.notify()
        return True

    async def _set_chat_menu_button(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> bool:
        button = _param_json(params, "menu_button") or {"type": "default"}
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise bad_request("unsupported menu button type specified")
        if button["type"] == "web_app":
            web_app = button.get("web_app")
            url = web_app.get("url", "") if isinstance(web_app, dict) else ""
            if not button.get("text") or not url.startswith("https://"):
                raise bad_request("BUTTON_URL_INVALID")
        if params.get("chat_id") in (None, ""):
            bot.menu_button = button
        else:
            self._known_chat(bot, params).menu_button = button
        self._changes.notify()
        return True

    async def _get_chat_menu_button(
        self, bot: _Bot, params: JSON, files: dict[str, web.FileField]
    ) -> JSON:
        chat_id = None
        if params.get("chat_id") not in (None, ""):
            chat_id = self._known_chat(bot, params).user.id
        return self._menu_button_for(bot, chat_id)

    async def _get_chat(self, bot: _Bot, params: JSON, files: dict[str, web.FileField]) -> JSON:
        person = self._users.get(self._chat_id(params))
        if person is None:
            raise bad_request("chat not found")
        return {
            **person.to_chat(),
            "accent_color_id": person.id % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    # --- validation helpers -------------------------------------------------------

    def _chat_id(self, params: JSON) -> int:
        raw = params.get("chat_id")
        if raw is None or raw == "":
            raise bad_request("chat_id is empty")
        try:
            return int(str(raw))
        except ValueError:
            raise bad_request("chat not found") from None  # @username of a private chat

    def _known_chat(self, bot: _Bot, params: JSON) -> _Chat:
        chat_id = self._chat_id(params)
        person = self._users.get(chat_id)
        if person is None:
            raise bad_request("chat not found")
        return self._chat_with(bot, person)

    def _chat_to_send(self, bot: _Bot, params: JSON) -> _Chat:
        chat = self._known_chat(bot, params)
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if not chat.started:
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return chat

    def _message_to_edit(self, bot: _Bot, params: JSON) -> tuple[_Chat, JSON]:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")  # no inline mode in the sandbox
        chat = self._known_chat(bot, params)
        message_id = _param_int(params, "message_id", missing="message identifier is not specified")
        message = chat.messages.get(message_id or 0)
        if message is None:
            raise bad_request("message to edit not found")
        if message["from"]["id"] != bot.id:
            raise bad_request("message can't be edited")
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat, message

    def _formatted(
        self,
        params: JSON,
        name: str,
        entities_name: str,
        limit: int,
        *,
        optional: bool = False,
    ) -> tuple[str, list[JSON]]:
        raw = _param_str(params, name) or ""
        parse_mode = _param_str(params, "parse_mode")
        explicit = _param_json(params, entities_name)
        if parse_mode and parse_mode.lower() not in ("html", "markdown", "markdownv2"):
            raise bad_request("unsupported parse_mode")
        try:
            text, entities = parse(raw, parse_mode)
        except ParseError as exc:
            raise bad_request(f"can't parse entities: {exc}") from None
        if explicit and not parse_mode:
            if not isinstance(explicit, list):
                raise bad_request(f"can't parse {entities_name} JSON object")
            entities = [dict(e) for e in explicit]
        text, entities = strip(text, entities)
        if not text and not optional:
            raise bad_request("message text is empty")
        if len(text) > limit:
            raise bad_request(
                "message is too long" if name == "text" else "message caption is too long"
            )
        return text, entities

    def _reply_markup(self, params: JSON) -> JSON | None:
        markup = _param_json(params, "reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            return self._inline_keyboard(markup)
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
                raise bad_request(
                    'field "keyboard" of the ReplyKeyboardMarkup must be an Array of Arrays'
                )
            keyboard = []
            for row in rows:
                buttons = []
                for button in row:
                    button = {"text": button} if isinstance(button, str) else button
                    if not isinstance(button, dict) or not button.get("text"):
                        raise bad_request("can't parse keyboard button: Text must be non-empty")
                    buttons.append(dict(button))
                keyboard.append(buttons)
            return {**markup, "keyboard": keyboard}
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise bad_request("can't parse reply keyboard markup JSON object")

    def _inline_keyboard(self, markup: JSON) -> JSON:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup must be an Array of Arrays'
            )
        checked: list[list[JSON]] = []
        for row in rows:
            checked_row = []
            for button in row:
                if not isinstance(button, dict):
                    raise bad_request(
                        "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
                    )
                if not isinstance(button.get("text"), str) or not button["text"]:
                    raise bad_request("can't parse inline keyboard button: Text must be non-empty")
                actions = [name for name in INLINE_BUTTON_ACTIONS if name in button]
                if not actions:
                    raise bad_request(
                        "can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard"
                    )
                if len(actions) > 1:
                    raise bad_request(
                        "can't parse inline keyboard button: exactly one of the optional fields "
                        f"must be used, found {', '.join(actions)}"
                    )
                data = button.get("callback_data")
                if "callback_data" in button and (
                    not isinstance(data, str) or not 1 <= len(data.encode()) <= CALLBACK_DATA_LIMIT
                ):
                    raise bad_request("BUTTON_DATA_INVALID")
                url = button.get("url")
                if "url" in button and (
                    not isinstance(url, str)
                    or urlsplit(url).scheme not in ("http", "https", "tg")
                    or not (urlsplit(url).netloc or url.startswith("tg://"))
                ):
                    raise bad_request(
                        f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL"
                    )
                checked_row.append(dict(button))
            checked.append(checked_row)
        return {"inline_keyboard": checked}

    def _inline_markup_for_edit(self, params: JSON) -> JSON | None:
        markup = self._reply_markup(params)
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        if markup is not None and not any(markup["inline_keyboard"]):
            return None
        return markup

    def _reply_target(self, chat: _Chat, params: JSON) -> JSON | None:
        reply = _param_json(params, "reply_parameters")
        message_id = _param_int(params, "reply_to_message_id")
        allow_missing = _param_bool(params, "allow_sending_without_reply")
        if isinstance(reply, dict):
            message_id = _param_int(reply, "message_id")
            allow_missing = _param_bool(reply, "allow_sending_without_reply")
        if message_id is None:
            return None
        message = chat.messages.get(message_id)
        if message is None and not allow_missing:
            raise bad_request("message to be replied not found")
        return message

    def _document(self, params: JSON, files: dict[str, web.FileField]) -> JSON:
        upload = files.get("document")
        reference = _param_str(params, "document")
        if upload is None and reference and reference.startswith("attach://"):
            upload = files.get(reference.removeprefix("attach://"))
        if upload is not None:
            content = upload.file.read()
            if not content:
                raise bad_request("file must be non-empty")
            if len(content) > UPLOAD_LIMIT:
                raise ApiError(413, "Request Entity Too Large")
            stored = self._store_file(upload.filename, upload.content_type, content)
        elif reference and reference in self.files:
            stored = self.files[reference]
        elif reference and urlsplit(reference).scheme in ("http", "https"):
            name = urlsplit(reference).path.rsplit("/", 1)[-1] or None
            stored = self._store_file(name, None, None)
        elif reference:
            raise bad_request("wrong file identifier/HTTP URL specified")
        else:
            raise bad_request("there is no document in the request")
        document: JSON = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id}
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        if stored.content is not None:
            document["file_size"] = len(stored.content)
        return document

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

    def _set_allowed_updates(self, bot: _Bot, allowed: Any) -> None:
        if allowed is None:
            return
        if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
            raise bad_request("can't parse allowed_updates JSON object")
        bot.allowed_updates_set = allowed or None
        bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATES

    def _scope_key(self, scope: JSON | None) -> str:
        scope = scope or {"type": "default"}
        fields = COMMAND_SCOPES.get(str(scope.get("type")))
        if fields is None:
            raise bad_request("unsupported bot command scope type specified")
        key: JSON = {"type": scope["type"]}
        for name in fields:
            value = _param_int(scope, name, missing=f"{name} is empty")
            key[name] = value
        return json.dumps(key, sort_keys=True)

    def _commands_key(self, bot: _Bot, params: JSON) -> tuple[str, str]:
        scope = _param_json(params, "scope")
        if scope is not None and not isinstance(scope, dict):
            raise bad_request("can't parse BotCommandScope JSON object")
        if scope and "chat_id" in scope and _param_int(scope, "chat_id") not in self._users:
            raise bad_request("chat not found")
        language = _param_str(params, "language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise bad_request("invalid language code specified")
        return self._scope_key(scope), language

    def _menu_button_for(self, bot: _Bot, chat_id: int | None) -> JSON:
        chat = bot.chats.get(chat_id) if chat_id is not None else None
        for button in (chat.menu_button if chat else None, bot.menu_button):
            if button and button.get("type") != "default":
                return copy.deepcopy(button)
        return {"type": "commands"}

    # --- state helpers -------------------------------------------------------------

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

    def _keyboard_note(self, chat: _Chat, markup: JSON | None) -> str:
        if markup is None or "inline_keyboard" in markup:
            return ""
        if "keyboard" in markup:
            chat.reply_keyboard = markup
            buttons = " ".join(f"{{{b['text']}}}" for row in markup["keyboard"] for b in row)
            return f" ⌨ {buttons}"
        if markup.get("remove_keyboard"):
            chat.reply_keyboard = None
            return " ⌨ (keyboard removed)"
        return ""

    def _shown(self, message: JSON) -> str:
        if "document" in message:
            name = message["document"].get("file_name", "document")
            caption = message.get("caption")
            shown = f"📎 {name}" + (f" — {caption}" if caption else "")
        else:
            shown = message.get("text", "")
        buttons = _render_buttons(message)
        return _indent(shown) + (f" {buttons}" if buttons else "")

    @staticmethod
    def _set_optional(message: JSON, key: str, value: Any) -> None:
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value

    def _find_button(self, message: JSON, wanted: str) -> JSON | None:
        buttons = _buttons(message)
        for candidates in (
            [b for b in buttons if b["text"] == wanted],
            [b for b in buttons if b.get("callback_data") == wanted],
            [b for b in buttons if wanted in b["text"]],
        ):
            if len(candidates) == 1:
                return candidates[0]
            if len(candidates) > 1:
                raise ButtonNotFound(
                    f"{wanted!r} matches several buttons: "
                    + " ".join(f"[{b['text']}]" for b in candidates)
                )
        return None

    def _set_blocked(self, user: SandboxUser, blocked: bool, bot_name: str | None) -> None:
        bot = self._bot(bot_name)
        self._users.setdefault(user.id, user)
        chat = self._chat_with(bot, user)
        if chat.blocked == blocked:
            return
        chat.blocked = blocked
        bot_member = {"user": bot.to_user(), "status": "member"}
        kicked = {"user": bot.to_user(), "status": "kicked", "until_date": 0}
        update = {
            "chat": user.to_chat(),
            "from": user.to_user(),
            "date": int(self._clock()),
            "old_chat_member": bot_member if blocked else kicked,
            "new_chat_member": kicked if blocked else bot_member,
        }
        verb = "blocked" if blocked else "unblocked"
        self._say(f"[{user.first_name} {verb} the bot]")
        self._enqueue(bot, "my_chat_member", update)

    def _enqueue(self, bot: _Bot, kind: str, payload: JSON) -> None:
        if kind in bot.allowed_updates:
            bot.updates.append({"update_id": bot.next_update_id, kind: copy.deepcopy(payload)})
            bot.next_update_id += 1
            self.stats.updates += 1
        self._changes.notify()

    def _say(self, line: str) -> None:
        self._transcript.append(line)
        self._changes.notify()

    def _timeout_report(self, wanted: str, timeout: float) -> str:
        lines = [f"timed out after {timeout:g}s waiting for {wanted}"]
        for bot in self._bots.values():
            lines.append(
                f"@{bot.username}: {len(bot.updates)} update(s) not yet taken by the bot, "
                f"webhook {'set' if bot.webhook else 'not set'}"
            )
        recent = self._transcript[-15:]
        lines.append("recent transcript:" if recent else "transcript is empty")
        lines.extend(f"  {line}" for line in recent)
        failures = [r for r in self.requests[-10:] if not r.ok]
        lines.extend(f"  refused {r.method}: {r.description}" for r in failures)
        return "\n".join(lines)

    # --- webhook delivery ----------------------------------------------------------

    async def _restart_delivery(self, bot: _Bot) -> None:
        await self._stop_delivery(bot)
        if bot.webhook is not None and self._session is not None:
            bot.webhook_task = asyncio.create_task(
                self._deliver(bot, bot.webhook), name=f"webhook @{bot.username}"
            )

    async def _stop_delivery(self, bot: _Bot) -> None:
        task, bot.webhook_task = bot.webhook_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise

    async def _deliver(self, bot: _Bot, hook: _Webhook) -> None:
        delay = self.webhook_retry_delay
        headers = (
            {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
        )
        while True:
            while not bot.updates:
                await self._changes.wait(None)
            update = bot.updates[0]
            error = await self._post_update(hook.url, update, headers)
            if error is None:
                if bot.updates and bot.updates[0] is update:
                    bot.updates.pop(0)
                self.stats.webhook_deliveries += 1
                delay = self.webhook_retry_delay
                self._changes.notify()
                continue
            logger.info("webhook delivery to @%s failed: %s", bot.username, error)
            hook.last_error_date = int(self._clock())
            hook.last_error_message = error
            self.stats.webhook_failures += 1
            self._changes.notify()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.webhook_max_retry_delay)

    async def _post_update(self, url: str, update: JSON, headers: dict[str, str]) -> str | None:
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
        try:
            async with self._session.post(
                url, json=update, headers=headers, timeout=timeout
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except aiohttp.ClientConnectorError:
            return "Connection refused"
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientError as exc:
            return f"Connection error: {exc.__class__.__name__}"
