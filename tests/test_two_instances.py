"""Two `callsheet run` processes in webhook mode on one PostgreSQL database, updates and
Daraja callbacks spread across both: no message sent twice, no payment credited twice, one
Daraja token between them."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot import db
from models import (
    CallbackStatus,
    DarajaCallback,
    LedgerEntry,
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
