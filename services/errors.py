"""Every refusal a service can give, as one tree. Handlers show `str(error)` to the user as is,
so each message says what was wrong and what is expected; the web layer maps the branches to
HTTP statuses.

    CallsheetError
     ├── NotAllowed      not a manager, not your invitation, an inactive person
     ├── NotFound        no such person, event, payment or entry
     ├── InvalidInput    a phone, amount, date or text that cannot be used as typed
     └── Conflict        the state does not allow it now: already done, too soon, closed

Each area keeps its own small base (`PaymentError`, `EventError`, ...) so a caller can catch an
area, and each concrete error also sits on one branch above:
`class EventNotFound(EventError, NotFound)`.
"""

from __future__ import annotations

from models import Person


class CallsheetError(Exception):
    """A refusal the user can act on; the message says what was wrong and what is expected."""


class NotAllowed(CallsheetError):
    """The actor may not do this: only managers may, or the thing is someone else's."""


class NotFound(CallsheetError):
    """What the user named or pressed does not exist (any more)."""


class InvalidInput(CallsheetError):
    """Typed input that cannot be used; the message shows the expected form."""


class Conflict(CallsheetError):
    """Allowed and well formed, but not now: it is already done, closed, or too soon."""


def require_manager(actor: Person | None, doing: str = "do that") -> Person:
    """Refuse unless the actor, as just read from the database, is an active manager."""
    if actor is None or not actor.is_manager:
        raise NotAllowed(f"Only managers can {doing}.")
    return actor
