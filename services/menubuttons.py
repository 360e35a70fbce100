"""The Mini App in each linked person's menu button: "Board" for managers, "My gigs" for crew,
opening PUBLIC_BASE_URL/app/ (the server sends each to their page).

A background loop sets what is missing: at start-up, and when woken after someone links.
What was set (or refused) is kept per person (`MenuButton`), so a restart sets nothing twice;
a new URL, a new role or a new Telegram account sets it again. Setting it twice, from two
instances at once, does no harm: Telegram keeps the last. Telegram refuses web-app URLs that
are not https, so with an http PUBLIC_BASE_URL nothing is set, and that is logged once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from tortoise.exceptions import IntegrityError

from models import MenuButton, Person
from services.clock import Clock
from services.worker import Worker

log = logging.getLogger(__name__)

MANAGER_TEXT = "Board"
CREW_TEXT = "My gigs"
PAGE = 200  # people read at a time
ERROR_LIMIT = 300


class MenuRefused(Exception):
    """Telegram refused the button for this chat (blocked, chat gone, bad URL): trying again
    would get the same answer, so it is kept and not tried again."""


# (chat id, text, url): sets one chat's menu button, or raises MenuRefused.
Setter = Callable[[int, str, str], Awaitable[None]]


def mini_app_url(public_base_url: str | None) -> str | None:
    """PUBLIC_BASE_URL/app/, when Telegram would open it (https only)."""
    if not public_base_url or not public_base_url.startswith("https://"):
        return None
    return public_base_url.rstrip("/") + "/app/"


def text_for(person: Person) -> str:
    return MANAGER_TEXT if person.is_manager else CREW_TEXT


class MenuButtons(Worker):
    name = "menu-buttons"

    def __init__(
        self,
        clock: Clock,
        public_base_url: str | None,
        *,
        batch: int = 25,
        idle_seconds: float = 3600,
    ) -> None:
        super().__init__(idle_seconds=idle_seconds)
        self.clock = clock
        self.public_base_url = public_base_url
        self.url = mini_app_url(public_base_url)
        self.batch = batch
        self.setter: Setter | None = None  # Telegram's call, given by the bot at start-up
        self._cursor = 0  # the last person id looked at in this pass
        self._said_off = False
        self.settled = asyncio.Event()  # set once a pass found nothing left to set

    def wake(self) -> None:
        self._cursor = 0  # someone just linked: look at everyone again, from the start
        self.settled.clear()
        super().wake()

    async def round(self) -> int:
        if self.url is None:
            if not self._said_off:
                self._said_off = True
                log.info(
                    "menu buttons not set: PUBLIC_BASE_URL (%s) is not https, and Telegram "
                    "opens Mini Apps over https only",
                    self.public_base_url or "unset",
                )
            self.settled.set()
            return 0
        if self.setter is None:
            return 0
        done = 0
        while done < self.batch:
            people = (
                await Person.filter(id__gt=self._cursor, active=True, telegram_id__isnull=False)
                .order_by("id")
                .limit(PAGE)
            )
            if not people:
                self._cursor = 0  # a full pass: the next round starts again
                break
            kept = {
                row.person_id: row  # type: ignore[attr-defined]
                for row in await MenuButton.filter(person_id__in=[p.id for p in people])
            }
            for person in people:
                self._cursor = person.id
                if self._current(kept.get(person.id), person):
                    continue
                await self._set(person, kept.get(person.id))
                done += 1
                if done >= self.batch:
                    break
        if not done:
            self.settled.set()
        return done

    def _current(self, row: MenuButton | None, person: Person) -> bool:
        return (
            row is not None
            and row.url == self.url
            and row.text == text_for(person)
            and row.telegram_id == person.telegram_id
        )

    async def _set(self, person: Person, row: MenuButton | None) -> None:
        assert self.setter is not None and self.url is not None and person.telegram_id
        text = text_for(person)
        error: str | None = None
        try:
            await self.setter(person.telegram_id, text, self.url)
            log.info("menu button %r set for person %s", text, person.id)
        except MenuRefused as exc:
            error = str(exc)[:ERROR_LIMIT]
            log.warning("menu button refused for person %s: %s", person.id, error)
        values = {
            "telegram_id": person.telegram_id,
            "url": self.url,
            "text": text,
            "error": error,
            "updated_at": self.clock.now(),
        }
        if row is not None:
            await MenuButton.filter(id=row.id).update(**values)
            return
        try:
            await MenuButton.create(person_id=person.id, **values)
        except IntegrityError:  # another instance set it at the same moment
            await MenuButton.filter(person_id=person.id).update(**values)
