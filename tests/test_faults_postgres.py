# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""PostgreSQL connections killed under load: requests fail cleanly (an error id), the
process recovers by itself, and nothing is lost."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg
import httpx
import pytest
from tortoise.transactions import in_transaction

from bot.app import Callsheet
from models import LedgerEntry, Payment, PaymentStatus, Person
from models.errors import DATABASE_UNAVAILABLE
from models.stamps import stamp
from sandbox.daraja import DarajaSandbox
from sandbox.telegram import SandboxUser, TelegramSandbox
from tests.conftest import PG_URL, START
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    app,
    callback_url,
    crew,
    daraja,
    settled,
    tg,
)
from tests.test_abuse import success_body

pytestmark = pytest.mark.skipif(
    not PG_URL,
    reason="kills server connections with pg_terminate_backend: PostgreSQL only "
    "(set CALLSHEET_TEST_DATABASE_URL)",
)

Crew = tuple[Person, SandboxUser, Person, SandboxUser]
PAYMENTS = 40
KILL = (
    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
)


async def open_payments(boss: Person, jane: Person) -> list[Payment]:
    """Pending payments as /request leaves them once Daraja took each push."""
    return [
        await Payment.create(
            **stamp(Payment, START),
            person=jane,
            requested_by=boss,
            phone=jane.phone,
            amount=100 + n,
            purpose="Load",
            account_reference="Load",
            transaction_desc="Load",
            status=PaymentStatus.PENDING,
            checkout_request_id=f"ws_CO_kill_{n}",
            merchant_request_id=f"kill-{n}",
        )
        for n in range(PAYMENTS)
    ]


async def test_killed_connections_fail_cleanly_recover_and_lose_nothing(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    database_url: str,
    crew: Crew,
) -> None:
    boss, boss_user, jane, jane_user = crew
    payments = await open_payments(boss, jane)
    dsn = database_url.replace("postgres://", "postgresql://", 1)
    killer = await asyncpg.connect(dsn)
    killed = 0
    answers: list[tuple[int, int, Any]] = []

    async def post(http: httpx.AsyncClient, payment: Payment, n: int) -> None:
        body = success_body(payment, receipt=f"QKL{n:07d}")
        try:
            reply = await http.post(callback_url(app), json=body)
        except httpx.HTTPError as exc:  # a torn connection is a failure Daraja retries too
            answers.append((n, 0, repr(exc)))
            return
        answers.append((n, reply.status_code, reply.json()))

    async def kill_repeatedly() -> None:
        nonlocal killed
        for _ in range(3):
            await asyncio.sleep(0.05)
            killed += await killer.fetchval(KILL)

    try:
        async with httpx.AsyncClient(timeout=20) as http:
            sent = []
            for _ in range(6):
                sent.append(await tg.send_text(jane_user, "/balance"))
            await asyncio.gather(
                kill_repeatedly(),
                *(post(http, p, n) for n, p in enumerate(payments)),
            )
            assert killed >= 1
            # Every failure is clean: a 5xx with an error id for the operator, never a hang.
            failed = [(n, status, body) for n, status, body in answers if status != 200]
            for _, status, body in failed:
                if status:
                    assert status in (500, 503) and re.fullmatch(r"[0-9A-F]{6}", body["id"])
            # Recovery without a restart: ready again, and the next update is answered.
            async with asyncio.timeout(10):
                ready = f"http://127.0.0.1:{app.port}/readyz"
                while (await http.get(ready)).status_code != 200:  # noqa: ASYNC110  (polled, as a probe does)
                    await asyncio.sleep(0.1)
            # Daraja redelivers what was not acknowledged: now it is accepted.
            retried = [n for n, _, _ in failed]
            answers.clear()
            await asyncio.gather(*(post(http, payments[n], n) for n in retried))
            assert all(status == 200 for _, status, _ in answers), answers
    finally:
        await killer.close()

    before = tg.last_bot_message(boss_user.id)
    await tg.send_text(boss_user, "/help")
    await tg.wait_for_bot_message(
        boss_user.id, "Here is what you can do", after=before["message_id"] if before else None
    )
    # Each /balance sent during the kills got an answer: the statement, or an error id.
    answer = re.compile(r"You owe|owe nothing|in credit|\(error [0-9A-F]{6}\)")

    def answered() -> int:
        after = sent[0]["message_id"]
        replies = [m for m in tg.bot_messages(jane_user.id) if m["message_id"] > after]
        return sum(bool(answer.search(m.get("text") or "")) for m in replies)

    await tg.wait_for(lambda: answered() >= len(sent), timeout=15)

    # Nothing lost, nothing twice: every payment credited exactly once (the worker retries
    # what a killed connection interrupted).
    await settled(app)
    statuses = {p.status for p in await Payment.all()}
    assert statuses == {PaymentStatus.COMPLETED}
    assert await LedgerEntry.filter(payment_id__isnull=False).count() == PAYMENTS
    credited = await LedgerEntry.filter(payment_id__isnull=False, person_id=jane.id)
    assert -sum(e.amount for e in credited) == sum(100 + n for n in range(PAYMENTS))
    assert (await Person.get(id=jane.id)).balance == 0  # each charged with its request


async def test_a_transaction_begun_on_a_killed_connection_leaves_its_task_working(
    database: str,
) -> None:
    """A long-lived task (a worker) whose pooled connection PostgreSQL killed while idle: its
    next transaction fails at BEGIN, and the one after works on a fresh connection (tortoise
    alone would leave the task holding the dead transaction for good: bot/db.py)."""
    dsn = database.replace("postgres://", "postgresql://", 1)
    killer = await asyncpg.connect(dsn)
    failed = 0
    try:
        # Whether BEGIN meets the dead connection depends on the server closing it after the
        # kill is answered, not before (then the pool just reconnects): tried until it does.
        for _ in range(10):
            async with in_transaction() as conn:
                await conn.execute_query("SELECT 1")
            await killer.fetchval(KILL)
            try:
                async with in_transaction() as conn:
                    await conn.execute_query("SELECT 1")
            except DATABASE_UNAVAILABLE:
                failed += 1
            async with in_transaction() as conn:  # the task works again, either way
                _, rows = await conn.execute_query("SELECT 2 AS two")
            assert rows[0]["two"] == 2
            if failed:
                break
        assert failed, "the killed connection was never met: the test proved nothing"
    finally:
        await killer.close()
