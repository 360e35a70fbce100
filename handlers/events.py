"""Managers' event commands: /newevent, /events, /event and its buttons, /editevent, /remind, /brief."""

from __future__ import annotations

import functools
import html
import warnings
from collections.abc import Callable, Coroutine
from datetime import datetime
from enum import IntEnum
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.context import CallsheetContext
from handlers.common import MANAGER_COMMANDS, Command, current_person
from models import AssignmentStatus, AuditAction, AuditLog, Event, Person
from services.clock import format_span
from services.errors import CallsheetError
from services.events import (
    FIELD_LABELS,
    INLINE_FORMAT,
    Edited,
    EditField,
    EventCard,
    EventDraft,
    parse_field,
)

Handler = Callable[[Update, CallsheetContext], Coroutine[Any, Any, Any]]

MANAGER_COMMANDS.extend(
    [
        Command("newevent", "Create an event", INLINE_FORMAT),
        Command("events", "Upcoming events with crew counts"),
        Command("event", "An event's card: crew, buttons", "/event 12"),
        Command("editevent", "Change an event", "/editevent 12 | venue | KICC, Nairobi"),
        Command("remind", "Remind confirmed crew now", "/remind 12"),
        Command("brief", "Send the setup briefing", "/brief 12 | Load in at gate B"),
    ]
)

CANCEL_BUTTON = InlineKeyboardMarkup([[InlineKeyboardButton("Cancel", callback_data="evt:stop:0")]])
SKIP_AND_CANCEL = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Skip", callback_data="evt:skip:0"),
            InlineKeyboardButton("Cancel", callback_data="evt:stop:0"),
        ]
    ]
)


ROSTER_BUDGET = 3_300  # characters of card before the rest of a group is only counted


class NewEvent(IntEnum):
    TITLE = 1
    START = 2
    END = 3
    VENUE = 4
    CALL = 5
    NOTES = 6
    TARGET = 7


class Typed(IntEnum):
    EDIT_VALUE = 10
    BRIEF_TEXT = 11


def e(text: object) -> str:
    return html.escape(str(text))


def when(context: CallsheetContext, value: datetime) -> str:
    """A date as people read it, with the year when it is not this year."""
    return context.services.when(value)


def span(context: CallsheetContext, event: Event) -> str:
    """'Sat 5 Dec, 18:00 to 23:00', and the end's day when it ends after midnight."""
    tz = context.services.settings.tz
    text = format_span(event.starts_at, event.ends_at, tz, context.services.clock.now())
    days = (event.ends_at.astimezone(tz).date() - event.starts_at.astimezone(tz).date()).days
    return text + (" (ends the next day)" if days == 1 else "")


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else (many or one + 's')}"


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    message = update.effective_message
    assert message is not None
    await message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def manager(update: Update, context: CallsheetContext) -> Person | None:
    """The sender if they are a manager; otherwise tells them so and returns None."""
    person = await current_person(update, context)
    if person is not None and person.is_manager:
        return person
    text = "Only managers can do that. Send /help to see what you can do."
    if update.callback_query is not None:
        await update.callback_query.answer(text, show_alert=True)
    elif update.effective_message is not None:
        await update.effective_message.reply_text(text)
    return None


def managers_only(
    callback: Callable[[Update, CallsheetContext], Coroutine[Any, Any, None]],
) -> Callable[[Update, CallsheetContext], Coroutine[Any, Any, None]]:
    """Refuse crew before reading any argument, so they learn nothing about events."""

    @functools.wraps(callback)
    async def checked(update: Update, context: CallsheetContext) -> None:
        if await manager(update, context) is not None:
            await callback(update, context)

    return checked


def args_text(update: Update) -> str:
    message = update.effective_message
    text = (message.text or "") if message else ""
    return text.split(maxsplit=1)[1].strip() if len(text.split(maxsplit=1)) > 1 else ""


def chat_id(update: Update) -> int | None:
    return update.effective_chat.id if update.effective_chat else None


