"""Sends outbox rows through PTB, turning Telegram's answers into the outbox's outcomes.

Retries belong to the outbox, not to PTB: a row that Telegram throttles goes back to the
queue with its `retry_after` (stored, so it survives a restart and never holds a lease
while sleeping). `RateLimiter` therefore keeps PTB's pacing for every request but skips
PTB's own RetryAfter retries for the outbox's requests; handler replies keep them.

On PostgreSQL several instances may send for one bot: there `RateLimiter` paces every
request that names a chat by the budget they share in the database
(`services/outbox/budget.py`) instead of by PTB's in-process limiter. Handler replies count
against that budget too, ahead of the outbox, which keeps at most a fraction of a second
of it reserved. On SQLite (one process) PTB's limiter paces as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, WebAppInfo
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import AIORateLimiter, ExtBot

from models import FileKind
from models.errors import DATABASE_UNAVAILABLE
from services.outbox import (
    ChatUnreachable,
    MessageGone,
    OutcomeUnknown,
    Permanent,
    RetryLater,
    Transient,
)
from services.outbox.budget import CHAT_RATE, Rate, SharedBudget

log = logging.getLogger(__name__)

OUTBOX = -1  # `rate_limit_args` of the outbox's requests: no retries inside PTB

# Telegram's limit for one bot: about 30 messages a second overall. PTB's default limiter
# lets 30 go at once and then 30 a second; Telegram counts on its own clock, so when the
# first of those 30 reached it late (a new connection) and a later one early, the 31st met
# a 429 (benchmark 1 saw one in every fan-out). A burst of 5 keeps the same 30 a second and
# leaves most of Telegram's allowance unused as a margin for such jitter.
MESSAGES_PER_SECOND = 30
BURST = 5


class _Throttled(Exception):
    """Carries a RetryAfter past AIORateLimiter's retry loop."""

    def __init__(self, error: RetryAfter) -> None:
        super().__init__(error.message)
        self.error = error


