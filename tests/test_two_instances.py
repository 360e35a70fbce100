"""Two `callsheet run` processes in webhook mode on one PostgreSQL database, updates and
Daraja callbacks spread across both: no message sent twice, no payment credited twice, one
Daraja token between them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiohttp import web

from bot import db
from models import (
    CallbackStatus,
    DarajaCallback,
    LedgerEntry,
    NotificationKind,
    OutboxMessage,
    OutboxStatus,
    Payment,
    PaymentStatus,
    Person,
)
from models.enums import Access
from models.stamps import stamp
from sandbox.daraja import SANDBOX_PASSKEY, DarajaSandbox
from sandbox.telegram import SandboxUser, TelegramSandbox
from tests.conftest import BOT_TOKEN, BOT_USERNAME, PG_URL, free_port
from tests.event_setup import said
from tests.payments_helpers import CALLBACK_SECRET, KEY, SECRET, run_audit
from tests.test_faults_sigkill import Process, duplicate_deliveries

pytestmark = pytest.mark.skipif(
    not PG_URL,
    reason="two processes share one database only on PostgreSQL (SQLite is one file for one "
    "process); set CALLSHEET_TEST_DATABASE_URL",
)
WEBHOOK_SECRET = "two-instances-secret"
CREW = 6


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    sandbox = TelegramSandbox(chat_burst=200)
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


@pytest.fixture
async def daraja() -> AsyncIterator[DarajaSandbox]:
    async with DarajaSandbox(KEY, SECRET, callback_delay=0.1) as sandbox:
        yield sandbox


def environment(
    tg: TelegramSandbox, daraja: DarajaSandbox, database_url: str, port: int
) -> dict[str, str]:
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
        "DARAJA_BASE_URL": daraja.base_url,
        "DARAJA_CONSUMER_KEY": KEY,
        "DARAJA_CONSUMER_SECRET": SECRET,
        "DARAJA_SHORTCODE": "174379",
        "DARAJA_PASSKEY": SANDBOX_PASSKEY,
        "DARAJA_CALLBACK_SECRET": CALLBACK_SECRET,
    }


def command_update(update_id: int, user: SandboxUser, text: str) -> dict[str, Any]:
    """What Telegram would post for `text` typed by `user` (for the instance it does not
    deliver to)."""
    command = text.split()[0]
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
            "from": {"id": user.id, "is_bot": False, "first_name": user.first_name},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(command)}],
        },
    }


async def test_two_instances_on_one_database_send_once_credit_once_and_share_one_token(
    tg: TelegramSandbox, daraja: DarajaSandbox, database_url: str
) -> None:
    await db.open_db(database_url)
    await Person.create(
        **stamp(Person, datetime.now(UTC)),
        name="Achieng Otieno",
        phone="+254700000001",
        access=Access.MANAGER,
        telegram_id=6001,
    )
    crew = [
        await Person.create(
            **stamp(Person, datetime.now(UTC)),
            name=f"Crew Member {chr(65 + n)}",
            phone=f"+2547223450{n:02d}",
            telegram_id=6100 + n,
        )
        for n in range(CREW)
    ]
    await db.close_db()
    boss_user = tg.user(6001, "Achieng")
    for user in [boss_user, *(tg.user(p.telegram_id or 0, p.name.split()[-1]) for p in crew)]:
        await tg.send_text(user, "/help")  # opens each chat

    ports = free_port(), free_port()
    first, second = (Process(environment(tg, daraja, database_url, p), p) for p in ports)
    try:
        await asyncio.gather(first.start(), second.start())
        # The sandbox delivers to whichever set its webhook last; we post to both.
        async with httpx.AsyncClient(timeout=20) as http:
            for n, person in enumerate(crew):
                text = f"/request #{person.id} | {500 + n} | Two {n}"
                if n % 2:
                    await tg.send_text(boss_user, text)
                    continue
                update = command_update(2_000_000_000 + n, boss_user, text)
                # The same update reaches both (a retried delivery): acted on once.
                replies = await asyncio.gather(
                    *(
                        http.post(
                            f"http://127.0.0.1:{port}/telegram/webhook",
                            json=update,
                            headers={"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET},
                        )
                        for port in ports
                    )
                )
                assert [r.status_code for r in replies] == [200, 200]

            await db.open_db(database_url)
            try:
                async with asyncio.timeout(30):
                    while not await settled():  # noqa: ASYNC110  (two other processes work)
                        await asyncio.sleep(0.1)
                # Each callback redelivered to the other instance: a duplicate, no change.
                for delivered in list(daraja.callbacks_delivered):
                    other = ports[0] if str(ports[1]) in delivered.url else ports[1]
                    url = delivered.url.replace(
                        delivered.url.split("/daraja/")[0], f"http://127.0.0.1:{other}"
                    )
                    reply = await http.post(url, json=delivered.body)
                    assert reply.status_code == 200  # stored; settled by that process
                async with asyncio.timeout(30):
                    while await DarajaCallback.filter(  # noqa: ASYNC110  (other processes)
                        status=CallbackStatus.RECEIVED
                    ).exists():
                        await asyncio.sleep(0.1)

                payments = await Payment.all()
                assert len(payments) == CREW
                assert {p.status for p in payments} == {PaymentStatus.COMPLETED}
                assert await LedgerEntry.filter(payment_id__isnull=False).count() == CREW
                callbacks = [c.status for c in await DarajaCallback.all()]
                assert callbacks.count(CallbackStatus.APPLIED) == CREW
                assert callbacks.count(CallbackStatus.DUPLICATE) == len(callbacks) - CREW
                assert daraja.stats.pushes_accepted == CREW
                assert daraja.stats.tokens_issued == 1
                outbox = await OutboxMessage.all()
                assert {m.status for m in outbox} <= {OutboxStatus.SENT, OutboxStatus.SKIPPED}
                assert duplicate_deliveries(outbox, tg) == 0
                # One status message per payment in the manager's chat, edited in place.
                for payment in payments:
                    shown = [
                        m
                        for m in tg.bot_messages(boss_user.id)
                        if f"Payment #{payment.id} ·" in (m.get("text") or "")
                    ]
                    assert len(shown) == 1, [m["text"] for m in shown]
            finally:
                await db.close_db()
    finally:
        await asyncio.gather(first.stop(), second.stop())
    audit = await asyncio.to_thread(run_audit, database_url)
    assert audit.returncode == 0, audit.stdout + audit.stderr


async def settled() -> bool:
    open_payments = await Payment.filter(
        status__in=[PaymentStatus.INITIATED, PaymentStatus.PENDING]
    ).exists()
    waiting = await OutboxMessage.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]
    ).exists()
    return await Payment.all().count() == CREW and not open_payments and not waiting


def tally_messages(tg: TelegramSandbox, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in tg.bot_messages(chat_id) if str(m["text"]).startswith("Answers · #1")]


class Balancer:
    """A load balancer in front of both instances: Telegram's webhook posts reach them in
    turn, and every third update is delivered to both (a retried delivery that landed on the
    other instance). An instance that is not up yet gets 502, and Telegram retries."""

    def __init__(self, ports: tuple[int, int], http: httpx.AsyncClient) -> None:
        self.ports = ports
        self.http = http
        self.count = 0
        self.port = free_port()

    async def forward(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = {
            "X-Telegram-Bot-Api-Secret-Token": request.headers.get(
                "X-Telegram-Bot-Api-Secret-Token", ""
            ),
            "Content-Type": "application/json",
        }
        turn, self.count = self.count, self.count + 1
        targets = [self.ports[turn % 2], *([self.ports[1 - turn % 2]] if turn % 3 == 2 else [])]
        try:
            replies = await asyncio.gather(
                *(
                    self.http.post(
                        f"http://127.0.0.1:{port}/telegram/webhook", content=body, headers=headers
                    )
                    for port in targets
                )
            )
        except httpx.HTTPError:
            return web.Response(status=502)
        return web.Response(status=replies[0].status_code, body=replies[0].content)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[str]:
        app = web.Application()
        app.router.add_post("/telegram/webhook", self.forward)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        try:
            yield f"http://127.0.0.1:{self.port}"
        finally:
            await runner.cleanup()


async def test_crew_answering_through_both_instances_end_on_one_tally_with_the_final_counts(
    tg: TelegramSandbox, daraja: DarajaSandbox, database_url: str
) -> None:
    """The first answers to an event arrive together on both instances, some twice: they wait
    for each other on the event's tally, so the manager's one tally message ends on every
    answer."""
    await db.open_db(database_url)
    await Person.create(
        **stamp(Person, datetime.now(UTC)),
        name="Achieng Otieno",
        phone="+254700000001",
        access=Access.MANAGER,
        telegram_id=6001,
    )
    crew = [
        await Person.create(
            **stamp(Person, datetime.now(UTC)),
            name=f"Crew Member {chr(65 + n)}",
            phone=f"+2547223450{n:02d}",
            telegram_id=6100 + n,
        )
        for n in range(CREW)
    ]
    await db.close_db()
    boss = tg.user(6001, "Achieng")
    users = [tg.user(p.telegram_id or 0, p.name.split()[-1]) for p in crew]
    for user in [boss, *users]:
        await tg.send_text(user, "/help")  # opens each chat

    ports = free_port(), free_port()
    async with httpx.AsyncClient(timeout=20) as http, Balancer(ports, http).running() as public:
        env = {"PUBLIC_BASE_URL": public, "TELEGRAM_CHAT_BURST": "40"}
        first, second = (
            Process({**environment(tg, daraja, database_url, p), **env}, p) for p in ports
        )
        try:
            await asyncio.gather(first.start(), second.start())
            day = (datetime.now(UTC) + timedelta(days=30)).date()
            await said(
                tg,
                boss,
                f"/newevent Tamasha | {day} 18:00 | 23:00 | KICC | call 15:00 | crew 20",
                "Event #1 created",
            )
            invitations = []
            for person, user in zip(crew, users, strict=True):
                await said(tg, boss, f"/assign 1 | {person.phone} | stagehand", "invited to")
                invitations.append(await tg.wait_for_bot_message(user.id, "Invitation"))

            queries = await asyncio.gather(
                *(
                    tg.press(user, invitation["message_id"], "Confirm")
                    for user, invitation in zip(users, invitations, strict=True)
                )
            )
            for query in queries:
                await tg.wait_for_callback_answer(query, timeout=20)
            counts = f"✅ {CREW} confirmed · ❌ 0 declined · ⏳ 0 waiting"
            final = await tg.wait_for_bot_message(boss.id, counts, timeout=20)
            assert tally_messages(tg, boss.id) == [final]

            await db.open_db(database_url)
            try:
                async with asyncio.timeout(20):
                    while await OutboxMessage.filter(  # noqa: ASYNC110  (other processes)
                        status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING]
                    ).exists():
                        await asyncio.sleep(0.1)
                rows = await OutboxMessage.filter(kind=NotificationKind.ANSWERS_TALLY)
                # One tally row per answer (a duplicate delivery wrote none); those that were
                # not sent were overtaken by a newer one.
                assert len(rows) == CREW
                assert {r.status for r in rows} <= {OutboxStatus.SENT, OutboxStatus.SKIPPED}
                # Once all is sent, no older edit has overwritten the final counts.
                (tally,) = tally_messages(tg, boss.id)
                assert counts in tally["text"]
            finally:
                await db.close_db()
        finally:
            await asyncio.gather(first.stop(), second.stop())
