"""Managers' event commands, one module each, registered in this order:

create.py   /newevent, the inline line or the guided form
typed.py    a value typed after a button: an edit's new value, a briefing's text
views.py    /events, an event's history
card.py     /event, the card and its Complete / Cancel event buttons
edit.py     /editevent, the card's Edit
remind.py   /remind, the card's Remind
brief.py    /brief, the card's Brief (its conversation is in typed.py)
"""

from bot.context import CallsheetApplication
from handlers.common import MANAGER_COMMANDS, Command
from handlers.events import card, create, edit, remind, typed, views
from services.events import INLINE_FORMAT

__all__ = ["register"]

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


def register(application: CallsheetApplication) -> None:
    create.register(application)
    typed.register(application)
    views.register(application)
    card.register(application)
    edit.register(application)
    remind.register(application)
