"""The manager's side: /assign in one line, or the crew picker (event → person → role)."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot.context import CallsheetApplication, CallsheetContext
from handlers.events._common import button, pick_event
from handlers.shared import args_text, chat_id, managers_only, reply
from models import Assignment, AssignmentStatus
from services.assignments import ASSIGN_FORMAT, REINVITABLE, Overlap, PersonOff
from services.buttons.assignments import (
    AssignAnyway,
    Forced,
    PickPerson,
    PickPersonAnyway,
    PickRole,
)
from services.buttons.events import AssignCrew, OpenCard
from services.errors import CallsheetError, Conflict
from services.people import PeopleService


@managers_only()
async def assign_command(update: Update, context: CallsheetContext) -> None:
    assert context.person is not None
    text = args_text(update)
    service = context.services.assignments
    if not text:
        await pick_event(update, context, AssignCrew, "assignments/pick_event")
        return
    try:
        event_id, person_ref, role = service.parse_inline(text)
        assignment = await service.assign(
            event_id, person_ref, role, actor=context.person, chat_id=chat_id(update)
        )
    except (Overlap, PersonOff) as exc:  # the manager must say "assign anyway"
        person = await PeopleService.find(text.split("|")[1])
        anyway = AssignAnyway.fitting(event_id, person.id, role)
        markup = InlineKeyboardMarkup([[button("Assign anyway", anyway)]])
        await reply(update, context, "assignments/overlap", markup, error=exc)
        return
    except CallsheetError as exc:  # the refusal, then how the command is written
        await reply(update, context, "assignments/refused", error=exc, usage=ASSIGN_FORMAT)
        return
    await assigned(update, context, assignment)


async def assigned(update: Update, context: CallsheetContext, assignment: Assignment) -> None:
    event_id = assignment.event.id
    markup = InlineKeyboardMarkup(
        [
            [
                button("Assign someone else", AssignCrew(event_id)),
                button("Open the event", OpenCard(event_id)),
            ]
        ]
    )
    await reply(update, context, "assignments/assigned", markup, assignment=assignment)


@managers_only()
async def pick_person(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = AssignCrew.parse(query.data)
    assert press is not None
    event, candidates = await context.services.assignments.candidates(
        press.event_id, actor=context.person
    )
    await query.answer()
    rows = []
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
        if c.off is not None:
            label = f"{label} · 🏖 off {context.services.availability.span(c.off)}"
        rows.append([button(label[:60], PickPerson(event.id, c.person.id))])
    if not rows:
        await reply(update, context, "assignments/everyone_on")
        return
    await reply(
        update,
        context,
        "assignments/pick_person",
        InlineKeyboardMarkup(rows[:40]),
        event=event,
        declined=any(c.status is AssignmentStatus.DECLINED for c in candidates),
        booked=any(c.conflict for c in candidates if c.status is None or c.status in REINVITABLE),
        off=any(c.off for c in candidates if c.status is None or c.status in REINVITABLE),
    )


@managers_only()
async def picked(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    press = PickPerson.parse(query.data) or PickPersonAnyway.parse(query.data)
    assert press is not None
    event_id, person_id = press.event_id, press.person_id
    force = isinstance(press, PickPersonAnyway)
    _, candidates = await context.services.assignments.candidates(event_id, actor=context.person)
    candidate = next((c for c in candidates if c.person.id == person_id), None)
    if candidate is None:
        await query.answer("That person is not on the crew list any more.", show_alert=True)
        return
    await query.answer()
    if (candidate.conflict is not None or candidate.off is not None) and not force:
        markup = InlineKeyboardMarkup(
            [
                [
                    button("Assign anyway", PickPersonAnyway(event_id, person_id)),
                    button("Choose someone else", AssignCrew(event_id)),
                ]
            ]
        )
        off_span = context.services.availability.span(candidate.off) if candidate.off else ""
        await reply(
            update,
            context,
            "assignments/overlap_picked",
            markup,
            candidate=candidate,
            off_span=off_span,
        )
        return
    roles = candidate.person.skill_list or ["crew"]
    flag = Forced.YES if force else Forced.NO
    rows = [
        [button(role, PickRole(event_id, person_id, i, flag))] for i, role in enumerate(roles[:10])
    ]
    await reply(
        update,
        context,
        "assignments/which_role",
        InlineKeyboardMarkup(rows),
        person=candidate.person,
        event_id=event_id,
    )


@managers_only()
async def role_chosen(update: Update, context: CallsheetContext) -> None:
    query = update.callback_query
    assert query is not None and context.person is not None
    anyway = AssignAnyway.parse(query.data)
    if anyway is not None:  # from an inline /assign that hit an overlap
        event_id, person_id, role, force = anyway.event_id, anyway.person_id, anyway.role, True
    else:
        press = PickRole.parse(query.data)
        assert press is not None
        event_id, person_id = press.event_id, press.person_id
        person = await PeopleService.find(str(person_id))
        roles = person.skill_list or ["crew"]
        if press.index >= len(roles):
            raise Conflict("That role is no longer on the person's list. Pick again.")
        role, force = roles[press.index], press.forced is Forced.YES
    assignment = await context.services.assignments.assign(
        event_id, person_id, role, actor=context.person, chat_id=chat_id(update), force=force
    )
    await query.answer("Invited")
    await assigned(update, context, assignment)


def register(application: CallsheetApplication) -> None:
    application.add_handler(CommandHandler("assign", assign_command))
    application.add_handler(CallbackQueryHandler(pick_person, pattern=AssignCrew.matches))
    application.add_handler(
        CallbackQueryHandler(
            picked, pattern=lambda data: PickPerson.matches(data) or PickPersonAnyway.matches(data)
        )
    )
    application.add_handler(
        CallbackQueryHandler(
            role_chosen, pattern=lambda data: PickRole.matches(data) or AssignAnyway.matches(data)
        )
    )
