"""Assigning crew (/assign and pickers), crew answers (Confirm / Decline), briefings read, /my."""

from __future__ import annotations

import html
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import CallsheetContext
from handlers.common import CREW_COMMANDS, MANAGER_COMMANDS, Command, current_person, unknown_text
from handlers.events import args_text, chat_id, manager, parts, pick_event, reply, when
from models import Assignment, AssignmentStatus
from services.assignments import ASSIGN_FORMAT, REINVITABLE, Answer, MyPage, MySection, Overlap
from services.errors import CallsheetError
from services.people import PeopleService

MANAGER_COMMANDS.append(
    Command("assign", "Invite a person to an event", "/assign 12 | 0712345678 | rigger")
)
CREW_COMMANDS.append(Command("my", "My invitations and assignments"))

REASON_MARKER = re.compile(r"\(invitation #(\d+)\)")
PAGE_SIZE = 8


def e(text: object) -> str:
    return html.escape(str(text))


# --- assigning ---------------------------------------------------------------------------


async def assign_command(update: Update, context: CallsheetContext) -> None:
    actor = await manager(update, context)
    if actor is None:
        return
    text = args_text(update)
    service = context.services.assignments
    if not text:
        await pick_event(update, context, "assign", "Assign crew to which event?")
        return
    try:
        event_id, person_ref, role = service.parse_inline(text)
        assignment = await service.assign(
            event_id, person_ref, role, actor=actor, chat_id=chat_id(update)
        )
    except Overlap as exc:
        person = await PeopleService.find(text.split("|")[1])
        await reply(
            update,
            f"⚠️ {e(exc)}\nAssign anyway?",
            InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            "Assign anyway",
                            callback_data=f"asg:force:{event_id}:{person.id}:{role}"[:64],
                        )
                    ]
                ]
            ),
        )
        return
    except CallsheetError as exc:
        await reply(update, f"❌ {e(exc)}\n\nUse: {e(ASSIGN_FORMAT)}")
        return
    await assigned(update, assignment)


async def assigned(update: Update, assignment: Assignment) -> None:
    person = assignment.person
    how = "goes to them in Telegram"
    if not person.telegram_id:
        how = "goes by email only (not linked to Telegram yet)"
    if not person.telegram_id and not person.email:
        how = "cannot reach them yet: they have no Telegram and no email. Send them their link"
    await reply(
        update,
        f"✅ {e(person.name)} invited to <b>{e(assignment.event.title)}</b> as "
        f"{e(assignment.role)}; the invitation {how}.",
        InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        "Assign someone else", callback_data=f"evt:assign:{assignment.event.id}"
                    ),
                    InlineKeyboardButton(
                        "Open the event", callback_data=f"evt:card:{assignment.event.id}"
                    ),
                ]
            ]
        ),
    )


