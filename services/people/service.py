"""People: adding crew and managers, the roster, person cards and their edits.

The service is assembled from its parts: `Linking` (Telegram accounts and one-time links)
and `Deactivation`, both on `PeopleCore` (dependencies, reading a person, audited changes).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import Access, Assignment, AuditAction, Person
from services import audit
from services.errors import NotAllowed, require_manager
from services.people._core import AssignmentLine, Invite
from services.people.cleaning import clean_email, clean_name, clean_skills, required_skills
from services.people.deactivation import Deactivation
from services.people.errors import DuplicatePhone, InvalidPerson, LinkError
from services.people.linking import Linking
from services.people.lookup import find
from services.phones import normalise_phone


class PersonField(StrEnum):
    """What a manager can change on a person by typing a new value."""

    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    ROLES = "roles"


MAX_FILTER = 40  # a roster filter longer than any role is a typo


@dataclass(frozen=True)
class PersonCard:
    person: Person
    assignments: list[AssignmentLine]
    more_assignments: int  # older assignments not listed


class PeopleService(Linking, Deactivation):
    # The one lookup behind every command that names a person (services/people/lookup.py).
    find = staticmethod(find)

    async def add_person(
        self,
        *,
        name: str,
        phone: str,
        email: str | None = None,
        skills: str | Iterable[str] = "",
        access: Access = Access.CREW,
        telegram_id: int | None = None,
        actor: Person | None = None,
        chat_id: int | None = None,
    ) -> Invite:
        """Validate everything first, then save the person, their link and its email at once.

        `actor` is None only for the command line, which runs with the operator's authority.
        """
        if actor is not None:
            require_manager(actor, "add crew")
        phone_e164 = normalise_phone(phone)
        clean = {
            "name": clean_name(name),
            "phone": phone_e164,
            "email": clean_email(email),
            "skills": clean_skills(skills),
        }
        await self._refuse_taken_phone(phone_e164)
        if telegram_id is not None and await Person.exists(telegram_id=telegram_id):
            raise LinkError(f"Telegram id {telegram_id} is already linked to someone else.")
        now = self.clock.now()
        try:
            async with in_transaction() as conn:
                person = await Person.create(
                    **clean,
                    access=access,
                    telegram_id=telegram_id,
                    linked_at=now if telegram_id else None,
                    created_at=now,
                    updated_at=now,
                    using_db=conn,
                )
                await audit.record(
                    AuditAction.PERSON_ADDED,
                    "person",
                    person.id,
                    at=now,
                    actor=actor,
                    chat_id=chat_id,
                    details={"name": person.name, "phone": person.phone, "access": access.value},
                    using_db=conn,
                )
                invite = await self._issue_link(person, now, email=telegram_id is None, conn=conn)
                if telegram_id is not None:  # linked already: no link may stay usable
                    await self._end_links(person.id, now, conn)
        except IntegrityError as exc:  # a concurrent add of the same phone won the race
            raise DuplicatePhone(f"{phone_e164} was just added by someone else.") from exc
        self.outbox.wake()
        return invite

    async def check_new_phone(self, phone: str) -> str:
        """The typed phone as E.164 if no one has it yet (the guided /addcrew asks early)."""
        e164 = normalise_phone(phone)
        await self._refuse_taken_phone(e164)
        return e164

    # --- the roster and person cards (managers only) -------------------------------

    async def roster(self, actor: Person | None, query: str = "") -> list[Person]:
        """Active people whose name or one of whose roles contains `query`, by name."""
        require_manager(actor, "see the crew list")
        wanted = " ".join(query.split())
        if len(wanted) > MAX_FILTER:
            raise InvalidPerson(
                f"That filter is {len(wanted)} characters long; "
                f"type a role or part of a name under {MAX_FILTER} characters."
            )
        people = Person.filter(active=True)
        if wanted:
            people = people.filter(Q(name__icontains=wanted) | Q(skills__icontains=wanted))
        return await people.order_by("name", "id")

    async def card(self, actor: Person | None, person_id: int, *, limit: int = 10) -> PersonCard:
        person = await self.get_person(actor, person_id)
        rows = (
            await Assignment.filter(person_id=person.id)
            .select_related("event")
            .order_by("-event__starts_at", "-id")
        )
        lines = [
            AssignmentLine(a.event.title, a.event.starts_at, a.role, a.status) for a in rows[:limit]
        ]
        return PersonCard(person, lines, max(0, len(rows) - limit))

    # --- changes (managers only; each one audited) ------------------------------------

    async def edit(
        self,
        actor: Person | None,
        person_id: int,
        field: PersonField,
        value: str,
        *,
        chat_id: int | None = None,
    ) -> Person:
        """Validate `value` like /addcrew does, save it, and audit old and new."""
        person = await self.get_person(actor, person_id)
        changes: dict[str, Any]
        if field is PersonField.NAME:
            changes = {"name": clean_name(value)}
        elif field is PersonField.PHONE:
            e164 = normalise_phone(value)
            await self._refuse_taken_phone(e164, but=person.id)
            changes = {"phone": e164}
        elif field is PersonField.EMAIL:
            changes = {"email": clean_email(value)}
        else:
            changes = {"skills": required_skills(value)}
        return await self._change(person, changes, AuditAction.PERSON_EDITED, actor, chat_id)

    async def set_access(
        self, actor: Person | None, person_id: int, access: Access, *, chat_id: int | None = None
    ) -> Person:
        person = await self.get_person(actor, person_id)
        if actor is not None and person.id == actor.id and access is not Access.MANAGER:
            raise NotAllowed(
                "You cannot take away your own manager access: ask another manager to do it, "
                "so there is always a manager."
            )
        return await self._change(
            person, {"access": access}, AuditAction.PERSON_ACCESS_CHANGED, actor, chat_id
        )