class RateLimiter(AIORateLimiter):
    """PTB's AIORateLimiter at 30 requests/s overall with a burst of at most `BURST`, or the
    budget shared through PostgreSQL (`shared`, chosen in `initialize()` when the database
    is PostgreSQL); the outbox's requests are not retried."""

    def __init__(
        self, max_retries: int = 0, shared: SharedBudget | None = None, *, chat_burst: int = 3
    ) -> None:
        super().__init__(
            overall_max_rate=BURST,
            overall_time_period=BURST / MESSAGES_PER_SECOND,
            max_retries=max_retries,
        )
        self.retries = max_retries
        self.shared = shared
        self.chat_burst = chat_burst

    async def initialize(self) -> None:
        # The database is open by now: bot/lifespan.py opens it before PTB.
        await super().initialize()
        if self.shared is None and SharedBudget.wanted():
            self.shared = SharedBudget(chat=Rate(CHAT_RATE.per_second, self.chat_burst))
        if self.shared is not None:
            await self.shared.setup()
            log.info("Telegram budget: shared through the database by every instance")

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        if self.shared is not None:
            return await self._shared(callback, args, kwargs, data, rate_limit_args)
        if rate_limit_args != OUTBOX:
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )

        async def once(*a: Any, **kw: Any) -> Any:
            try:
                return await callback(*a, **kw)
            except RetryAfter as exc:
                raise _Throttled(exc) from exc

        try:
            return await super().process_request(once, args, kwargs, endpoint, data, None)
        except _Throttled as exc:
            raise exc.error from None

    async def _shared(
        self,
        callback: Callable[..., Coroutine[Any, Any, Any]],
        args: Any,
        kwargs: dict[str, Any],
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        assert self.shared is not None
        chat_id = data.get("chat_id")
        if chat_id is None:  # not a message (getUpdates, answerCallbackQuery, …): not paced
            return await callback(*args, **kwargs)
        chat: int | None = None
        with contextlib.suppress(ValueError, TypeError):
            chat = int(chat_id)
        background = rate_limit_args == OUTBOX
        retries = 0 if background else (rate_limit_args or self.retries)
        for attempt in range(retries + 1):
            try:
                await self.shared.acquire(chat, background=background)
            except DATABASE_UNAVAILABLE as exc:
                if background:
                    # Nothing was sent: the outbox retries the row with its backoff.
                    raise NetworkError(f"the shared Telegram budget is unavailable: {exc}") from exc
                # A reply to someone who is waiting (often the "error, try again" answer to
                # the same database failure) goes out unpaced rather than not at all.
                log.warning("shared Telegram budget unavailable; reply sent unpaced: %s", exc)

            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == retries:
                    raise
                delay = _seconds(exc)
                log.info("Telegram asked to wait %.0fs; the reply is retried", delay)
                await asyncio.sleep(delay + 0.1)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _seconds(exc: RetryAfter) -> float:
    seconds = exc.retry_after
    return float(seconds if isinstance(seconds, int | float) else seconds.total_seconds())


def to_markup(rows: Any) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup([[_button(button) for button in row] for row in rows])


def _button(stored: dict[str, Any]) -> InlineKeyboardButton:
    if "web_app" in stored:  # kept as {"url": ...}: PTB wants its WebAppInfo
        return InlineKeyboardButton(stored["text"], web_app=WebAppInfo(stored["web_app"]["url"]))
    return InlineKeyboardButton(**stored)


class TelegramChatSender:
    def __init__(self, bot: ExtBot[Any]) -> None:
        self.bot = bot

    async def send(self, chat_id: int, text: str, markup: Any) -> int:
        try:
            message = await self.bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=to_markup(markup),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                rate_limit_args=OUTBOX,
            )
        except TelegramError as exc:
            if _maybe_delivered(exc):
                raise OutcomeUnknown(f"Telegram: {exc.message}") from exc
            raise translate(exc) from exc
        return message.message_id

    async def send_file(self, chat_id: int, kind: FileKind, file_id: str, caption: str) -> int:
        """A file Telegram already holds, by its file_id: nothing is uploaded."""
        try:
            if kind is FileKind.PHOTO:
                message = await self.bot.send_photo(
                    chat_id, file_id, caption=caption, parse_mode=None, rate_limit_args=OUTBOX
                )
            else:
                message = await self.bot.send_document(
                    chat_id, file_id, caption=caption, parse_mode=None, rate_limit_args=OUTBOX
                )
        except TelegramError as exc:
            if _maybe_delivered(exc):
                raise OutcomeUnknown(f"Telegram: {exc.message}") from exc
            raise translate(exc) from exc
        return message.message_id

    async def edit(self, chat_id: int, message_id: int, text: str, markup: Any) -> None:
        try:
            await self.bot.edit_message_text(
                text,
                chat_id=chat_id,
                message_id=message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=to_markup(markup),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                rate_limit_args=OUTBOX,
            )
        except BadRequest as exc:
            if "not modified" in exc.message:
                return  # the message already says this: that is success
            if "not found" in exc.message or "can't be edited" in exc.message:
                raise MessageGone(exc.message) from exc
            raise Permanent(exc.message) from exc
        except TelegramError as exc:
            raise translate(exc) from exc


def _maybe_delivered(exc: TelegramError) -> bool:
    """The request reached Telegram and we cannot tell what it did: a timeout after the
    request was sent, or an answer PTB could not read."""
    if isinstance(exc, TimedOut):
        # Not sent at all: no connection, or none free in the pool.
        return not isinstance(exc.__cause__, httpx.ConnectTimeout | httpx.PoolTimeout)
    return type(exc) is TelegramError and "invalid server response" in exc.message.lower()


def translate(exc: TelegramError) -> Exception:
    if isinstance(exc, RetryAfter):
        delay = _seconds(exc)
        return RetryLater(delay, f"Telegram asked to wait {delay:.0f}s")
    if isinstance(exc, Forbidden):
        return ChatUnreachable(exc.message)
    if isinstance(exc, BadRequest):
        if "chat not found" in exc.message.lower():
            return ChatUnreachable(exc.message)
        return Permanent(exc.message)
    if isinstance(exc, ChatMigrated):
        return Permanent(exc.message)
    if isinstance(exc, NetworkError):  # timeouts, 5xx, connection errors
        return Transient(f"Telegram: {exc.message}")
    # InvalidToken, Conflict, …: a problem on our side that a restart or fix will cure.
    return Transient(f"Telegram: {exc.message}")
