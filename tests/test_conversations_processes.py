"""Guided conversations across processes: two `callsheet run` in webhook mode on one PostgreSQL
database. A /newevent started through one is finished through the other; another is started,
its process killed with SIGKILL, and finished after a restart."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from bot import db
from models import ConversationRow, Event, Person
from models.enums import Access
from models.stamps import stamp
from sandbox.telegram import SandboxUser, TelegramSandbox
from tests.conftest import BOT_TOKEN, BOT_USERNAME, PG_URL, free_port
from tests.event_setup import said
from tests.test_faults_sigkill import Process

pytestmark = pytest.mark.skipif(
    not PG_URL,
    reason="two processes share one database only on PostgreSQL (SQLite is one file for one "
    "process); set CALLSHEET_TEST_DATABASE_URL",
)
WEBHOOK_SECRET = "conversations-secret"
BOSS_ID = 7001


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    sandbox = TelegramSandbox(chat_burst=200)
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


def environment(tg: TelegramSandbox, database_url: str, port: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DARAJA_", "TELEGRAM_"))},
        "PTB_TIMEDELTA": "true",
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
        "TELEGRAM_MODE": "webhook",
        "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "DATABASE_URL": database_url,
        "HTTP_PORT": str(port),
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "TIMEZONE": "Africa/Nairobi",
        "COMPANY_NAME": "Sauti Sound",
        "EMAIL_BACKEND": "console",
    }


async def route(tg: TelegramSandbox, port: int) -> None:
    """The load balancer sends the next updates to the instance on `port`."""
    async with httpx.AsyncClient(timeout=10) as http:
        reply = await http.post(
            f"{tg.base_url}{BOT_TOKEN}/setWebhook",
            data={
                "url": f"http://127.0.0.1:{port}/telegram/webhook",
                "secret_token": WEBHOOK_SECRET,
            },
        )
    assert reply.json()["ok"], reply.text


async def idle(database_url: str, chat_id: int) -> None:
    """No instance is handling an update of the chat (the reply goes out just before the
    instance lets go of the chat)."""
    await db.open_db(database_url)
    try:
        async with asyncio.timeout(10):
            while await ConversationRow.filter(  # noqa: ASYNC110  (another process writes)
                chat_id=chat_id, busy_until__isnull=False
            ).exists():
                await asyncio.sleep(0.02)
    finally:
        await db.close_db()


async def test_a_form_moves_between_instances_and_survives_sigkill(
    tg: TelegramSandbox, database_url: str
) -> None:
    await db.open_db(database_url)
    await Person.create(
        **stamp(Person, datetime.now(UTC)),
        name="Achieng Otieno",
        phone="+254700000001",
        access=Access.MANAGER,
        telegram_id=BOSS_ID,
    )
    await db.close_db()
    boss: SandboxUser = tg.user(BOSS_ID, "Achieng")
    ports = free_port(), free_port()
    first, second = (Process(environment(tg, database_url, p), p) for p in ports)
    try:
        await asyncio.gather(first.start(), second.start())
        await route(tg, ports[0])
        await said(tg, boss, "/newevent", "What is it called?")
        await said(tg, boss, "Launch party", "When does it start?")
        await route(tg, ports[1])
        await said(tg, boss, "sat 18:00", "When does it end?")
        await said(tg, boss, "23:30", "Where is it?")
        await route(tg, ports[0])
        await said(tg, boss, "Alchemist", "call time")
        await route(tg, ports[1])
        await said(tg, boss, "call 16:00", "Any notes")
        await route(tg, ports[0])
        await said(tg, boss, "bring XLR", "How many crew")
        await route(tg, ports[1])
        created = await said(tg, boss, "4", "Event #1 created")
        assert "18:00 to 23:30 at Alchemist" in created["text"]  # real clock: no fixed date

        # Another form, on the first instance, which dies without warning.
        await route(tg, ports[0])
        await said(tg, boss, "/newevent", "What is it called?")
        await said(tg, boss, "AGM", "When does it start?")
        await said(tg, boss, "sun 09:00", "When does it end?")
        await idle(database_url, BOSS_ID)
        await first.kill()
        await first.start()  # sets the webhook to itself again
        await said(tg, boss, "17:00", "Where is it?")
        await said(tg, boss, "Sarit Centre", "call time")
        await said(tg, boss, "call 07:00", "Any notes")
        await said(tg, boss, "-", "How many crew")
        again = await said(tg, boss, "2", "Event #2 created")
        assert "09:00 to 17:00 at Sarit Centre" in again["text"]
        # What the manager saw: each question once, nothing set aside, nothing refused.
        texts = [m.get("text") or "" for m in tg.bot_messages(BOSS_ID)]
        assert sum("What is it called?" in t for t in texts) == 2
        assert not [t for t in texts if "set aside" in t or "Send /help" in t]
    finally:
        await asyncio.gather(first.stop(), second.stop())
    await db.open_db(database_url)
    try:
        events = await Event.all().order_by("id")
        assert [(e.title, e.venue, e.crew_target) for e in events] == [
            ("Launch party", "Alchemist", 4),
            ("AGM", "Sarit Centre", 2),
        ]
    finally:
        await db.close_db()
