"""The people area's refusals, each on one branch of `services.errors`.

PeopleError
 ├── InvalidPerson    (InvalidInput)  a name, email or role list that cannot be saved
 ├── DuplicatePhone   (Conflict)      the number belongs to someone else
 ├── LinkError        (Conflict)      a Telegram account that cannot be linked
 └── PersonNotFound   (NotFound)      no such person, or not among those asked for
"""

from __future__ import annotations

from services.errors import CallsheetError, Conflict, InvalidInput, NotFound


class PeopleError(CallsheetError):
    pass


class InvalidPerson(PeopleError, InvalidInput):
    """A name, email or skill list that cannot be saved as typed."""


class DuplicatePhone(PeopleError, Conflict):
    pass


class LinkError(PeopleError, Conflict):
    """A Telegram account could not be linked; the message says why and what to do."""


class PersonNotFound(PeopleError, NotFound):
    pass
