"""/brief and the card's Brief button: the setup briefing to confirmed crew."""

from __future__ import annotations

from telegram import Update
from telegram.ext import ConversationHandler

from bot.context import CallsheetContext
from handlers.events._common import CANCEL_BUTTON, Typed, event_id_from, pick_event
from handlers.shared import args_text, chat_id, managers_only, reply, tell_refusal
from services.buttons.events import BriefCrew
from services.errors import CallsheetError


@managers_only()
async def brief_start(update: Update, context: CallsheetContext) -> int:
    assert context.user_data is not None
    if update.callback_query is not None:
        press = BriefCrew.parse(update.callback_query.data)
        assert press is not None
        await update.callback_query.answer()
        event_id: int | None = press.event_id
    else:
        text = args_text(update)
        if not text:
            await pick_event(update, context, BriefCrew, "events/pick_brief")
            return ConversationHandler.END
        head, sep, body = text.partition("|")
        event_id = event_id_from(head)
        if event_id is None:
            await reply(update, context, "events/brief_usage")
            return ConversationHandler.END
        if sep and body.strip():
            await send_brief(update, context, event_id, body)
            return ConversationHandler.END
    context.user_data["typed"] = ("brief", event_id)
    await reply(update, context, "events/brief_ask", CANCEL_BUTTON, event_id=event_id)
    return Typed.BRIEF_TEXT


async def send_brief(update: Update, context: CallsheetContext, event_id: int, text: str) -> bool:
    """False when the briefing was refused: the form waits for another text."""
    assert context.person is not None
    try:
        sent = await context.services.assignments.brief(
            event_id, text, actor=context.person, chat_id=chat_id(update)
        )
    except CallsheetError as exc:
        await tell_refusal(update, exc)
        return False
    await reply(update, context, "events/briefed", sent=sent, event_id=event_id)
    return True


async def brief_text(update: Update, context: CallsheetContext) -> int:
    assert update.message is not None and context.user_data is not None
    typed = context.user_data.get("typed")
    if not typed or typed[0] != "brief":
        return ConversationHandler.END
    if not await send_brief(update, context, typed[1], update.message.text or ""):
        return Typed.BRIEF_TEXT
    context.user_data.pop("typed", None)
    return ConversationHandler.END
