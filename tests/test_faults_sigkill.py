"""`callsheet run` killed with SIGKILL at random moments of the payment flow and of outbox
delivery, 20 times: after the last restart every payment is in a true state, completed ones
are credited once, `callsheet audit` is clean and every message is delivered."""

from __future__ import annotations

import asyncio
import html
import os
import random
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot import db
from models import LedgerEntry, OutboxMessage, OutboxStatus, Payment, PaymentStatus, Person
from models.enums import Access
from models.stamps import stamp
from sandbox.daraja import SANDBOX_PASSKEY, DarajaSandbox, Outcome
from sandbox.telegram import SandboxUser, TelegramSandbox
from tests.conftest import BOT_TOKEN, BOT_USERNAME, OWN_SQLITE, free_port
from tests.payments_helpers import CALLBACK_SECRET, KEY, SECRET, run_audit

ROOT = Path(__file__).resolve().parent.parent
KILLS = int(os.environ.get("CALLSHEET_KILLS", "20"))
SEED = int(os.environ.get("CALLSHEET_KILL_SEED", "20261123"))
CREW = 6


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    sandbox = TelegramSandbox(chat_burst=200)
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


@pytest.fixture
async def daraja() -> AsyncIterator[DarajaSandbox]:
    async with DarajaSandbox(KEY, SECRET, callback_delay=0.2) as sandbox:
        yield sandbox


