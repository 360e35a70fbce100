"""Messages to crew that must fit in one chat message, and the invitation as it stands now."""

from __future__ import annotations

import html
import re
from datetime import datetime

from models import (
    Assignment,
    AssignmentStatus,
    Channel,
    Event,
    EventStatus,
    NotificationKind,
    OutboxMessage,
    Person,
)
from services.buttons.assignments import answer_buttons, change_button
from services.notifications import Keyboard, Notifier

TELEGRAM_LIMIT = 4096  # characters of one chat message, counted after its HTML is read


def chat_length(chat_html: str) -> int:
    """What Telegram counts against its limit: the text once tags and entities are read,
    in UTF-16 code units (an emoji can count as two)."""
    visible = html.unescape(re.sub(r"<[^>]*>", "", chat_html))
    return len(visible.encode("utf-16-le")) // 2


def longest_chat(rows: list[OutboxMessage]) -> int:
    return max((chat_length(r.text) for r in rows if r.channel is Channel.TELEGRAM), default=0)


def invitation_rows(
    notifier: Notifier, assignment: Assignment, event: Event, manager: Person, now: datetime
) -> list[OutboxMessage]:
    """The invitation in the person's chat (a live message) as things stand now: the answer
    buttons while an answer is still open, the event's current details."""
    buttons: Keyboard = ()
    if event.status is EventStatus.SCHEDULED and now < event.call_at:
        if assignment.status is AssignmentStatus.INVITED:
            buttons = answer_buttons(assignment.id)
        elif assignment.status in (AssignmentStatus.CONFIRMED, AssignmentStatus.DECLINED):
            buttons = change_button(assignment.id)
    return notifier.prepare(
        assignment.person,
        NotificationKind.INVITATION,
        {"event": event, "assignment": assignment, "manager": manager},
        buttons=buttons,
        live_key=f"asg:{assignment.id}",
        channels=(Channel.TELEGRAM,),
    )
