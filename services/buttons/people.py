"""Buttons of the people commands (`per:`): the roster's pages, a person's card and its
edits, and the /addcrew form.

The wire format predates these classes and stays: `per:<action>:<id>[:<more>]`, where the
form's own buttons carry id 0 (`per:save:0`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Self

from models import Access
from services.buttons._base import CallbackData
from services.people import PersonField

AREA = "per"


# --- the /addcrew form and typing a new value (one conversation) -----------------------------


@dataclass(frozen=True)
class CancelForm(CallbackData, prefix=AREA, action="cancel"):
    unused: int = 0


@dataclass(frozen=True)
class SkipEmail(CallbackData, prefix=AREA, action="skip"):
    unused: int = 0


@dataclass(frozen=True)
class SaveDraft(CallbackData, prefix=AREA, action="save"):
    unused: int = 0


@dataclass(frozen=True)
class EditField(CallbackData, prefix=AREA, action="field"):
    person_id: int
    field: PersonField


# --- /crew and a person's card ---------------------------------------------------------------


@dataclass(frozen=True)
class RosterPage(CallbackData, prefix=AREA, action="page"):
    page: int
    query: str = ""  # the roster's filter, as typed after /crew

    @classmethod
    def parse(cls, data: object) -> Self | None:
        # Pages of an unfiltered roster were sent as "per:page:2:" (an empty last part).
        if isinstance(data, str) and re.fullmatch(r"per:page:\d+:", data):
            data = data[:-1]
        return super().parse(data)


@dataclass(frozen=True)
class OpenCard(CallbackData, prefix=AREA, action="card"):
    """The card as a new message (a name on the roster, "Open card" after adding)."""

    person_id: int


@dataclass(frozen=True)
class BackToCard(CallbackData, prefix=AREA, action="back"):
    """The card again in place of the message pressed (Back, No)."""

    person_id: int


@dataclass(frozen=True)
class EditPerson(CallbackData, prefix=AREA, action="edit"):
    person_id: int


@dataclass(frozen=True)
class SetAccess(CallbackData, prefix=AREA, action="access"):
    person_id: int
    access: Access


@dataclass(frozen=True)
class AskDeactivate(CallbackData, prefix=AREA, action="deact"):
    person_id: int


@dataclass(frozen=True)
class Deactivate(CallbackData, prefix=AREA, action="deactok"):
    person_id: int


@dataclass(frozen=True)
class Reactivate(CallbackData, prefix=AREA, action="react"):
    person_id: int


@dataclass(frozen=True)
class NewLink(CallbackData, prefix=AREA, action="link"):
    person_id: int
