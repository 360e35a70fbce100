"""People: adding crew and managers, and linking their Telegram accounts."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from models import Access, Channel, LinkToken, Person
from services import audit
from services.clock import Clock
from services.errors import CallsheetError
from services.notifications import NotificationKind, Notifier
from services.outbox import Outbox
from services.phones import normalise_phone


class PeopleError(CallsheetError):
    pass


class InvalidPerson(PeopleError):
    """A name, email or skill list that cannot be saved as typed."""


class DuplicatePhone(PeopleError):
    pass


class LinkError(PeopleError):
    """A Telegram account could not be linked; the message says why and what to do."""


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


@dataclass(frozen=True)
class Invite:
    person: Person
    link: str
    expires_at: datetime


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
        """Validate everything first, then save the person, their link and its email at once."""
        clean = {
            "name": clean_name(name),
            "phone": normalise_phone(phone),
            "email": clean_email(email),
            "skills": clean_skills(skills),
        }
        existing = await Person.get_or_none(phone=clean["phone"])
        if existing is not None:
            raise DuplicatePhone(
                f"{clean['phone']} already belongs to {existing.name} (#{existing.id})."
            )
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
                    using_db=conn,
                )
                token = await LinkToken.create(
                    token=secrets.token_urlsafe(16),
                    person=person,
                    expires_at=now + self.link_ttl,
                    using_db=conn,
                )
                link = self.deep_link(token.token)
                await audit.record(
                    "person.added",
                    "person",
                    person.id,
                    actor=actor,
                    chat_id=chat_id,
                    details={"name": person.name, "phone": person.phone, "access": access.value},
                    using_db=conn,
                )
                if telegram_id is None:
                    await self.notifier.notify(
                        person,
                        NotificationKind.INVITE_LINK,
                        {"link": link, "expires_at": token.expires_at},
                        channels=(Channel.EMAIL,),
                        using_db=conn,
                    )
        except IntegrityError as exc:  # a concurrent add of the same phone won the race
            raise DuplicatePhone(f"{clean['phone']} was just added by someone else.") from exc
        self.outbox.wake()
        return Invite(person=person, link=link, expires_at=token.expires_at)

    async def link_with_token(
        self, token: str, telegram_id: int, username: str | None, chat_id: int | None = None
    ) -> Person:
        now = self.clock.now()
        row = await LinkToken.get_or_none(token=token).prefetch_related("person")
        if row is None:
            raise LinkError(
                "This link is not valid. Ask your manager for a new one, "
                "or tap Share my phone number below."
            )
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
        person = row.person
        if not person.active:
            raise LinkError("Your account is not active. Please talk to your manager.")
        async with in_transaction() as conn:
            # Only one press of the link may win, even when two arrive at once.
            won = await LinkToken.filter(id=row.id, used_at=None).using_db(conn).update(used_at=now)
            if not won:
                raise LinkError("This link was already used. Ask your manager for a new one.")
            await self._bind(person, telegram_id, username, now, "token", chat_id, conn)
        return person

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
        await (
            Person.filter(id=person.id)
            .using_db(conn)
            .update(
                telegram_id=telegram_id,
                telegram_username=username,
                linked_at=now,
                chat_unreachable_at=None,
            )
        )
        person.telegram_id = telegram_id
        person.telegram_username = username
        person.linked_at = now
        person.chat_unreachable_at = None
        await audit.record(
            "person.linked",
            "person",
            person.id,
            actor=person,
            chat_id=chat_id,
            details={"how": how, "telegram_id": telegram_id},
            using_db=conn,
        )
