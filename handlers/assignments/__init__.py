"""Assigning crew and the crew's answers, one module each:

assign.py   the manager's side: /assign, the crew picker
answer.py   the crew's side: Confirm / Decline (`answer_pressed`), Skip, "I've read it"
mine.py     /my
reason.py   plain text taken as the reason for a decline (registered late)
"""

# handlers.events first: /help lists its commands before /assign.
from bot.context import CallsheetApplication
from handlers import events as _events  # noqa: F401
from handlers.assignments import answer, assign, mine, reason
from handlers.common import CREW_COMMANDS, MANAGER_COMMANDS, Command

__all__ = ["register", "register_reason_catcher"]

MANAGER_COMMANDS.append(
    Command("assign", "Invite a person to an event", "/assign 12 | 0712345678 | rigger")
)
CREW_COMMANDS.append(Command("my", "My invitations and assignments"))


def register(application: CallsheetApplication) -> None:
    answer.register(application)  # first: a reply giving a reason, before any form takes it
    assign.register(application)
    mine.register(application)


def register_reason_catcher(application: CallsheetApplication) -> None:
    reason.register(application)
