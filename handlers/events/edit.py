"""/editevent and the card's Edit button: one field changed, and who was told."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler, ConversationHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.events._common import CANCEL_BUTTON, Typed, button, event_id_from, pick_event
from handlers.shared import args_text, chat_id, managers_only, reply, tell_refusal
from services.buttons.events import EditEvent, EditFieldPress
from services.errors import CallsheetError
from services.events import FIELD_LABELS, EditField, parse_field


@managers_only()
async def edit_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = EditEvent.parse(query.data)
    assert press is not None
    await query.answer()
    rows = [
        [button(label, EditFieldPress(press.event_id, field.value))]
        for field, label in FIELD_LABELS.items()
    ]
    await reply(
        update, context, "events/edit_what", InlineKeyboardMarkup(rows), event_id=press.event_id
    )


@managers_only()
async def edit_field_button(update: Update, context: CallsheetContext) -> int:
    query = update.callback_query
    assert query is not None and context.user_data is not None
    press = EditFieldPress.parse(query.data)
    assert press is not None
    what = parse_field(press.field)  # an old message's button may still say "target"
    await query.answer()
    context.user_data["typed"] = ("edit", press.event_id, what.value)
    await reply(
        update,
        context,
        "events/edit_hint",
        CANCEL_BUTTON,
        what=what,
        EditField=EditField,
        label=FIELD_LABELS[what].lower(),
    )
    return Typed.EDIT_VALUE


async def do_edit(
    update: Update, context: CallsheetContext, event_id: int, what: EditField, value: str
) -> bool:
    """False when the value was refused: the form waits for another."""
    assert context.person is not None
    service = context.services.events
    try:
        edited = await service.edit(
            event_id, what, value, actor=context.person, chat_id=chat_id(update)
        )
    except CallsheetError as exc:
        await reply(update, context, "events/edit_refused", error=exc)
        return False
    if not edited.changes:
        await reply(update, context, "events/edit_same")
        return True
    next_day = what is EditField.END and service.ends_next_day(await service.get(event_id))
    await reply(
        update,
        context,
        "events/edited",
        edited=edited,
        crew_only=what is EditField.CREW,
        next_day=next_day,
    )
    return True


async def edit_value(update: Update, context: CallsheetContext) -> int:
    assert update.message is not None and context.user_data is not None
    typed = context.user_data.get("typed")
    if not typed or typed[0] != "edit":
        return ConversationHandler.END
    _, event_id, field = typed
    ok = await do_edit(update, context, event_id, EditField(field), update.message.text or "")
    if not ok:
        return Typed.EDIT_VALUE
    context.user_data.pop("typed", None)
    return ConversationHandler.END


@managers_only()
async def editevent_command(update: Update, context: CallsheetContext) -> None:
    text = args_text(update)
    if not text:
        await pick_event(update, context, EditEvent, "events/pick_edit")
        return
    fields = [p.strip() for p in text.split("|")]
    event_id = event_id_from(fields[0])
    if len(fields) != 3 or event_id is None:
        await reply(update, context, "events/edit_usage", fields=[f.value for f in EditField])
        return
    try:
        what = parse_field(fields[1])
    except CallsheetError as exc:
        await tell_refusal(update, exc)
        return
    await do_edit(update, context, event_id, what, fields[2])


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("editevent", editevent_command))
    application.add_handler(CallbackQueryHandler(edit_button, pattern=EditEvent.matches))