def event_id_from(text: str) -> int | None:
    cleaned = text.strip().lstrip("#")
    return int(cleaned) if cleaned.isdigit() else None


def parts(update: Update) -> list[str]:
    assert update.callback_query is not None and update.callback_query.data is not None
    return update.callback_query.data.split(":")


# --- /newevent -----------------------------------------------------------------------------


async def newevent(update: Update, context: CallsheetContext) -> int:
    actor = await manager(update, context)
    if actor is None:
        return ConversationHandler.END
    inline = args_text(update)
    service = context.services.events
    if inline:
        try:
            draft = service.parse_inline(inline)
            event = await service.create(draft, actor=actor, chat_id=chat_id(update))
        except CallsheetError as exc:
            await reply(update, f"❌ {e(exc)}\n\nNothing was saved.")
            return ConversationHandler.END
        await created(update, context, event)
        return ConversationHandler.END
    assert context.user_data is not None
    context.user_data["draft"] = EventDraft()
    await reply(
        update,
        "New event. What is it called? (Send /cancel to stop.)\n\n"
        f"Tip: you can give everything at once:\n<code>{e(INLINE_FORMAT)}</code>",
        CANCEL_BUTTON,
    )
    return NewEvent.TITLE


async def created(update: Update, context: CallsheetContext, event: Event) -> None:
    await reply(
        update,
        f"✅ Event #{event.id} created: <b>{e(event.title)}</b>, "
        f"{e(span(context, event))} at {e(event.venue)}.\n"
        f"Next: assign crew with /assign {event.id} | &lt;phone&gt; | &lt;role&gt; "
        "or the button below.",
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton("Assign crew", callback_data=f"evt:assign:{event.id}"),
                    InlineKeyboardButton("Open the event", callback_data=f"evt:card:{event.id}"),
                ]
            ]
        ),
    )


def step(
    state: NewEvent,
    apply: Callable[[CallsheetContext, EventDraft, str], None],
    question: str,
    next_state: NewEvent | None,
    skippable: bool = False,
) -> Handler:
    async def handle(update: Update, context: CallsheetContext) -> int:
        assert context.user_data is not None
        draft: EventDraft | None = context.user_data.get("draft")
        if draft is None:
            return ConversationHandler.END
        if update.callback_query is not None:
            await update.callback_query.answer()
            text = "-"
        else:
            assert update.message is not None
            text = update.message.text or ""
        try:
            apply(context, draft, text)
        except CallsheetError as exc:
            await reply(update, f"❌ {e(exc)}\nPlease try again.", CANCEL_BUTTON)
            return state
        if next_state is None:
            actor = await manager(update, context)
            context.user_data.pop("draft", None)
            if actor is None:
                return ConversationHandler.END
            try:
                event = await context.services.events.create(
                    draft, actor=actor, chat_id=chat_id(update)
                )
            except CallsheetError as exc:
                await reply(update, f"❌ {e(exc)}\n\nNothing was saved.")
                return ConversationHandler.END
            await created(update, context, event)
            return ConversationHandler.END
        await reply(update, question, SKIP_AND_CANCEL if skippable else CANCEL_BUTTON)
        return next_state

    return handle


def _title(c: CallsheetContext, d: EventDraft, t: str) -> None:
    d.title = c.services.events.clean_title(t)


def _start(c: CallsheetContext, d: EventDraft, t: str) -> None:
    d.starts_at = c.services.events.parse_start(t)


def _end(c: CallsheetContext, d: EventDraft, t: str) -> None:
    assert d.starts_at is not None
    d.ends_at = c.services.events.parse_end(t, d.starts_at)


def _venue(c: CallsheetContext, d: EventDraft, t: str) -> None:
    d.venue = c.services.events.clean_venue(t)


def _call(c: CallsheetContext, d: EventDraft, t: str) -> None:
    assert d.starts_at is not None
    d.call_at = c.services.events.parse_call(t, d.starts_at)


def _notes(c: CallsheetContext, d: EventDraft, t: str) -> None:
    d.notes = c.services.events.clean_notes(t)


