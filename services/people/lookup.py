"""The one person lookup behind every command that names a person (`PeopleService.find`)."""

from __future__ import annotations

import re
import unicodedata
from enum import Enum

from tortoise.expressions import Q

from models import Person
from services.people.errors import PersonNotFound
from services.phones import display_phone, looks_like_phone, normalise_phone


class Among(Enum):
    """Whom a command may name."""

    ACTIVE = "active"  # assigning, asking, editing: people on the crew list
    OWING_TOO = (
        "owing"  # money: also deactivated people who still owe (leaving does not cancel a debt)
    )
    EVERYONE = "everyone"  # a person's card: deactivated people too, to reactivate them

    def condition(self) -> Q:
        if self is Among.EVERYONE:
            return Q()
        if self is Among.OWING_TOO:
            return Q(active=True) | Q(balance__gt=0)
        return Q(active=True)

    def admits(self, person: Person) -> bool:
        return (
            self is Among.EVERYONE
            or person.active
            or (self is Among.OWING_TOO and person.balance > 0)
        )


def fold(text: str) -> str:
    """Case and accents ignored: "José" and "jose" compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _listed_or_refused(person: Person, among: Among) -> Person:
    if not among.admits(person):
        raise PersonNotFound(
            f"{person.name} is deactivated. Reactivate them on their card (/person {person.id}) "
            "first."
        )
    return person


async def find(text: str, *, among: Among = Among.ACTIVE) -> Person:
    """ "#12" or "12", a phone in any form Kenyans type it, or (part of) a name with accents
    and case ignored ("jose" finds José). The error says how to be more precise."""
    query = " ".join(text.split())
    if not query:
        raise PersonNotFound("Say who: a name, a phone number like 0712 345 678, or #id.")
    if re.fullmatch(r"#?\d{1,8}", query):
        person = await Person.get_or_none(id=int(query.lstrip("#")))
        if person is None:
            raise PersonNotFound(
                f"There is no person {'#' + query.lstrip('#')}. Send /crew to see the list."
            )
        return _listed_or_refused(person, among)
    if looks_like_phone(query):
        phone = normalise_phone(query)
        person = await Person.get_or_none(phone=phone)
        if person is None:
            raise PersonNotFound(
                f"No one on the crew list has the number {display_phone(phone)}. "
                "Send /crew to see the list, or add them with /addcrew."
            )
        return _listed_or_refused(person, among)
    wanted = fold(query)
    # Names only, as plain rows: ten thousand people made into models took half a second.
    rows = await Person.filter(among.condition()).order_by("id").values_list("id", "name")
    # Sorted as people read names, the same on every database's collation.
    matches = sorted(
        ((fold(name), pid, name) for pid, name in rows if wanted in fold(name)),
    )
    exact = [pid for folded, pid, _ in matches if folded == wanted]
    if len(exact) == 1:
        return await Person.get(id=exact[0])
    if len(matches) == 1:
        return await Person.get(id=matches[0][1])
    if not matches:
        raise PersonNotFound(
            f"Nobody on the crew list is called “{query[:40]}”. "
            "Use their name as on /crew, their phone number, or #id."
        )
    names = ", ".join(f"{name} (#{pid})" for _, pid, name in matches[:6])
    raise PersonNotFound(f"“{query[:40]}” matches several people: {names}. Use the #id.")
