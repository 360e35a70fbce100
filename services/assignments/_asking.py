"""Asking someone to answer an assignment (an invitation, or a backup offer): the chat
message with Confirm / Decline, live so that later answers edit it, the same text by email,
then its reminders, nudge and answer deadline planned. One place for both."""

from __future__ import annotations

from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from models import Assignment, Channel, Event, NotificationKind, Person
from services.buttons.assignments import answer_buttons
from services.events import EventsBase


async def ask_to_answer(
    service: EventsBase,
    person: Person,
    kind: NotificationKind,
    context: dict[str, Any],
    assignment: Assignment,
    event: Event,
    dedupe_key: str,
    conn: BaseDBAsyncClient,
) -> None:
    await service.notifier.notify(
        person,
        kind,
        context,
        buttons=answer_buttons(assignment.id),
        live_key=f"asg:{assignment.id}",
        dedupe_key=dedupe_key,
        channels=(Channel.TELEGRAM,),
        using_db=conn,
    )
    await service.notifier.notify(
        person, kind, context, dedupe_key=dedupe_key, channels=(Channel.EMAIL,), using_db=conn
    )
    await service.scheduler.plan_assignment(assignment, event, conn)