def _target(c: CallsheetContext, d: EventDraft, t: str) -> None:
    d.crew_target = c.services.events.parse_target(t)


async def stop(update: Update, context: CallsheetContext) -> int:
    if context.user_data is not None:
        context.user_data.pop("draft", None)
        context.user_data.pop("typed", None)
    if update.callback_query is not None:
        await update.callback_query.answer("Cancelled")
    await reply(update, "Cancelled. Nothing was saved.")
    return ConversationHandler.END


# --- /events, /event and the card --------------------------------------------------------


EVENTS_PAGE = 8  # lines of up to ~430 characters each: a page stays under Telegram's 4,096


async def events_list(update: Update, context: CallsheetContext) -> None:
    actor = await manager(update, context)
    if actor is None:
        return
    text, markup = await render_events(context, actor, 0)
    await reply(update, text, markup)


async def events_page_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = await manager(update, context)
    if actor is None:
        return
    await query.answer()
    text, markup = await render_events(context, actor, int(parts(update)[2]))
    if isinstance(query.message, Message):
        await query.message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def render_events(
    context: CallsheetContext, actor: Person, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of upcoming events, soonest first, with « Earlier / Later » to move."""
    service = context.services.events
    total = await service.count_upcoming(actor)
    if not total:
        return "No upcoming events. Create one with /newevent.", None
    pages = (total + EVENTS_PAGE - 1) // EVENTS_PAGE
    page = max(0, min(page, pages - 1))
    summaries = await service.upcoming(actor, offset=page * EVENTS_PAGE, limit=EVENTS_PAGE)
    header = "<b>Upcoming events</b>"
    if pages > 1:
        header += f" ({total}, page {page + 1} of {pages})"
    lines = [header, ""]
    buttons = []
    for s in summaries:
        c = s.counts
        line = (
            f"#{s.event.id} <b>{e(s.event.title)}</b> — {e(when(context, s.event.starts_at))}, "
            f"{e(s.event.venue)}"
        )
        tally = crew_tally(c.confirmed, c.invited, c.declined)
        if c.needed:
            tally.append(f"needs {c.needed} more")
        lines.append(line + ("\n   " + " · ".join(tally) if tally else "\n   no crew yet"))
        buttons.append(
            [
                InlineKeyboardButton(
                    f"#{s.event.id} {s.event.title}"[:60], callback_data=f"evt:card:{s.event.id}"
                )
            ]
        )
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton("« Earlier", callback_data=f"evt:list:{page - 1}"))
    if page < pages - 1:
        nav.append(InlineKeyboardButton("Later »", callback_data=f"evt:list:{page + 1}"))
    if nav:
        buttons.append(nav)
    return "\n".join(lines), InlineKeyboardMarkup(buttons)


def crew_tally(confirmed: int, invited: int, declined: int) -> list[str]:
    """'✅ 2 confirmed · ⏳ 1 invited', leaving out what is zero."""
    parts = []
    if confirmed:
        parts.append(f"✅ {confirmed} confirmed")
    if invited:
        parts.append(f"⏳ {invited} invited")
    if declined:
        parts.append(f"❌ {declined} declined")
    return parts


def render_card(
    card: EventCard, context: CallsheetContext, *, payments: bool = False
) -> tuple[str, InlineKeyboardMarkup | None]:
    ev = card.event
    c = card.counts
    lines = [
        f"<b>#{ev.id} {e(ev.title)}</b> ({e(ev.status.value)})",
        f"When: {e(span(context, ev))}",
        f"Call time: {e(when(context, ev.call_at))}",
        f"Venue: {e(ev.venue)}",
    ]
    if ev.notes:
        lines.append(f"Notes: {e(ev.notes)}")
    tally = crew_tally(c.confirmed, c.invited, c.declined) or ["none yet"]
    if c.target:
        tally.append(f"crew {c.target}" + (f", needs {c.needed} more" if c.needed else ""))
    lines += ["", "Crew: " + " · ".join(tally)]
    labels = {
        AssignmentStatus.CONFIRMED: "✅ Confirmed",
        AssignmentStatus.INVITED: "⏳ Invited, no answer yet",
        AssignmentStatus.DECLINED: "❌ Declined",
        AssignmentStatus.COMPLETED: "✅ Worked",
        AssignmentStatus.CANCELLED: "Cancelled",
    }
    for status, label in labels.items():
        people = card.by_status.get(status, [])
        if not people:
            continue
        lines.append(f"\n<b>{label}</b>")
        for index, a in enumerate(people):
            extra = ""
            if status is AssignmentStatus.DECLINED and a.decline_reason:
                extra = f" — “{e(a.decline_reason)}”"
            if card.briefing is not None and status is AssignmentStatus.CONFIRMED:
                extra = " — briefing read ✅" if a.briefing_read_at else " — briefing not read ⏳"
            line = f"• {e(a.person.name)} ({e(a.role)}){extra}"
            if sum(len(x) + 1 for x in lines) + len(line) > ROSTER_BUDGET:
                # Telegram takes 4,096 characters: a big crew is counted, not listed.
                lines.append(f"…and {len(people) - index} more")
                break
            lines.append(line)
    if card.briefing is not None:
        confirmed = card.by_status.get(AssignmentStatus.CONFIRMED, [])
        read = sum(1 for a in confirmed if a.briefing_read_at)
        lines.append(
            f"\nBriefing sent {e(when(context, card.briefing.created_at))}: "
            f"read by {read} of {len(confirmed)}."
        )
    if ev.status.value != "scheduled":
        markup = InlineKeyboardMarkup(
            [[InlineKeyboardButton("History", callback_data=f"evt:history:{ev.id}")]]
        )
        return "\n".join(lines), markup

    def b(text: str, data: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text, callback_data=data)

    rows = [
        [b("Assign crew", f"evt:assign:{ev.id}"), b("Remind", f"evt:remind:{ev.id}")],
        [b("Brief", f"evt:brief:{ev.id}"), b("Edit", f"evt:edit:{ev.id}")],
        [b("Complete", f"evt:complete:{ev.id}"), b("Cancel event", f"evt:cancel:{ev.id}")],
        [b("History", f"evt:history:{ev.id}")],
    ]
    if payments:  # the confirmed crew, one amount each (handlers/batches.py)
        rows[3].insert(0, b("Request payment", f"pay:event:{ev.id}"))
    markup = InlineKeyboardMarkup(rows)
    return "\n".join(lines), markup


async def show_card(update: Update, context: CallsheetContext, event_id: int) -> None:
    actor = await manager(update, context)
    if actor is None:
        return
    try:
        card = await context.services.events.card(event_id, actor=actor)
    except CallsheetError as exc:
        await reply(update, f"❌ {e(exc)}")
        return
    payments = context.services.batches is not None
    text, markup = render_card(card, context, payments=payments)
    await reply(update, text, markup)


async def event_command(update: Update, context: CallsheetContext) -> None:
    text = args_text(update)
    if not text:
        await events_list(update, context)
        return
    event_id = event_id_from(text)
    if event_id is None:
        await reply(update, f"❌ “{e(text)}” is not an event number. Use it like /event 12.")
        return
    await show_card(update, context, event_id)


async def card_button(update: Update, context: CallsheetContext) -> None:
    assert update.callback_query is not None
    if await manager(update, context) is None:
        return
    await update.callback_query.answer()
    await show_card(update, context, int(parts(update)[2]))


async def history_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = await manager(update, context)
    if actor is None:
        return
    try:
        event, entries = await context.services.events.history(int(parts(update)[2]), actor=actor)
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    await query.answer()
    header = f"<b>History of #{event.id} {e(event.title)}</b>"
    lines: list[str] = []
    size = len(header) + 40
    for entry in reversed(entries[-40:]):  # the newest that fit in one message
        line = f"{e(when(context, entry.at))} · {e(entry.actor_label)} · {e(describe(entry))}"
        if size + len(line) + 1 > 3_800:
            lines.append("(older entries left out)")
            break
        size += len(line) + 1
        lines.append(line)
    await reply(update, "\n".join([header, "", *reversed(lines)]))


def describe(entry: AuditLog) -> str:
    d = entry.details or {}
    action = entry.action
    if action == AuditAction.EVENT_CREATED:
        return f"created the event ({d.get('starts')}, {d.get('venue')})"
    if action == AuditAction.EVENT_EDITED:
        return "; ".join(f"changed {c[0]} from {c[1]} to {c[2]}" for c in d.get("changes", []))
    if action == AuditAction.EVENT_CANCELLED:
        return f"cancelled the event ({plural(d.get('told', 0), 'person', 'people')} told)"
    if action == AuditAction.EVENT_COMPLETED:
        return "marked the event completed"
    if action == AuditAction.EVENT_REMINDED:
        return f"sent a reminder to {d.get('sent_to')} crew"
    if action == AuditAction.EVENT_BRIEFED:
        return f"sent the briefing to {d.get('sent_to')} crew"
    if action == AuditAction.ASSIGNMENT_INVITED:
        text = f"invited {d.get('person')} as {d.get('role')}"
        if d.get("despite_overlap"):
            text += f" (despite {d['despite_overlap']})"
        return text
    if action == AuditAction.ASSIGNMENT_REINVITED:
        return f"invited {d.get('person')} again as {d.get('role')} (had {d.get('from')})"
    if action == AuditAction.ASSIGNMENT_CONFIRMED:
        return "confirmed"
    if action == AuditAction.ASSIGNMENT_DECLINED:
        return "declined" + (" after confirming" if d.get("from") == "confirmed" else "")
    if action == AuditAction.ASSIGNMENT_REASON:
        return f"gave a reason: {d.get('reason')}"
    if action == AuditAction.ASSIGNMENT_CANCELLED:
        return f"took {d.get('person')} off the event ({d.get('reason')})"
    if action == AuditAction.ASSIGNMENT_BRIEFING_READ:
        return "read the briefing"
    if action == AuditAction.PAYMENT_BATCH_STARTED:
        people = len(d.get("people", []))
        return f"asked {people} crew for KES {d.get('amount', 0):,} each ({d.get('purpose')})"
    if action == AuditAction.PAYMENT_BATCH_RESEND:
        return f"sent the payment request again to {d.get('people')} crew"
    return action


async def remind(update: Update, context: CallsheetContext, event_id: int) -> None:
    actor = await manager(update, context)
    if actor is None:
        return
    try:
        sent = await context.services.assignments.remind_now(
            event_id, actor=actor, chat_id=chat_id(update)
        )
    except CallsheetError as exc:
        if update.callback_query is not None:
            await update.callback_query.answer(str(exc)[:200], show_alert=True)
        else:
            await reply(update, f"❌ {e(exc)}")
        return
    if update.callback_query is not None:
        await update.callback_query.answer(f"Reminder sent to {sent} crew")
    await reply(update, f"✅ Reminder sent to {plural(sent, 'confirmed crew member')}.")


async def remind_command(update: Update, context: CallsheetContext) -> None:
    text = args_text(update)
    event_id = event_id_from(text)
    if event_id is None:
        if text:
            await reply(update, f"❌ “{e(text)}” is not an event number. Use it like /remind 12.")
        else:
            await pick_event(update, context, "remind", "Remind the crew of which event?")
        return
    await remind(update, context, event_id)


async def remind_button(update: Update, context: CallsheetContext) -> None:
    await remind(update, context, int(parts(update)[2]))


async def pick_event(update: Update, context: CallsheetContext, action: str, question: str) -> None:
    actor = await manager(update, context)
    if actor is None:
        return
    summaries = await context.services.events.upcoming(actor, limit=30)
    if not summaries:
        await reply(update, "No upcoming events. Create one with /newevent.")
        return
    rows = [
        [
            InlineKeyboardButton(
                f"#{s.event.id} {s.event.title}"[:60], callback_data=f"evt:{action}:{s.event.id}"
            )
        ]
        for s in summaries[:30]
    ]
    await reply(update, question, InlineKeyboardMarkup(rows))


async def complete_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = await manager(update, context)
    if actor is None:
        return
    try:
        done = await context.services.events.complete(
            int(parts(update)[2]), actor=actor, chat_id=chat_id(update)
        )
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    await query.answer("Completed")
    await reply(update, f"✅ Event completed. {plural(done, 'crew member')} marked as worked.")


async def cancel_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    if await manager(update, context) is None:
        return
    event_id = int(parts(update)[2])
    await query.answer()
    await reply(
        update,
        f"Cancel event #{event_id}? Everyone invited or confirmed will be told.",
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        "Yes, cancel it", callback_data=f"evt:cancelok:{event_id}"
                    ),
                    InlineKeyboardButton("No, keep it", callback_data=f"evt:card:{event_id}"),
                ]
            ]
        ),
    )


async def cancel_confirmed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = await manager(update, context)
    if actor is None:
        return
    try:
        told = await context.services.events.cancel(
            int(parts(update)[2]), actor=actor, chat_id=chat_id(update)
        )
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    await query.answer("Event cancelled")
    told_text = (
        "No one was invited, so no one needed telling."
        if not told
        else f"{plural(told, 'person', 'people')} {'is' if told == 1 else 'are'} being told."
    )
    await query.edit_message_text(f"❌ Event cancelled. {told_text}")


# --- edits and briefings: a value typed after a button or a bare command -------------------


async def edit_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    if await manager(update, context) is None:
        return
    event_id = int(parts(update)[2])
    await query.answer()
    rows = [
        [InlineKeyboardButton(label, callback_data=f"evt:ef:{event_id}:{field.value}")]
        for field, label in FIELD_LABELS.items()
    ]
    await reply(
        update, f"What do you want to change on event #{event_id}?", InlineKeyboardMarkup(rows)
    )


async def edit_field_button(update: Update, context: CallsheetContext) -> int:
    query = update.callback_query
    assert query is not None and context.user_data is not None
    if await manager(update, context) is None:
        return ConversationHandler.END
    _, _, event_id, field = parts(update)
    what = parse_field(field)  # an old message's button may still say "target"
    await query.answer()
    context.user_data["typed"] = ("edit", int(event_id), what.value)
    hint = {
        EditField.START: "Type the new start, like 2026-12-05 18:00 or just 19:00 (same day).",
        EditField.CALL: "Type the new call time, like 15:00.",
        EditField.END: "Type the new end, like 23:30 (a time before the start means the next day).",
        EditField.CREW: "Type how many crew are needed, like 6 (or - for no number).",
        EditField.NOTES: "Type the new notes (or - for none).",
    }.get(what, f"Type the new {FIELD_LABELS[what].lower()}.")
    await reply(update, hint, CANCEL_BUTTON)
    return Typed.EDIT_VALUE


async def do_edit(
    update: Update, context: CallsheetContext, event_id: int, what: EditField, value: str
) -> bool:
    actor = await manager(update, context)
    if actor is None:
        return True
    try:
        edited = await context.services.events.edit(
            event_id, what, value, actor=actor, chat_id=chat_id(update)
        )
    except CallsheetError as exc:
        await reply(update, f"❌ {e(exc)}\nNothing was changed.")
        return False
    if not edited.changes:
        await reply(update, "That is what it already was; nothing changed.")
        return True
    text = "\n".join(f"{e(c.label)}: {e(c.before)} → <b>{e(c.after)}</b>" for c in edited.changes)
    if what is EditField.END:
        event = await context.services.events.get(event_id)
        if context.services.events.ends_next_day(event):
            text += "\n(It ends the next day: an end before the start means after midnight.)"
    await reply(update, f"✅ Saved.\n{text}\n{who_was_told(what, edited)}")
    return True


def who_was_told(what: EditField, edited: Edited) -> str:
    if what is EditField.CREW:
        return "This is for you only; crew are not told."
    told = edited.confirmed_told + edited.invited_told
    if not told:
        return "No crew are on this event yet, so no one needed telling."
    parts = []
    if edited.confirmed_told:
        parts.append(f"{edited.confirmed_told} confirmed")
    if edited.invited_told:
        parts.append(f"{edited.invited_told} not answered yet")
    verb = "is" if told == 1 else "are"
    return f"{plural(told, 'crew member')} ({', '.join(parts)}) {verb} being told."


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


async def editevent_command(update: Update, context: CallsheetContext) -> None:
    text = args_text(update)
    if not text:
        await pick_event(update, context, "edit", "Which event do you want to change?")
        return
    fields = [p.strip() for p in text.split("|")]
    names = ", ".join(f.value for f in EditField)
    if len(fields) != 3 or event_id_from(fields[0]) is None:
        await reply(
            update, f"❌ Use it like /editevent 12 | venue | KICC, Nairobi. Fields: {names}."
        )
        return
    try:
        what = parse_field(fields[1])
    except CallsheetError as exc:
        await reply(update, f"❌ {e(exc)}")
        return
    event_id = event_id_from(fields[0])
    assert event_id is not None
    await do_edit(update, context, event_id, what, fields[2])


async def brief_start(update: Update, context: CallsheetContext) -> int:
    assert context.user_data is not None
    actor = await manager(update, context)
    if actor is None:
        return ConversationHandler.END
    if update.callback_query is not None:
        await update.callback_query.answer()
        event_id: int | None = int(parts(update)[2])
    else:
        text = args_text(update)
        if not text:
            await pick_event(update, context, "brief", "Brief the crew of which event?")
            return ConversationHandler.END
        head, sep, body = text.partition("|")
        event_id = event_id_from(head)
        if event_id is None:
            await reply(update, "❌ Use it like /brief 12 | Load in at gate B, 14:00.")
            return ConversationHandler.END
        if sep and body.strip():
            await send_brief(update, context, event_id, body)
            return ConversationHandler.END
    context.user_data["typed"] = ("brief", event_id)
    await reply(
        update,
        f"Type the briefing for event #{event_id}. Confirmed crew get it with the event "
        "details and the full crew list.",
        CANCEL_BUTTON,
    )
    return Typed.BRIEF_TEXT


async def send_brief(update: Update, context: CallsheetContext, event_id: int, text: str) -> bool:
    actor = await manager(update, context)
    if actor is None:
        return True
    try:
        sent = await context.services.assignments.brief(
            event_id, text, actor=actor, chat_id=chat_id(update)
        )
    except CallsheetError as exc:
        await reply(update, f"❌ {e(exc)}")
        return False
    await reply(
        update,
        f"✅ Briefing sent to {plural(sent, 'confirmed crew member')}. "
        f"/event {event_id} shows who has read it.",
    )
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


def register(application: Application) -> None:  # type: ignore[type-arg]
    text = filters.TEXT & ~filters.COMMAND
    cancel: list[Any] = [
        CommandHandler("cancel", stop),
        CallbackQueryHandler(stop, pattern=r"^evt:stop:"),
    ]
    # PTB warns that callback buttons in a per-chat conversation are not tracked per
    # message; that is what we want (Skip/Cancel belong to the conversation, not a message).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)
        new_event = ConversationHandler(
            entry_points=[CommandHandler("newevent", newevent)],
            states={
                NewEvent.TITLE: [
                    MessageHandler(
                        text,
                        step(
                            NewEvent.TITLE,
                            _title,
                            "When does it start? For example 2026-12-05 18:00, 5/12 18:00, sat 18:00.",
                            NewEvent.START,
                        ),
                    )
                ],
                NewEvent.START: [
                    MessageHandler(
                        text,
                        step(
                            NewEvent.START,
                            _start,
                            "When does it end? A time like 23:00 means the same day; "
                            "one before the start, like 02:00, means the next day.",
                            NewEvent.END,
                        ),
                    )
                ],
                NewEvent.END: [
                    MessageHandler(
                        text, step(NewEvent.END, _end, "Where is it? (the venue)", NewEvent.VENUE)
                    )
                ],
                NewEvent.VENUE: [
                    MessageHandler(
                        text,
                        step(
                            NewEvent.VENUE,
                            _venue,
                            "What is the crew call time? Like 15:00, or Skip to use the start time.",
                            NewEvent.CALL,
                            skippable=True,
                        ),
                    )
                ],
                NewEvent.CALL: [
                    MessageHandler(
                        text,
                        step(
                            NewEvent.CALL,
                            _call,
                            "Any notes for the crew? Or Skip.",
                            NewEvent.NOTES,
                            skippable=True,
                        ),
                    ),
                    CallbackQueryHandler(
                        step(
                            NewEvent.CALL,
                            _call,
                            "Any notes for the crew? Or Skip.",
                            NewEvent.NOTES,
                            skippable=True,
                        ),
                        pattern=r"^evt:skip:",
                    ),
                ],
                NewEvent.NOTES: [
                    MessageHandler(
                        text,
                        step(
                            NewEvent.NOTES,
                            _notes,
                            "How many crew does it need? Like 6, or Skip.",
                            NewEvent.TARGET,
                            skippable=True,
                        ),
                    ),
                    CallbackQueryHandler(
                        step(
                            NewEvent.NOTES,
                            _notes,
                            "How many crew does it need? Like 6, or Skip.",
                            NewEvent.TARGET,
                            skippable=True,
                        ),
                        pattern=r"^evt:skip:",
                    ),
                ],
                NewEvent.TARGET: [
                    MessageHandler(text, step(NewEvent.TARGET, _target, "", None)),
                    CallbackQueryHandler(
                        step(NewEvent.TARGET, _target, "", None), pattern=r"^evt:skip:"
                    ),
                ],
            },
            fallbacks=cancel,
            name="newevent",
        )
        typed_value = ConversationHandler(
            entry_points=[
                CallbackQueryHandler(edit_field_button, pattern=r"^evt:ef:\d+:\w+$"),
                CommandHandler("brief", brief_start),
                CallbackQueryHandler(brief_start, pattern=r"^evt:brief:\d+$"),
            ],
            states={
                Typed.EDIT_VALUE: [MessageHandler(text, edit_value)],
                Typed.BRIEF_TEXT: [MessageHandler(text, brief_text)],
            },
            fallbacks=cancel,
            name="typed",
        )
    application.add_handler(new_event)
    application.add_handler(typed_value)
    application.add_handler(CommandHandler("events", events_list))
    application.add_handler(CommandHandler("event", managers_only(event_command)))
    application.add_handler(CommandHandler("editevent", managers_only(editevent_command)))
    application.add_handler(CommandHandler("remind", managers_only(remind_command)))
    application.add_handler(CallbackQueryHandler(card_button, pattern=r"^evt:card:\d+$"))
    application.add_handler(CallbackQueryHandler(events_page_button, pattern=r"^evt:list:\d{1,6}$"))
    application.add_handler(CallbackQueryHandler(history_button, pattern=r"^evt:history:\d+$"))
    application.add_handler(CallbackQueryHandler(remind_button, pattern=r"^evt:remind:\d+$"))
    application.add_handler(CallbackQueryHandler(complete_button, pattern=r"^evt:complete:\d+$"))
    application.add_handler(CallbackQueryHandler(cancel_button, pattern=r"^evt:cancel:\d+$"))
    application.add_handler(CallbackQueryHandler(cancel_confirmed, pattern=r"^evt:cancelok:\d+$"))
    application.add_handler(CallbackQueryHandler(edit_button, pattern=r"^evt:edit:\d+$"))
    application.add_handler(CallbackQueryHandler(stop, pattern=r"^evt:stop:"))
