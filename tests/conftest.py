"""Fixtures: a real database (SQLite, or PostgreSQL via CALLSHEET_TEST_DATABASE_URL), the
sandbox Telegram server, a real SMTP server (aiosmtpd) and a running Callsheet process."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiosmtpd.controller import Controller
from tortoise import Tortoise, connections
from tortoise.fields import DatetimeField

from bot import db
from bot.app import Callsheet
from bot.settings import Settings
from models import Person
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock

# As `callsheet` does: PTB's durations (RetryAfter.retry_after) are timedeltas.
os.environ.setdefault("PTB_TIMEDELTA", "true")
PG_URL = os.environ.get("CALLSHEET_TEST_DATABASE_URL", "")
# A test that brings its own SQLite file (a real `callsheet` process, the demo) runs the same
# whatever the suite's database: the two SQLite passes of .ci/run run it, the PostgreSQL pass
# need not run it a third time.
OWN_SQLITE = pytest.mark.skipif(
    bool(PG_URL), reason="runs on its own SQLite file: the SQLite passes run it"
)
# The sandbox throttles chats as Telegram does (429 with retry_after); PTB 22 warns on every
# 429 unless retry_after is opted in as a timedelta, and warnings are errors in the tests.
os.environ.setdefault("PTB_TIMEDELTA", "1")
TABLES = [
    "menu_button",
    "webhook_attempt",
    "webhook_delivery",
    "webhook_event",
    "webhook_endpoint",
    "broadcast",
    "day_off",
    "conversation",
    "answer_tally",
    # A schedule left by the last test would pace this one's first messages.
    "telegram_budget",
    "telegram_chat_budget",
    "processed_update",
    "service_token",
    "daraja_exchange",
    "daraja_result",
    "reconciliation_row",
    "reconciliation",
    "audit_log",
    "scheduled_job",
    "live_message",
    "outbox_message",
    "receipt",
    "instalment_payment",
    "instalment",
    "deposit",
    "refund",
    "recorded_payment",
    "ledger_entry",
    "invoice_line",
    "invoice",
    "document_counter",
    "payout",
    "pay_line",
    "pay_sheet",
    "day_rate",
    "daraja_callback",
    "payment_batch_member",
    "payment",
    "payment_batch",
    "event_document",
    "briefing",
    "backup_offer",
    "backup_spot",
    "assignment",
    "event_need",
    "event",
    "link_token",
    "person",
]
BOT_TOKEN = "123456789:TESTtokenTESTtokenTESTtokenTEST00"
BOT_USERNAME = "callsheet_test_bot"
START = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)  # Monday 10:00 in Nairobi


def _with_db(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def session_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One migrated database per test session; each test empties it first."""
    if not PG_URL:
        path = tmp_path_factory.mktemp("db") / "callsheet.sqlite3"
        url = f"sqlite://{path}"
        asyncio.run(db.migrate(url))
        yield url
        return
    import asyncpg

    name = f"callsheet_test_{os.getpid()}_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(PG_URL.replace("postgres://", "postgresql://", 1))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    url = _with_db(PG_URL, name)
    asyncio.run(db.migrate(url))
    yield url
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _empty_tables(url: str) -> None:
    await db.open_db(url)
    conn = connections.get("default")
    if url.startswith("sqlite"):
        script = "".join(f"DELETE FROM {t};" for t in TABLES)
        await conn.execute_script(script + "DELETE FROM sqlite_sequence;")
    else:
        await conn.execute_script(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE;")
    await Tortoise.close_connections()


@pytest.fixture
async def database_url(session_database_url: str) -> str:
    """An empty, migrated database that nothing holds open: the app under test opens it."""
    await _empty_tables(session_database_url)
    return session_database_url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[str]:
    """An empty database opened for this test (for service tests without the app)."""
    await db.open_db(database_url)
    yield database_url
    await db.close_db()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


class Mailbox:
    """What the SMTP server received, as parsed messages; tests await arrivals."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.changed = asyncio.Event()
        self.loop = asyncio.get_running_loop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.loop.call_soon_threadsafe(self.changed.set)
        return "250 OK"

    async def wait_count(self, address: str, count: int, timeout: float = 5) -> list[EmailMessage]:
        async with asyncio.timeout(timeout):
            while True:
                self.changed.clear()  # before looking, so an arrival in between is not missed
                if len(self.to(address)) >= count:
                    break
                await self.changed.wait()
        return self.to(address)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]

    async def wait_for(
        self, address: str, subject_contains: str, timeout: float = 5
    ) -> EmailMessage:
        async with asyncio.timeout(timeout):
            while True:
                self.changed.clear()  # before looking, so an arrival in between is not missed
                for message in self.to(address):
                    if subject_contains in str(message["Subject"]):
                        return message
                await self.changed.wait()


@pytest.fixture
async def smtp_server() -> AsyncIterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    yield mailbox, port
    await asyncio.to_thread(controller.stop)


def text_part(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "telegram_bot_token": BOT_TOKEN,
        # The stand-ins let tests send many messages to one chat at once (chat_burst); on
        # PostgreSQL the shared budget would otherwise pace each chat to one a second.
        "telegram_chat_burst": 40,
        "http_port": 0,
        "company_name": "Sauti Sound",
        # Tortoise.init sets os.environ["TIMEZONE"] = "UTC", which pydantic-settings would
        # then read as ours in every later test: name the company's zone explicitly.
        "timezone": "Africa/Nairobi",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    sandbox = TelegramSandbox()
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


@pytest.fixture
async def mail(smtp_server: tuple[Mailbox, int]) -> Mailbox:
    return smtp_server[0]


def app_settings(
    tg: TelegramSandbox, database_url: str, smtp_port: int, **overrides: Any
) -> Settings:
    return make_settings(
        database_url=database_url,
        telegram_api_base_url=tg.base_url,
        email_backend="smtp",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_tls="none",
        email_from="Sauti Sound <crew@sauti.example>",
        **overrides,
    )


@pytest.fixture
async def app(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
) -> AsyncIterator[Callsheet]:
    """A running Callsheet in polling mode against the sandbox and the SMTP server."""
    running = Callsheet(app_settings(tg, database_url, smtp_server[1]), clock=clock)
    await running.start()
    yield running
    try:
        await assert_stamped_by(clock)
    finally:
        await running.stop()


# Columns that record when something happened: never later than the app's clock.
HAPPENED = {
    "created_at",
    "updated_at",
    "invited_at",
    "received_at",
    "at",
    "responded_at",
    "briefing_read_at",
    "linked_at",
    "chat_unreachable_at",
    "used_at",
    "resolved_at",
    "queried_at",
    "applied_at",
    "sent_at",
    "done_at",
    "started_at",
    "last_answer_at",
    "recorded_at",
    "undone_at",
    "added_at",
}


async def assert_stamped_by(clock: ManualClock) -> None:
    """No row carries a time from the wall clock: every 'when it happened' column is at or
    before the test's clock (which starts days before any date this suite runs on)."""

    late: list[str] = []
    limit = clock.now() + timedelta(seconds=1)
    for model in Tortoise.apps["models"].values():
        for name, field in model._meta.fields_map.items():
            if name in HAPPENED and isinstance(field, DatetimeField):
                rows = await model.filter(**{f"{name}__gt": limit}).values_list(name, flat=True)
                late += [f"{model.__name__}.{name} = {value}" for value in rows[:3]]
    assert not late, f"stamped after the clock's {limit}: {late}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class People:
    """Creates people straight through the service, as a manager's /addcrew would."""

    def __init__(self, app: Callsheet, tg: TelegramSandbox) -> None:
        self.app = app
        self.tg = tg
        self._next_user = 1000

    async def add(
        self,
        name: str,
        phone: str,
        *,
        email: str | None = None,
        manager: bool = False,
        linked: bool = True,
        skills: str = "",
    ) -> tuple[Person, SandboxUser]:
        from models import Access

        self._next_user += 1
        user = self.tg.user(self._next_user, name.split()[0], username=name.split()[0].lower())
        assert self.app.services is not None
        invite = await self.app.services.people.add_person(
            name=name,
            phone=phone,
            email=email,
            skills=skills,
            access=Access.MANAGER if manager else Access.CREW,
        )
        if linked:
            token = invite.link.rsplit("=", 1)[1]
            await self.tg.send_text(user, f"/start {token}")
            await self.tg.wait_for_bot_message(user.id, "linked")
        return await Person.get(id=invite.person.id), user


@pytest.fixture
def people(app: Callsheet, tg: TelegramSandbox) -> People:
    return People(app, tg)


@pytest.fixture(scope="session")
def chromium() -> Iterator[str]:
    """One headless Chromium for the run, started by the first browser test (see
    tests/browser_helpers.py); yields its DevTools address."""
    from tests.browser_helpers import running_chromium

    with running_chromium() as endpoint:
        yield endpoint
