"""Two `callsheet run` processes in webhook mode on one PostgreSQL database deliver a queue of
chat messages together against Telegram's real limits: everyone gets theirs once, Telegram
turns none away, and together they keep one bot's rate."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from bot import db
from models import Access, Person, TelegramBudget, TelegramChatBudget
from models.stamps import stamp
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.conftest import BOT_TOKEN, BOT_USERNAME, PG_URL, START, free_port
from tests.outbox_helpers import chat_row
from tests.test_telegram_budget import most_in_any_window, sends, started, within_two_seconds

pytestmark = pytest.mark.skipif(
    not PG_URL,
    reason="several processes share one database only on PostgreSQL; "
    "set CALLSHEET_TEST_DATABASE_URL",
)
ROOT = Path(__file__).resolve().parent.parent
CREW = 120


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    sandbox = TelegramSandbox()  # Telegram's limits: 30/s for the bot, 1/s per chat
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


class Instance:
    """`callsheet run` in webhook mode, its log kept to count what it sent."""

    def __init__(self, tg: TelegramSandbox, database_url: str, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DARAJA_", "TELEGRAM_"))},
            "PTB_TIMEDELTA": "true",
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_API_BASE_URL": tg.base_url,
            "TELEGRAM_MODE": "webhook",
            "TELEGRAM_WEBHOOK_SECRET": "budget-processes-secret",
            "DATABASE_URL": database_url,
            "HTTP_PORT": str(self.port),
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
            "TIMEZONE": "Africa/Nairobi",
            "COMPANY_NAME": "Sauti Sound",
            "EMAIL_BACKEND": "console",
        }
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("wb") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", env=self.env, cwd=ROOT, stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
        async with httpx.AsyncClient() as http, asyncio.timeout(30):
            while True:
                try:
                    if (await http.get(f"http://127.0.0.1:{self.port}/readyz")).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                await self.proc.wait()

    def sent(self) -> int:
        return self.log.read_text(errors="replace").count("sent: telegram")


async def test_two_processes_deliver_together_at_one_bots_rate(
    tg: TelegramSandbox, database_url: str, clock: ManualClock, tmp_path: Path
) -> None:
    users = await started(tg, CREW, 7000)
    async with httpx.AsyncClient() as http:  # their "hello"s are done with
        drop = await http.post(
            f"{tg.base_url}{BOT_TOKEN}/deleteWebhook", json={"drop_pending_updates": True}
        )
        assert drop.status_code == 200
    await db.open_db(database_url)
    try:
        await TelegramBudget.all().delete()
        await TelegramChatBudget.all().delete()
        for n, user in enumerate(users):
            person = await Person.create(
                **stamp(Person, START),
                name=f"Crew Member {n}",
                phone=f"+2547{n + 10000000:08d}",
                access=Access.CREW,
                telegram_id=user.id,
            )
            await chat_row(clock, user.id, f"Invitation for Crew Member {n}", person).save()
    finally:
        await db.close_db()

    first = len(tg.requests)
    instances = [Instance(tg, database_url, tmp_path / f"instance-{n}.log") for n in range(2)]
    try:
        await asyncio.gather(*(i.start() for i in instances))
        for n, user in enumerate(users):
            await tg.wait_for_bot_message(user.id, f"Invitation for Crew Member {n}", timeout=30)
    finally:
        await asyncio.gather(*(i.stop() for i in instances))

    for n, user in enumerate(users):
        texts = [m["text"] for m in tg.bot_messages(user.id)]
        assert texts == [f"Invitation for Crew Member {n}"]  # once each
    assert tg.stats.too_many_requests == 0  # Telegram turned none away
    delivered = [r for r in sends(tg, first) if r.ok]
    assert len(delivered) == CREW
    # Together one bot's pace (each alone at 30 a second would be 60 in a second).
    assert most_in_any_window([r.at for r in delivered], 2.0) <= within_two_seconds()
    # Both delivered, and between them every message once.
    shares = [i.sent() for i in instances]
    assert all(share > 0 for share in shares) and sum(shares) == CREW
