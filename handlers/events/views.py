"""/events (a page of upcoming events) and an event's history."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.events._common import button
from handlers.shared import managers_only, plural, render, reply
from models import AuditAction, AuditLog
from services.buttons.events import EventsPage, OpenCard, ShowHistory
from services.notifications import Renderer

EVENTS_PAGE = 8  # lines of up to ~430 characters each: a page stays under Telegram's 4,096
HISTORY_BUDGET = 3_800  # characters of history lines in one message


@managers_only()
async def events_list(update: Update, context: CallsheetContext) -> None:
    text, markup = await render_events(context, 0)
    await reply_html(update, text, markup)


@managers_only()
async def events_page_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    press = EventsPage.parse(query.data)
    assert press is not None
    await query.answer()
    text, markup = await render_events(context, press.page)
    if isinstance(query.message, Message):
        await query.message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def reply_html(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Send what `render` already made (a reply that is built, then sent or edited in)."""
    assert update.effective_message is not None
    await update.effective_message.reply_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def render_events(
    context: CallsheetContext, page: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of upcoming events, soonest first, with « Earlier / Later » to move."""
    assert context.person is not None
    service = context.services.events
    total = await service.count_upcoming(context.person)
    if not total:
        return render(context, "events/no_upcoming"), None
    pages = (total + EVENTS_PAGE - 1) // EVENTS_PAGE
    page = max(0, min(page, pages - 1))
    summaries = await service.upcoming(context.person, offset=page * EVENTS_PAGE, limit=EVENTS_PAGE)
    rows = [
        [button(f"#{s.event.id} {s.event.title}"[:60], OpenCard(s.event.id))] for s in summaries
    ]
    nav = []
    if page > 0:
        nav.append(button("« Earlier", EventsPage(page - 1)))
    if page < pages - 1:
        nav.append(button("Later »", EventsPage(page + 1)))
    if nav:
        rows.append(nav)
    text = render(context, "events/list", summaries=summaries, total=total, page=page, pages=pages)
    return text, InlineKeyboardMarkup(rows)


@managers_only()
async def history_button(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = ShowHistory.parse(query.data)
    assert press is not None
    event, entries = await context.services.events.history(press.event_id, actor=context.person)
    await query.answer()
    renderer = context.services.notifier.renderer
    header = len(render(context, "events/history", event=event, entries=[], cut=False)) + 40
    shown: list[AuditLog] = []
    size, cut = header, False
    for entry in reversed(entries[-40:]):  # the newest that fit in one message
        line = len(_line(renderer, context, entry))
        if size + line + 1 > HISTORY_BUDGET:
            cut = True
            break
        size += line + 1
        shown.append(entry)
    await reply(
        update,
        context,
        "events/history",
        event=event,
        entries=[(entry, describe(entry)) for entry in reversed(shown)],
        cut=cut,
    )


def _line(renderer: Renderer, context: CallsheetContext, entry: AuditLog) -> str:
    """One history line as sent, to measure it against the budget."""
    return renderer.reply(
        "events/history_line",
        {"entry": entry, "what": describe(entry), "now": context.services.clock.now()},
    )


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
    return str(action)


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("events", events_list))
    application.add_handler(CallbackQueryHandler(events_page_button, pattern=EventsPage.matches))
    application.add_handler(CallbackQueryHandler(history_button, pattern=ShowHistory.matches))
