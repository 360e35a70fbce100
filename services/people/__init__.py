"""People: adding crew and managers, linking their Telegram accounts, the one person lookup.

service.py       PeopleService: add, roster, card, edit, access
linking.py       one-time links (stored hashed), shared contacts, new links
deactivation.py  deactivating and reactivating a person
lookup.py        PeopleService.find, Among, fold
cleaning.py      names, emails and role lists as typed
errors.py        PeopleError and its branches
"""

from services.people._core import AssignmentLine, Invite
from services.people.cleaning import clean_email, clean_name, clean_skills, required_skills
from services.people.deactivation import OPEN_ASSIGNMENTS, Deactivated
from services.people.errors import (
    DuplicatePhone,
    InvalidPerson,
    LinkError,
    PeopleError,
    PersonNotFound,
)
from services.people.linking import hash_token
from services.people.lookup import Among, fold
from services.people.service import MAX_FILTER, PeopleService, PersonCard, PersonField

__all__ = [
    "MAX_FILTER",
    "OPEN_ASSIGNMENTS",
    "Among",
    "AssignmentLine",
    "Deactivated",
    "DuplicatePhone",
    "InvalidPerson",
    "Invite",
    "LinkError",
    "PeopleError",
    "PeopleService",
    "PersonCard",
    "PersonField",
    "PersonNotFound",
    "clean_email",
    "clean_name",
    "clean_skills",
    "fold",
    "hash_token",
    "required_skills",
]
