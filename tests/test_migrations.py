"""Upgrading a database in use keeps every row: the migrations since the first release run
on a database holding a company's people, events, payments, ledger and messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate as migrate_api

from bot import db
from models import LedgerEntry, Payment, PaymentStatus, Person
from services.clock import ManualClock
from tests.test_link_token_migration import fresh_url  # noqa: F401  (fixture)

RELEASED = "models.0003_callback_sweep_index"  # the schema deployments had before this work


async def insert(table: str, **values: Any) -> None:
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"
    marks = ", ".join(f"${n}" if postgres else "?" for n in range(1, len(values) + 1))
    await conn.execute_query(
        f'INSERT INTO "{table}" ({", ".join(values)}) VALUES ({marks})', list(values.values())
    )


async def counts() -> dict[str, int]:
    conn = connections.get("default")
    found: dict[str, int] = {}
    for table in TABLES:
        _, rows = await conn.execute_query(f'SELECT COUNT(*) AS n FROM "{table}"')
        found[table] = int(rows[0]["n"])
    return found


TABLES = (
    "person",
    "link_token",
    "event",
    "assignment",
    "briefing",
    "scheduled_job",
    "payment",
    "daraja_callback",
    "ledger_entry",
    "outbox_message",
    "audit_log",
    "live_message",
)


async def test_upgrading_a_database_in_use_keeps_every_row(
    fresh_url: str,  # noqa: F811
    clock: ManualClock,
) -> None:
    await migrate_api(config=db.tortoise_config(fresh_url), target=RELEASED)
    now = clock.now()
    people = {"skills": "", "active": True, "balance": 0, "created_at": now, "updated_at": now}
    await insert("person", name="Achieng Otieno", phone="+254700000001", access="manager", **people)
    await insert("person", name="Jane Wanjiku", phone="+254712345678", access="crew", **people)
    await insert(
        "link_token",
        token="t" * 22,
        person_id=2,
        expires_at=now + timedelta(days=7),
        created_at=now,
    )
    await insert(
        "event",
        title="Harusi",
        venue="KICC",
        starts_at=now + timedelta(days=3),
        ends_at=now + timedelta(days=3, hours=5),
        call_at=now + timedelta(days=3),
        notes="",
        status="scheduled",
        manager_id=1,
        created_at=now,
        updated_at=now,
    )
    await insert(
        "assignment",
        event_id=1,
        person_id=2,
        role="rigger",
        status="confirmed",
        invited_at=now,
        updated_at=now,
    )
    await insert("briefing", event_id=1, text="Gate B", sent_by_id=1, created_at=now)
    await insert(
        "scheduled_job",
        kind="reminder",
        due_at=now + timedelta(days=2),
        status="pending",
        dedupe_key="reminder:a1:86400",
        attempts=0,
        event_id=1,
        assignment_id=1,
        created_at=now,
    )
    await insert(
        "payment",
        person_id=2,
        phone="+254712345678",
        amount=1500,
        purpose="Deposit",
        account_reference="Deposit",
        transaction_desc="Deposit",
        status="completed",
        requested_by_id=1,
        checkout_request_id="ws_CO_1",
        receipt="QJK3ABCDEF",
        paid_amount=1500,
        created_at=now,
        updated_at=now,
    )
    await insert(
        "daraja_callback",
        checkout_request_id="ws_CO_1",
        body="{}",
        status="applied",
        payment_id=1,
        received_at=now,
    )
    await insert(
        "ledger_entry",
        person_id=2,
        kind="payment",
        amount=-1500,
        description="M-Pesa QJK3ABCDEF · Deposit",
        payment_id=1,
        created_at=now,
    )
    await insert(
        "outbox_message",
        person_id=2,
        channel="telegram",
        kind="reminder",
        status="sent",
        chat_id=5001,
        text="Reminder",
        attempts=1,
        next_attempt_at=now,
        created_at=now,
    )
    await insert(
        "audit_log",
        at=now,
        actor_id=1,
        actor_label="Achieng Otieno",
        action="event.created",
        subject_type="event",
        subject_id=1,
        details="{}",
    )
    await insert("live_message", key="pay:1", chat_id=5001, message_id=7, updated_at=now)
    before = await counts()
    assert all(before.values()), before
    await Tortoise.close_connections()

    applied = await db.migrate(fresh_url)
    assert applied, "nothing was migrated: the test no longer starts from the released schema"

    await db.open_db(fresh_url)
    try:
        assert await counts() == before
        jane = await Person.get(phone="+254712345678")
        paid = await Payment.get(receipt="QJK3ABCDEF")
        assert (paid.status, paid.person_id) == (PaymentStatus.COMPLETED, jane.id)  # type: ignore[attr-defined]
        assert (await LedgerEntry.get(payment_id=paid.id)).amount == -1500
    finally:
        await db.close_db()