async def pick_person(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = await manager(update, context)
    if actor is None:
        return
    event_id = int(parts(update)[2])
    try:
        event, candidates = await context.services.assignments.candidates(event_id, actor=actor)
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    await query.answer()
    rows = []
    lines = [f"Who should work <b>{e(event.title)}</b>?"]
    for c in candidates:
        if c.status is not None and c.status not in REINVITABLE:
            continue
        label = c.person.name
        if c.person.skill_list:
            label += f" · {', '.join(c.person.skill_list)}"
        if c.status is AssignmentStatus.DECLINED:
            label = f"↩ {label} (declined; invite again)"
        if c.conflict is not None:
            label = f"⏳ {label} (booked: {c.conflict.title})"
        rows.append(
            [InlineKeyboardButton(label[:60], callback_data=f"asg:pick:{event.id}:{c.person.id}")]
        )
    if not rows:
        await reply(
            update, "Everyone on the crew list is already on this event. Add people with /addcrew."
        )
        return
    if any(c.status is AssignmentStatus.DECLINED for c in candidates):
        lines.append("↩ marks people who declined: tap one to invite them again.")
    if any(c.conflict for c in candidates if c.status is None or c.status in REINVITABLE):
        lines.append("⏳ marks people confirmed on an overlapping event.")
    await reply(update, "\n".join(lines), InlineKeyboardMarkup(rows[:40]))


async def picked(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = await manager(update, context)
    if actor is None:
        return
    data = parts(update)
    event_id, person_id = int(data[2]), int(data[3])
    force = data[1] == "pickf"
    service = context.services.assignments
    try:
        _, candidates = await service.candidates(event_id, actor=actor)
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    candidate = next((c for c in candidates if c.person.id == person_id), None)
    if candidate is None:
        await query.answer("That person is not on the crew list any more.", show_alert=True)
        return
    await query.answer()
    if candidate.conflict is not None and not force:
        await reply(
            update,
            f"⚠️ {e(candidate.person.name)} is confirmed on <b>{e(candidate.conflict.title)}</b> "
            f"({e(when(context, candidate.conflict.call_at))}), "
            "which overlaps. Assign anyway?",
            InlineKeyboardMarkup(
                [
                    [
                        InlineKeyboardButton(
                            "Assign anyway", callback_data=f"asg:pickf:{event_id}:{person_id}"
                        ),
                        InlineKeyboardButton(
                            "Choose someone else", callback_data=f"evt:assign:{event_id}"
                        ),
                    ]
                ]
            ),
        )
        return
    roles = candidate.person.skill_list or ["crew"]
    flag = "f" if force else "n"
    rows = [
        [InlineKeyboardButton(role, callback_data=f"asg:role:{event_id}:{person_id}:{i}:{flag}")]
        for i, role in enumerate(roles[:10])
    ]
    await reply(
        update,
        f"Which role for {e(candidate.person.name)}? (Or type it: /assign {event_id} | "
        f"{person_id} | role)",
        InlineKeyboardMarkup(rows),
    )


async def role_chosen(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    actor = await manager(update, context)
    if actor is None:
        return
    data = parts(update)
    service = context.services.assignments
    try:
        if data[1] == "force":  # from an inline /assign that hit an overlap
            event_id, person_ref, role, force = int(data[2]), data[3], ":".join(data[4:]), True
        else:
            event_id, person_ref = int(data[2]), data[3]
            person = await PeopleService.find(person_ref)
            roles = person.skill_list or ["crew"]
            index = int(data[4])
            if index >= len(roles):
                raise CallsheetError("That role is no longer on the person's list. Pick again.")
            role, force = roles[index], data[5] == "f"
        assignment = await service.assign(
            event_id, person_ref, role, actor=actor, chat_id=chat_id(update), force=force
        )
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    await query.answer("Invited")
    await assigned(update, assignment)


# --- answers -----------------------------------------------------------------------------


async def answer_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    person = await current_person(update, context)
    assert person is not None  # require_known_person ran first
    data = parts(update)
    answer = Answer.CONFIRM if data[1] == "yes" else Answer.DECLINE
    from_my = len(data) > 3 and data[3] == "my"
    service = context.services.assignments
    try:
        result = await service.respond(
            int(data[2]), answer, person=person, chat_id=chat_id(update), wake_outbox=False
        )
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    # The answer is committed: the person's spinner stops first, then the outbox delivers
    # the invitation's edit and the manager's message (they would compete with it).
    try:
        if not result.changed:
            await query.answer(f"You already {result.assignment.status.value} this one.")
        elif answer is Answer.CONFIRM:
            await query.answer("✅ Confirmed. Thank you!")
        else:
            await query.answer("❌ Declined.")
    finally:
        service.outbox.wake()
    if from_my and isinstance(query.message, Message):
        text, markup = render_my(
            await service.my(person, int(data[4]) if len(data) > 4 else 0, PAGE_SIZE), context
        )
        await query.message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)
    if result.changed and answer is Answer.DECLINE:
        assert query.message is not None
        await context.bot.send_message(
            query.message.chat.id,
            f"Sorry you can't make <b>{e(result.event.title)}</b>. If you like, tell your manager "
            f"why: just type the reason and send it, or tap Skip. "
            f"(invitation #{result.assignment.id})",
            parse_mode=ParseMode.HTML,
            reply_markup=InlineKeyboardMarkup(
                [[InlineKeyboardButton("Skip", callback_data=f"asg:skip:{result.assignment.id}")]]
            ),
        )


async def change_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    person = await current_person(update, context)
    assert person is not None
    try:
        await context.services.assignments.reopen(int(parts(update)[2]), person=person)
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    await query.answer("Tap Confirm or Decline")


async def skip_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    person = await current_person(update, context)
    assert person is not None
    try:
        await context.services.assignments.skip_reason(int(parts(update)[2]), person=person)
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    await query.answer("OK, no reason given.")
    if isinstance(query.message, Message):
        await query.message.edit_text(
            "OK, no reason given. Your manager has been told you can't come."
        )


class _ReasonReply(filters.MessageFilter):
    """A reply to our "tell your manager why" message."""

    def filter(self, message: Message) -> bool:
        target = message.reply_to_message
        return bool(
            target is not None
            and target.from_user is not None
            and target.from_user.is_bot
            and REASON_MARKER.search(target.text or "")
        )


async def reason_given(update: Update, context: CallsheetContext) -> None:
    message = update.message
    assert message is not None and message.reply_to_message is not None
    person = await current_person(update, context)
    assert person is not None
    match = REASON_MARKER.search(message.reply_to_message.text or "")
    assert match is not None
    await take_reason(update, context, int(match.group(1)))


async def take_reason(update: Update, context: CallsheetContext, assignment_id: int) -> None:
    message = update.message
    assert message is not None
    person = await current_person(update, context)
    assert person is not None
    try:
        await context.services.assignments.give_reason(
            assignment_id, message.text or "", person=person, chat_id=message.chat_id
        )
    except CallsheetError as exc:
        await reply(update, f"❌ {e(exc)}")
        return
    await reply(update, "Thanks. Your reason is on its way to your manager.")


async def reason_or_unknown(update: Update, context: CallsheetContext) -> None:
    """Plain text no feature took: the reason for an invitation just declined (typed
    without using Reply), or else the usual "Send /help"."""
    person = await current_person(update, context)
    waiting = (
        await context.services.assignments.awaiting_reason(person) if person is not None else None
    )
    if waiting is None:
        await unknown_text(update, context)
        return
    await take_reason(update, context, waiting)


async def read_pressed(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    person = await current_person(update, context)
    assert person is not None
    try:
        await context.services.assignments.acknowledge(
            int(parts(update)[2]), person=person, chat_id=chat_id(update)
        )
    except CallsheetError as exc:
        await query.answer(str(exc)[:200], show_alert=True)
        return
    await query.answer("Thanks, noted.")
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(
            InlineKeyboardMarkup([[InlineKeyboardButton("✅ Read", callback_data="asg:noop:0")]])
        )


async def noop(update: Update, context: CallsheetContext) -> None:
    assert update.callback_query is not None
    await update.callback_query.answer()


# --- /my ---------------------------------------------------------------------------------


SECTION_TITLES = {
    MySection.PENDING: "⏳ Waiting for your answer",
    MySection.UPCOMING: "✅ Coming up",
    MySection.PAST: "Past",
    MySection.DECLINED: "❌ Declined",
}


def render_my(mine: MyPage, context: CallsheetContext) -> tuple[str, InlineKeyboardMarkup | None]:
    if not mine.entries:
        return "You have no invitations or assignments yet.", None
    page = mine.page
    lines: list[str] = []
    rows: list[list[InlineKeyboardButton]] = []
    current = None
    for section, a in mine.entries:
        if section != current:
            lines.append(f"\n<b>{SECTION_TITLES[section]}</b>")
            current = section
        ev = a.event
        # People know an event by its number (/event 1, the invitation); the buttons carry
        # the invitation's own id.
        line = (
            f"#{ev.id} {e(ev.title)} — {e(when(context, ev.starts_at))}, {e(ev.venue)}, "
            f"as {e(a.role)}"
        )
        if section in (MySection.PENDING, MySection.UPCOMING):
            line += f" (call {e(when(context, ev.call_at))})"
        lines.append(line)
        if section is MySection.PENDING:
            rows.append(
                [
                    InlineKeyboardButton(
                        f"✅ Confirm #{ev.id}", callback_data=f"asg:yes:{a.id}:my:{page}"
                    ),
                    InlineKeyboardButton(
                        f"❌ Decline #{ev.id}", callback_data=f"asg:no:{a.id}:my:{page}"
                    ),
                ]
            )
    if mine.pages > 1:
        nav = []
        if page > 0:
            nav.append(InlineKeyboardButton("◀ Newer", callback_data=f"asg:my:{page - 1}"))
        if page < mine.pages - 1:
            nav.append(InlineKeyboardButton("Older ▶", callback_data=f"asg:my:{page + 1}"))
        rows.append(nav)
        lines.append(f"\nPage {page + 1} of {mine.pages}")
    return "<b>Your assignments</b>\n" + "\n".join(lines), InlineKeyboardMarkup(
        rows
    ) if rows else None


async def my_command(update: Update, context: CallsheetContext) -> None:
    person = await current_person(update, context)
    assert person is not None
    text, markup = render_my(await context.services.assignments.my(person, 0, PAGE_SIZE), context)
    await reply(update, text, markup)


async def my_page(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None
    person = await current_person(update, context)
    assert person is not None
    await query.answer()
    text, markup = render_my(
        await context.services.assignments.my(person, int(parts(update)[2]), PAGE_SIZE), context
    )
    if isinstance(query.message, Message):
        await query.message.edit_text(text, parse_mode=ParseMode.HTML, reply_markup=markup)


def register(application: Application) -> None:  # type: ignore[type-arg]
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & _ReasonReply(), reason_given)
    )
    application.add_handler(CommandHandler("assign", assign_command))
    application.add_handler(CommandHandler("my", my_command))
    application.add_handler(CallbackQueryHandler(pick_person, pattern=r"^evt:assign:\d+$"))
    application.add_handler(CallbackQueryHandler(picked, pattern=r"^asg:pickf?:\d+:\d+$"))
    application.add_handler(CallbackQueryHandler(role_chosen, pattern=r"^asg:(role|force):"))
    application.add_handler(CallbackQueryHandler(answer_pressed, pattern=r"^asg:(yes|no):\d+"))
    application.add_handler(CallbackQueryHandler(change_pressed, pattern=r"^asg:change:\d+$"))
    application.add_handler(CallbackQueryHandler(skip_pressed, pattern=r"^asg:skip:\d+$"))
    application.add_handler(CallbackQueryHandler(read_pressed, pattern=r"^asg:read:\d+$"))
    application.add_handler(CallbackQueryHandler(my_page, pattern=r"^asg:my:\d+$"))
    application.add_handler(CallbackQueryHandler(noop, pattern=r"^asg:noop:"))


def register_reason_catcher(application: Application) -> None:  # type: ignore[type-arg]
    """After every feature (so no conversation loses its text), before the fallbacks."""
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, reason_or_unknown))
