"""Set-up shared by the event, assignment and scheduler tests: a fast Telegram sandbox, an
event with crew, and saying or pressing things as a person would."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from models import Event
from sandbox.telegram import SandboxUser, TelegramSandbox
from tests.conftest import BOT_TOKEN, BOT_USERNAME, People


@contextlib.asynccontextmanager
async def fast_sandbox() -> AsyncIterator[TelegramSandbox]:
    """Telegram's 1 message/s per chat still holds, but a test types faster than a person:
    a larger burst keeps these long conversations from waiting on Retry-After (whose wait
    the outbox measures on the test's frozen clock). Each test module's `tg` fixture."""
    sandbox = TelegramSandbox(chat_burst=40)
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


NEW_EVENT = (
    "/newevent Harusi ya Wanjiru | 2026-12-05 18:00 | 23:00 | KICC, Nairobi | call 15:00 "
    "| bring XLR cables | crew 2"
)


async def said(tg: TelegramSandbox, user: SandboxUser, text: str, contains: str) -> dict[str, Any]:
    """The user sends `text`; returns the bot's next message containing `contains`."""
    last = tg.last_bot_message(user.id)
    after = last["message_id"] if last else 0
    sent = await tg.send_text(user, text)
    return await tg.wait_for_bot_message(user.id, contains, after=max(after, sent["message_id"]))


async def crew_and_event(
    tg: TelegramSandbox, people: People
) -> tuple[SandboxUser, SandboxUser, SandboxUser, Event]:
    _, boss = await people.add(
        "Achieng Otieno", "0700 000 001", email="achieng@sauti.example", manager=True
    )
    _, jane = await people.add(
        "Jane Wanjiku", "0712345678", email="jane@example.com", skills="sound engineer, rigger"
    )
    _, otieno = await people.add("Otieno Kamau", "0722111222", skills="lights")
    await said(tg, boss, NEW_EVENT, "Event #1 created")
    return boss, jane, otieno, await Event.get(id=1)


async def forge_press(tg: TelegramSandbox, user: SandboxUser, data: str) -> str:
    """A modified client presses a button with callback data of its choosing, on the last
    bot message in its chat (Telegram relays whatever data a client sends)."""
    message = tg.last_bot_message(user.id)
    assert message is not None
    return await tg.press_forged(user, message["message_id"], data)


def labels(message: dict) -> list[str]:  # type: ignore[type-arg]
    markup = message.get("reply_markup") or {"inline_keyboard": []}
    return [b["text"] for row in markup["inline_keyboard"] for b in row]
