"""Set-up shared by the outbox and worker tests: time that runs fast, waiting for the
database to show an outcome, chat rows as the notifier writes them, and a renderer."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.app import Callsheet
from models import Channel, NotificationKind, OutboxMessage, Person
from models.stamps import stamp
from services.clock import ManualClock
from services.notifications import TEMPLATES, Renderer
from tests.conftest import START

TZ = ZoneInfo("Africa/Nairobi")


def renderer(
    bot_link: str = "https://t.me/bot", folders: Sequence[Path] = (TEMPLATES,)
) -> Renderer:
    return Renderer(TZ, "Sauti Sound", bot_link, folders=folders)


@contextlib.asynccontextmanager
async def ticking(app: Callsheet, clock: ManualClock, step: timedelta) -> AsyncIterator[None]:
    """Our clock runs fast (backoffs pass quickly): every few milliseconds it moves `step`
    and the outbox looks; the sandbox's rate limits stay real."""

    async def tick() -> None:
        while True:
            await asyncio.sleep(0.02)
            clock.advance(step)
            assert app.services is not None
            app.services.outbox.wake()

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def settled(count: Callable[[], Awaitable[int]], wanted: int, timeout: float = 10) -> None:
    """Until the database shows `wanted` (the dispatcher records outcomes after sending)."""
    async with asyncio.timeout(timeout):
        while await count() < wanted:  # noqa: ASYNC110 - the state lives in the database
            await asyncio.sleep(0.02)


def chat_row(
    clock: ManualClock, chat_id: int | None, text: str, person: Person | None = None
) -> OutboxMessage:
    """A chat message due now, as the notifier writes one (not saved yet)."""
    return OutboxMessage(
        **stamp(OutboxMessage, START),
        person=person,
        channel=Channel.TELEGRAM,
        kind=NotificationKind.MANAGER_ALERT,
        chat_id=chat_id,
        text=text,
        next_attempt_at=clock.now(),
    )
