"""Sends outbox rows through PTB, turning Telegram's answers into the outbox's outcomes."""

from __future__ import annotations

from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from services.outbox import ChatUnreachable, MessageGone, Permanent, RetryLater, Transient


def to_markup(rows: Any) -> InlineKeyboardMarkup | None:
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(**button) for button in row] for row in rows]
    )


class TelegramChatSender:
    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def send(self, chat_id: int, text: str, markup: Any) -> int:
        try:
            message = await self.bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=to_markup(markup),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except Exception as exc:
            raise _translate(exc) from exc
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
            )
        except BadRequest as exc:
            if "not modified" in exc.message:
                return  # the message already says this: that is success
            if "not found" in exc.message or "can't be edited" in exc.message:
                raise MessageGone(exc.message) from exc
            raise Permanent(exc.message) from exc
        except Exception as exc:
            raise _translate(exc) from exc


def _translate(exc: Exception) -> Exception:
    if isinstance(exc, RetryAfter):
        seconds = exc.retry_after
        delay = seconds if isinstance(seconds, int | float) else seconds.total_seconds()
        return RetryLater(float(delay), f"Telegram asked to wait {delay:.0f}s")
    if isinstance(exc, Forbidden):
        return ChatUnreachable(exc.message)
    if isinstance(exc, BadRequest):
        return Permanent(exc.message)
    if isinstance(exc, TimedOut | NetworkError):
        return Transient(f"Telegram: {exc}")
    return exc
