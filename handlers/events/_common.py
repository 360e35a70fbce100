"""What the event handlers share: form buttons, the conversation states, picking an event."""

from __future__ import annotations

from collections.abc import Callable
from enum import IntEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatType

from bot.context import CallsheetContext
from handlers.shared import reply
from models import Event
from services.buttons import CallbackData
from services.buttons.events import SkipStep, StopForm
from services.menubuttons import mini_app_url


def button(text: str, press: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=press.pack())


CANCEL_BUTTON = InlineKeyboardMarkup([[button("Cancel", StopForm())]])
SKIP_AND_CANCEL = InlineKeyboardMarkup([[button("Skip", SkipStep()), button("Cancel", StopForm())]])


class Typed(IntEnum):
    """A value typed after a button or a bare command (the conversation in `typed.py`)."""

    EDIT_VALUE = 10
    BRIEF_TEXT = 11
    ATTACH_FILE = 12  # the next document or photo goes to an event (handlers/eventdocs.py)


def board_url(update: Update, context: CallsheetContext) -> str | None:
    """Where an "Open board" button goes: the Mini App, in a private chat (Telegram refuses
    web-app buttons elsewhere), when PUBLIC_BASE_URL is https (it refuses http)."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return None
    return mini_app_url(context.services.settings.public_base_url)


def event_id_from(text: str) -> int | None:
    cleaned = text.strip().lstrip("#")
    return int(cleaned) if cleaned.isdigit() else None


def ends_next_day(context: CallsheetContext, event: Event) -> bool:
    """A span shown as 'Sat 5 Dec, 18:00 to Sun 6 Dec, 02:00' also says "(ends the next day)"."""
    tz = context.services.settings.tz
    return (event.ends_at.astimezone(tz).date() - event.starts_at.astimezone(tz).date()).days == 1


async def pick_event(
    update: Update,
    context: CallsheetContext,
    press: Callable[[int], CallbackData],
    question: str,
) -> None:
    """Upcoming events as buttons, for a command sent without its event number; `question`
    names the reply template that asks."""
    assert context.person is not None
    summaries = await context.services.events.upcoming(context.person, limit=30)
    if not summaries:
        await reply(update, context, "events/no_upcoming")
        return
    rows = [
        [button(f"#{s.event.id} {s.event.title}"[:60], press(s.event.id))] for s in summaries[:30]
    ]
    await reply(update, context, question, InlineKeyboardMarkup(rows))
