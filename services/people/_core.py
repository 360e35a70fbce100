"""What every part of `PeopleService` stands on: its dependencies, reading one person for a
manager, and saving an audited change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import AssignmentStatus, AuditAction, Person
from services import audit
from services.clock import Clock
from services.errors import require_manager
from services.notifications import Notifier
from services.outbox import Outbox
from services.people.errors import DuplicatePhone, PersonNotFound


@dataclass(frozen=True)
class AssignmentLine:
    event_title: str
    starts_at: datetime
    role: str
    status: AssignmentStatus


@dataclass(frozen=True)
class Invite:
    person: Person
    link: str
    expires_at: datetime
    unlinked: bool = False  # a new link for a linked person disconnected their Telegram


class Vacated(Protocol):
    async def vacated(self, assignment_ids: Sequence[int]) -> int: ...


class PeopleCore:
    def __init__(
        self,
        notifier: Notifier,
        outbox: Outbox,
        clock: Clock,
        *,
        link_ttl: timedelta,
        bot_username: str | None = None,
    ) -> None:
        self.notifier = notifier
        self.outbox = outbox
        self.clock = clock
        self.link_ttl = link_ttl
        self.bot_username = bot_username
        # Set by the container: the spots a deactivated person leaves go to backups.
        self.vacated: Vacated | None = None

    async def get_person(self, actor: Person | None, person_id: int) -> Person:
        require_manager(actor, "see or change people")
        person = await Person.get_or_none(id=person_id)
        if person is None:
            raise PersonNotFound(f"There is no person #{person_id}. Send /crew to see the list.")
        return person

    async def _refuse_taken_phone(self, e164: str, *, but: int | None = None) -> None:
        query = Person.filter(phone=e164)
        if but is not None:
            query = query.exclude(id=but)
        existing = await query.first()
        if existing is not None:
            inactive = "" if existing.active else ", inactive"
            raise DuplicatePhone(
                f"{e164} already belongs to {existing.name} (#{existing.id}{inactive}). "
                "Each person needs their own number."
            )

    async def _change(
        self,
        person: Person,
        changes: dict[str, Any],
        action: AuditAction,
        actor: Person | None,
        chat_id: int | None,
    ) -> Person:
        old = {key: getattr(person, key) for key in changes}
        if old == changes:
            return person
        now = self.clock.now()
        try:
            async with in_transaction() as conn:
                await Person.filter(id=person.id).using_db(conn).update(**changes, updated_at=now)
                await audit.record(
                    action,
                    "person",
                    person.id,
                    at=now,
                    actor=actor,
                    chat_id=chat_id,
                    details={
                        "old": {k: _plain(v) for k, v in old.items()},
                        "new": {k: _plain(v) for k, v in changes.items()},
                    },
                    using_db=conn,
                )
        except IntegrityError as exc:  # someone saved the same phone a moment ago
            raise DuplicatePhone(
                f"{changes.get('phone', 'That number')} was just given to someone else."
            ) from exc
        return await Person.get(id=person.id)


def _plain(value: object) -> object:
    return value.value if isinstance(value, StrEnum) else value
