"""Linking a Telegram account to a person: one-time links (stored hashed), a shared contact,
new links that disconnect the old account, and a chat that opens again."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import replace
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from models import AuditAction, Channel, LinkToken, NotificationKind, OutboxMessage, Person
from services import audit
from services.errors import CallsheetError, NotAllowed
from services.people._core import Invite, PeopleCore
from services.people.errors import LinkError
from services.phones import normalise_phone

# Telegram's /start payload: at most 64 of A-Z a-z 0-9 _ -. Ours are 22 (16 random bytes).
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def hash_token(token: str) -> str:
    """What is stored for a link token: its SHA-256, so the database never holds a usable link."""
    return hashlib.sha256(token.encode()).hexdigest()


class Linking(PeopleCore):
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
