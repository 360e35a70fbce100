"""People: adding crew and managers, and linking their Telegram accounts."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum, StrEnum
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import (
    Access,
    Assignment,
    AssignmentStatus,
    AuditAction,
    Channel,
    EventStatus,
    JobKind,
    JobStatus,
    LinkToken,
    NotificationKind,
    OutboxMessage,
    OutboxStatus,
    Person,
    ScheduledJob,
)
from services import audit
from services.clock import Clock
from services.errors import (
    CallsheetError,
    Conflict,
    InvalidInput,
    NotAllowed,
    NotFound,
    require_manager,
)
from services.notifications import NOT_SENT_INACTIVE, Notifier
from services.outbox import Outbox
from services.phones import display_phone, looks_like_phone, normalise_phone


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


class PersonField(StrEnum):
    """What a manager can change on a person by typing a new value."""

    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    ROLES = "roles"


MAX_FILTER = 40  # a roster filter longer than any role is a typo
# Telegram's /start payload: at most 64 of A-Z a-z 0-9 _ -. Ours are 22 (16 random bytes).
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
OPEN_ASSIGNMENTS = (AssignmentStatus.INVITED, AssignmentStatus.CONFIRMED)


def hash_token(token: str) -> str:
    """What is stored for a link token: its SHA-256, so the database never holds a usable link."""
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class AssignmentLine:
    event_title: str
    starts_at: datetime
    role: str
    status: AssignmentStatus


@dataclass(frozen=True)
class Deactivated:
    person: Person
    cancelled: list[AssignmentLine]  # their open assignments, now cancelled


@dataclass(frozen=True)
class PersonCard:
    person: Person
    assignments: list[AssignmentLine]
    more_assignments: int  # older assignments not listed


_EMAIL = re.compile(r"^[^@\s<>(),;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def clean_name(text: str) -> str:
    name = " ".join(text.split())
    if not name:
        raise InvalidPerson("The name is empty. Type the person's name, like Jane Wanjiku.")
    if len(name) > 100:
        raise InvalidPerson(f"The name is {len(name)} characters long; keep it under 100.")
    if not re.search(r"[^\W\d_]", name):
        raise InvalidPerson(f"“{name[:40]}” does not look like a name. Type it like Jane Wanjiku.")
    return name


def clean_email(text: str | None) -> str | None:
    if text is None or not text.strip() or text.strip() in {"-", "none"}:
        return None
    email = text.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidPerson(
            f"“{email[:60]}” is not an email address. "
            "Use a form like jane@example.com, or leave it out."
        )
    return email


def clean_skills(skills: str | Iterable[str]) -> str:
    items = skills.split(",") if isinstance(skills, str) else list(skills)
    cleaned = []
    for item in items:
        skill = " ".join(item.lower().split())
        if not skill:
            continue
        if len(skill) > 40:
            raise InvalidPerson(
                f"The role “{skill[:40]}…” is too long; keep each role under 40 characters."
            )
        if skill not in cleaned:
            cleaned.append(skill)
    joined = ",".join(cleaned)
    if len(joined) > 500:
        raise InvalidPerson("That is too many roles; keep the list under 500 characters.")
    return joined


def required_skills(skills: str | Iterable[str]) -> str:
    """Like clean_skills, but a person added or edited in chat needs at least one role."""
    cleaned = clean_skills(skills)
    if not cleaned:
        raise InvalidPerson("Type at least one role, like: sound engineer, rigger.")
    return cleaned


@dataclass(frozen=True)
class Invite:
    person: Person
    link: str
    expires_at: datetime
    unlinked: bool = False  # a new link for a linked person disconnected their Telegram


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


class PeopleService:
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

    def deep_link(self, token: str) -> str:
        if self.bot_username:
            return f"https://t.me/{self.bot_username}?start={token}"
        return f"/start {token}"

    async def by_telegram_id(self, telegram_id: int) -> Person | None:
        return await Person.get_or_none(telegram_id=telegram_id, active=True)

    async def chat_reopened(self, telegram_id: int) -> Person | None:
        """The person unblocked the bot: chat messages go to them again.

        Returns the person if they had been unreachable, else None."""
        person = await Person.get_or_none(telegram_id=telegram_id, active=True)
        if person is None or person.chat_unreachable_at is None:
            return None
        now = self.clock.now()
        async with in_transaction() as conn:
            await (
                Person.filter(id=person.id)
                .using_db(conn)
                .update(chat_unreachable_at=None, updated_at=now)
            )
            await audit.record(
                AuditAction.PERSON_CHAT_REACHABLE,
                "person",
                person.id,
                at=now,
                actor=person,
                using_db=conn,
            )
        person.chat_unreachable_at = None
        return person

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

    async def _issue_link(
        self, person: Person, now: datetime, *, email: bool, conn: BaseDBAsyncClient
    ) -> Invite:
        raw = secrets.token_urlsafe(16)
        token = await LinkToken.create(
            token_hash=hash_token(raw),
            person=person,
            expires_at=now + self.link_ttl,
            created_at=now,
            using_db=conn,
        )
        link = self.deep_link(raw)
        if email:
            await self.notifier.notify(
                person,
                NotificationKind.INVITE_LINK,
                {"link": link, "expires_at": token.expires_at},
                channels=(Channel.EMAIL,),
                using_db=conn,
            )
        return Invite(person=person, link=link, expires_at=token.expires_at)

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

    async def get_person(self, actor: Person | None, person_id: int) -> Person:
        require_manager(actor, "see or change people")
        person = await Person.get_or_none(id=person_id)
        if person is None:
            raise PersonNotFound(f"There is no person #{person_id}. Send /crew to see the list.")
        return person

    @staticmethod
    async def find(text: str, *, among: Among = Among.ACTIVE) -> Person:
        """The one lookup behind every command that names a person: "#12" or "12", a phone
        in any form Kenyans type it, or (part of) a name with accents and case ignored
        ("jose" finds José). The error says how to be more precise."""
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
        rows = await Person.filter(among.condition()).order_by("id")
        # Sorted as people read names, the same on every database's collation.
        matches = sorted((p for p in rows if wanted in fold(p.name)), key=lambda p: fold(p.name))

        exact = [p for p in matches if fold(p.name) == wanted]
        if len(exact) == 1:
            return exact[0]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            raise PersonNotFound(
                f"Nobody on the crew list is called “{query[:40]}”. "
                "Use their name as on /crew, their phone number, or #id."
            )
        names = ", ".join(f"{p.name} (#{p.id})" for p in matches[:6])
        raise PersonNotFound(f"“{query[:40]}” matches several people: {names}. Use the #id.")

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

    async def check_can_deactivate(self, actor: Person | None, person_id: int) -> Person:
        person = await self.get_person(actor, person_id)
        if actor is not None and person.id == actor.id:
            raise NotAllowed(
                "You cannot deactivate yourself: ask another manager to do it, "
                "so there is always a manager."
            )
        return person

    async def set_active(
        self, actor: Person | None, person_id: int, active: bool, *, chat_id: int | None = None
    ) -> Person:
        if not active:
            return (await self.deactivate(actor, person_id, chat_id=chat_id)).person
        person = await self.get_person(actor, person_id)
        return await self._change(
            person, {"active": True}, AuditAction.PERSON_REACTIVATED, actor, chat_id
        )

    async def deactivate(
        self, actor: Person | None, person_id: int, *, chat_id: int | None = None
    ) -> Deactivated:
        """The bot forgets them as a recipient: their open assignments (invited or confirmed,
        on events not over) are cancelled with their reminders and nudges, and messages
        still queued for them are not delivered. Their history and balance stay."""
        person = await self.check_can_deactivate(actor, person_id)
        if not person.active:
            return Deactivated(person, [])
        now = self.clock.now()
        async with in_transaction() as conn:
            changed = (
                await Person.filter(id=person.id, active=True)
                .using_db(conn)
                .update(active=False, updated_at=now)
            )
            if not changed:  # another manager did it a moment ago
                return Deactivated(await Person.get(id=person.id), [])
            open_rows = (
                await Assignment.filter(
                    person_id=person.id,
                    status__in=OPEN_ASSIGNMENTS,
                    event__status=EventStatus.SCHEDULED,
                    event__ends_at__gt=now,
                )
                .using_db(conn)
                .select_related("event", "event__manager")
                .order_by("event__starts_at", "id")
            )
            ids = [a.id for a in open_rows]
            if ids:
                await (
                    Assignment.filter(id__in=ids, status__in=OPEN_ASSIGNMENTS)
                    .using_db(conn)
                    .update(status=AssignmentStatus.CANCELLED, updated_at=now)
                )
                await (
                    ScheduledJob.filter(
                        assignment_id__in=ids,
                        status=JobStatus.PENDING,
                        kind__in=[JobKind.NUDGE, JobKind.REMINDER],
                    )
                    .using_db(conn)
                    .update(status=JobStatus.CANCELLED)
                )
            for row in open_rows:
                await audit.record(
                    AuditAction.ASSIGNMENT_CANCELLED,
                    "assignment",
                    row.id,
                    at=now,
                    actor=actor,
                    chat_id=chat_id,
                    details={
                        "event_id": row.event.id,
                        "person": person.name,
                        "from": row.status.value,
                        "reason": "person deactivated",
                    },
                    using_db=conn,
                )
                if actor is None or row.event.manager.id != actor.id:
                    await self.notifier.notify(
                        row.event.manager,
                        NotificationKind.CREW_REMOVED,
                        {
                            "crew": person,
                            "event": row.event,
                            "by": actor.name if actor else "an operator",
                            "was": row.status.value,
                            "role": row.role,
                        },
                        using_db=conn,
                    )
            held = (
                await OutboxMessage.filter(person_id=person.id, status=OutboxStatus.PENDING)
                .using_db(conn)
                .update(status=OutboxStatus.SKIPPED, last_error=NOT_SENT_INACTIVE)
            )
            await audit.record(
                AuditAction.PERSON_DEACTIVATED,
                "person",
                person.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={
                    "old": {"active": True},
                    "new": {"active": False},
                    "cancelled_assignments": ids,
                    "messages_held": held,
                },
                using_db=conn,
            )
        self.outbox.wake()
        cancelled = [
            AssignmentLine(a.event.title, a.event.starts_at, a.role, a.status) for a in open_rows
        ]
        return Deactivated(await Person.get(id=person.id), cancelled)

    async def new_link(
        self, actor: Person | None, person_id: int, *, chat_id: int | None = None
    ) -> Invite:
        """A fresh one-time link; the person's older unused links stop working. A linked
        person is disconnected first (their chat is told): a link never takes over a linked
        account, so this is how someone who changed phones gets back in."""
        person = await self.get_person(actor, person_id)
        if not person.active:
            raise NotAllowed(f"{person.name} is inactive. Reactivate them first.")
        now = self.clock.now()
        unlinked = person.telegram_id
        async with in_transaction() as conn:
            expired = await self._end_links(person.id, now, conn)
            if unlinked is not None:
                await self.notifier.notify(
                    person,
                    NotificationKind.ACCOUNT_NOTICE,
                    {"notice": "unlinked", "at": now},
                    using_db=conn,
                )
                await (
                    Person.filter(id=person.id)
                    .using_db(conn)
                    .update(
                        telegram_id=None,
                        telegram_username=None,
                        linked_at=None,
                        chat_unreachable_at=None,
                        updated_at=now,
                    )
                )
                person.telegram_id = person.telegram_username = person.linked_at = None
            invite = await self._issue_link(person, now, email=bool(person.email), conn=conn)
            invite = replace(invite, unlinked=unlinked is not None)
            await audit.record(
                AuditAction.PERSON_LINK_ISSUED,
                "person",
                person.id,
                at=now,
                actor=actor,
                chat_id=chat_id,
                details={
                    "old_links_invalidated": expired,
                    "emailed": bool(person.email),
                    "unlinked_telegram_id": unlinked,
                },
                using_db=conn,
            )
        self.outbox.wake()
        return invite

    async def _end_links(self, person_id: int, now: datetime, conn: BaseDBAsyncClient) -> int:
        return await (
            LinkToken.filter(person_id=person_id, used_at=None, expires_at__gt=now)
            .using_db(conn)
            .update(expires_at=now)
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

    async def link_with_token(
        self, token: str, telegram_id: int, username: str | None, chat_id: int | None = None
    ) -> Person:
        now = self.clock.now()
        row = None
        if _TOKEN_SHAPE.match(token):
            row = await LinkToken.get_or_none(token_hash=hash_token(token)).prefetch_related(
                "person"
            )
        if row is None:
            raise LinkError(
                "This link is not valid. Ask your manager for a new one, "
                "or tap Share my phone number below."
            )
        person = row.person
        if not person.active:
            raise LinkError("Your account is not active. Please talk to your manager.")
        if person.telegram_id == telegram_id:
            return person  # already theirs: opening their own old link changes nothing
        if person.telegram_id is not None:
            await self._refuse_takeover(person, row, now)
        if row.used_at is not None:
            raise LinkError(
                "This link was already used. Each link works once: ask your manager for a new "
                "one, or tap Share my phone number below."
            )
        if row.expires_at <= now:
            raise LinkError(
                "This link has expired. Ask your manager for a new one, "
                "or tap Share my phone number below."
            )
        async with in_transaction() as conn:
            # Only one press of the link may win, even when two arrive at once.
            won = await LinkToken.filter(id=row.id, used_at=None).using_db(conn).update(used_at=now)
            if not won:
                raise LinkError("This link was already used. Ask your manager for a new one.")
            await self._bind(person, telegram_id, username, now, "token", chat_id, conn)
        return person

    async def _refuse_takeover(self, person: Person, row: LinkToken, now: datetime) -> None:
        """Someone else opened a link of a linked person: refused, and the owner is told
        (once per link, so replaying it cannot flood them)."""
        key = f"link-refused:{row.id}"
        if not await OutboxMessage.filter(dedupe_key__startswith=f"{key}:").exists():
            try:
                async with in_transaction() as conn:
                    await self.notifier.notify(
                        person,
                        NotificationKind.ACCOUNT_NOTICE,
                        {"notice": "link_refused", "at": now},
                        dedupe_key=key,
                        using_db=conn,
                    )
                    await audit.record(
                        AuditAction.PERSON_LINK_REFUSED,
                        "person",
                        person.id,
                        at=now,
                        actor_label="someone else",
                        details={"link_id": row.id},
                        using_db=conn,
                    )
            except IntegrityError:
                pass  # the same link opened twice at once: the owner is told once
            self.outbox.wake()
        raise LinkError(
            "This account is already linked to another Telegram account, so this link does "
            "not work. If the account is yours, ask your manager for a new link."
        )

    async def link_with_contact(
        self,
        sender_id: int,
        contact_user_id: int | None,
        phone: str,
        username: str | None,
        chat_id: int | None = None,
    ) -> Person:
        if contact_user_id != sender_id:
            raise LinkError(
                "That contact is not you. Tap Share my phone number to send your own number."
            )
        try:
            e164 = normalise_phone(phone)
        except CallsheetError as exc:
            raise LinkError(
                "Your Telegram number is not a Kenyan mobile number we know. "
                "Ask your manager to add you, or to send you a link."
            ) from exc
        person = await Person.get_or_none(phone=e164, active=True)
        if person is None:
            raise LinkError(
                f"No one with the number {e164} is on the crew list. "
                "Ask your manager to add you with this number."
            )
        if person.telegram_id is not None and person.telegram_id != sender_id:
            raise LinkError(
                "This number is already linked to another Telegram account. "
                "Ask your manager for a new link."
            )
        async with in_transaction() as conn:
            await self._bind(
                person, sender_id, username, self.clock.now(), "contact", chat_id, conn
            )
        return person

    async def _bind(
        self,
        person: Person,
        telegram_id: int,
        username: str | None,
        now: datetime,
        how: str,
        chat_id: int | None,
        conn: BaseDBAsyncClient,
    ) -> None:
        other = await Person.filter(telegram_id=telegram_id).using_db(conn).first()
        if other is not None and other.id != person.id:
            raise LinkError(
                f"This Telegram account is already linked to {other.name}. "
                "Ask your manager if that is wrong."
            )
        # Never over another account: one linked a moment ago by its owner keeps it.
        bound = await (
            Person.filter(Q(telegram_id=None) | Q(telegram_id=telegram_id), id=person.id)
            .using_db(conn)
            .update(
                telegram_id=telegram_id,
                telegram_username=username,
                linked_at=now,
                chat_unreachable_at=None,
                updated_at=now,
            )
        )
        if not bound:
            raise LinkError(
                "This account was linked to another Telegram account a moment ago. "
                "Ask your manager for a new link."
            )
        person.telegram_id = telegram_id
        person.telegram_username = username
        person.linked_at = now
        person.chat_unreachable_at = None
        # Linked now, by whichever route: every other link of theirs stops working.
        await self._end_links(person.id, now, conn)
        await audit.record(
            AuditAction.PERSON_LINKED,
            "person",
            person.id,
            at=now,
            actor=person,
            chat_id=chat_id,
            details={"how": how, "telegram_id": telegram_id},
            using_db=conn,
        )


def _plain(value: object) -> object:
    return value.value if isinstance(value, StrEnum) else value
