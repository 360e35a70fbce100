"""Events: create, list, show, edit, complete, cancel, and their history.

_errors.py   EventError → InvalidEvent, EventNotFound, EventClosed
_model.py    the draft, counts, the card, what an edit changed
_fields.py   parsing and checking one field (the guided form, inline /newevent)
_edit.py     /editevent: one change, crew told
_service.py  EventService
_chat.py     the invitation as it stands, and Telegram's length limit
_base.py     what EventService and AssignmentService share
"""

from services.events._base import EventsBase
from services.events._chat import TELEGRAM_LIMIT, chat_length, invitation_rows, longest_chat
from services.events._errors import EventClosed, EventError, EventNotFound, InvalidEvent
from services.events._model import (
    FIELD_LABELS,
    INLINE_FORMAT,
    Change,
    Counts,
    Edited,
    EditField,
    EventCard,
    EventDraft,
    EventSummary,
    parse_field,
)
from services.events._service import EventService

__all__ = [
    "FIELD_LABELS",
    "INLINE_FORMAT",
    "TELEGRAM_LIMIT",
    "Change",
    "Counts",
    "EditField",
    "Edited",
    "EventCard",
    "EventClosed",
    "EventDraft",
    "EventError",
    "EventNotFound",
    "EventService",
    "EventSummary",
    "EventsBase",
    "InvalidEvent",
    "chat_length",
    "invitation_rows",
    "longest_chat",
    "parse_field",
]