class Process:
    """`callsheet run` as its own process, killed without warning."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env = env
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot.cli",
            "run",
            env=self.env,
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        async with httpx.AsyncClient() as http, asyncio.timeout(20):
            while True:
                try:
                    reply = await http.get(f"http://127.0.0.1:{self.port}/readyz")
                    if reply.status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.05)

    async def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                await self.proc.wait()


async def seed_people(database_url: str, tg: TelegramSandbox) -> tuple[SandboxUser, list[Person]]:
    await db.open_db(database_url)
    try:
        boss = await Person.create(
            **stamp(Person, datetime.now(UTC)),
            name="Achieng Otieno",
            phone="+254700000001",
            access=Access.MANAGER,
            telegram_id=5001,
        )
        crew = [
            await Person.create(
                **stamp(Person, datetime.now(UTC)),
                name=f"Crew Member {chr(65 + n)}",
                phone=f"+2547123450{n:02d}",
                telegram_id=5100 + n,
            )
            for n in range(CREW)
        ]
    finally:
        await db.close_db()
    return tg.user(boss.telegram_id or 0, "Achieng"), crew


async def in_flight(database_url: str) -> int:
    """Outbox rows a dispatcher had claimed when the process died: the only ones that may
    reach Telegram twice."""
    await db.open_db(database_url)
    try:
        return await OutboxMessage.filter(status=OutboxStatus.SENDING).count()
    finally:
        await db.close_db()


@OWN_SQLITE
async def test_sigkill_twenty_times_leaves_true_payments_and_delivered_messages(
    tg: TelegramSandbox, daraja: DarajaSandbox, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    print(f"SIGKILL test: random seed {SEED} (set CALLSHEET_KILL_SEED to replay)")
    database_url = f"sqlite://{tmp_path / 'callsheet.sqlite3'}"
    await db.migrate(database_url)
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DARAJA_", "TELEGRAM_"))},
        "PTB_TIMEDELTA": "true",
        "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_BASE_URL": tg.base_url,
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
        "DARAJA_TIMEOUT_SECONDS": "3",
        # Callbacks that met a dead process are settled by asking Daraja, soon.
        "PAYMENT_QUERY_AFTER": "3s",
        "PAYMENT_GIVE_UP_AFTER": "10m",
        # A killed process's claims run out soon (the sandbox answers in milliseconds).
        "OUTBOX_LEASE": "2s",
    }
    boss, crew = await seed_people(database_url, tg)
    users = [tg.user(p.telegram_id or 0, p.name.split()[-1]) for p in crew]
    for user in [boss, *users]:  # each opens the chat, as a person does with /start
        await tg.send_text(user, "/help")
    process = Process(env, port)
    flight = 0
    outcomes = [Outcome.SUCCESS, Outcome.SUCCESS, Outcome.CANCELLED, Outcome.INSUFFICIENT]
    try:
        for kill in range(KILLS):
            await process.start()
            for n in rng.sample(range(CREW), 3):
                daraja.next_outcome(crew[n].phone, rng.choice(outcomes))
                amount = rng.randint(1, 9) * 100 + kill
                await tg.send_text(boss, f"/request #{crew[n].id} | {amount} | Kill {kill}")
            await tg.send_text(users[rng.randrange(CREW)], "/balance")
            await asyncio.sleep(rng.uniform(0.0, 0.6))  # the random moment of the kill
            await process.kill()
            flight += await in_flight(database_url)

        # The last start: let it settle.
        await process.start()
        await db.open_db(database_url)
        try:
            try:
                async with asyncio.timeout(30):
                    while await unsettled():  # noqa: ASYNC110  (another process works)
                        await asyncio.sleep(0.2)
            except TimeoutError:
                raise AssertionError(f"not settled after 30 s: {await unsettled()}") from None
            payments = await Payment.all().order_by("id")
            assert payments, "no payment was ever requested"
            for payment in payments:
                await check_true_state(payment, daraja)
            outbox = await OutboxMessage.all()
            assert {m.status for m in outbox} <= {OutboxStatus.SENT, OutboxStatus.SKIPPED}
            duplicates = duplicate_deliveries(outbox, tg)
            print(
                f"{len(payments)} payments ({dict(Counter(p.status.value for p in payments))}), "
                f"{len(outbox)} outbox rows, {flight} in flight at "
                f"kills, {duplicates} delivered twice"
            )
            assert duplicates <= flight
        finally:
            await db.close_db()
    finally:
        await process.stop()
    audit = await asyncio.to_thread(run_audit, database_url)
    # A payment the STK query settled after its callback met a dead process has no receipt:
    # the audit lists it for a manager to /resolve. Nothing else may be wrong.
    problems = [line for line in audit.stdout.splitlines() if line.startswith("mismatch:")]
    others = [line for line in problems if "completed without an M-Pesa receipt" not in line]
    assert others == [], audit.stdout + audit.stderr
    assert audit.returncode == (1 if problems else 0), audit.stdout + audit.stderr


async def unsettled() -> list[str]:
    open_payments = await Payment.filter(
        status__in=[PaymentStatus.INITIATED, PaymentStatus.PENDING]
    )
    waiting = await OutboxMessage.filter(status__in=[OutboxStatus.PENDING, OutboxStatus.SENDING])
    return [f"payment #{p.id} {p.status}" for p in open_payments] + [
        f"outbox #{m.id} {m.status} {m.kind} attempts={m.attempts} {m.last_error}" for m in waiting
    ]


async def check_true_state(payment: Payment, daraja: DarajaSandbox) -> None:
    entries = await LedgerEntry.filter(payment_id=payment.id).count()
    credited = payment.status is PaymentStatus.COMPLETED and payment.flag_reason is None
    assert entries == (1 if credited else 0), (payment.id, payment.status, entries)
    checkout = payment.checkout_request_id
    if checkout is None:
        # Daraja's answer never reached us: nothing we know of was charged, and a manager
        # was told to ask the payer. Or Daraja refused it outright.
        assert payment.status in (PaymentStatus.UNKNOWN, PaymentStatus.FAILED), payment.id
        return
    result = await daraja.wait_for_result(checkout)
    paid = result[0] == 0
    assert (payment.status is PaymentStatus.COMPLETED) == paid, (payment.id, payment.status, result)


def duplicate_deliveries(outbox: list[OutboxMessage], tg: TelegramSandbox) -> int:
    """Messages that reached a chat more often than the outbox rows that carry them."""
    extra = 0
    for row in outbox:
        if row.chat_id is None or row.live_key is not None:
            continue
        same = [m for m in tg.bot_messages(row.chat_id) if _plain(m) == _plain_html(row.text)]
        rows = sum(
            1 for r in outbox if r.chat_id == row.chat_id and r.text == row.text and not r.live_key
        )
        extra += max(0, len(same) - rows)
    return extra


def _plain(message: dict[str, Any]) -> str:
    return (message.get("text") or "").strip()


def _plain_html(text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", text)).strip()
