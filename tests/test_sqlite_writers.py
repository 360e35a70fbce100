"""`callsheet run` on a SQLite file while an operator writes the same file from other
processes (`callsheet add-manager`, several at once): every command succeeds, the app logs
no "database is locked", and every reply the app owes reaches its chat once."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from tortoise import connections
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from bot import db
from bot.container import build_services
from bot.settings import Settings
from models import Event, OutboxMessage, OutboxStatus, Person
from models.enums import Access
from models.stamps import stamp
from sandbox.telegram import TelegramSandbox
from services.clock import SystemClock
from tests.conftest import BOT_TOKEN, BOT_USERNAME, OWN_SQLITE, Mailbox, free_port

ROOT = Path(__file__).resolve().parent.parent
CREW = 20
ROUNDS = 3  # of crew commands and operator commands, at the same time
OPERATORS = 4  # `callsheet add-manager` processes started together in each round


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    # Telegram's per-chat pace is not what this test is about: each chat gets a burst.
    sandbox = TelegramSandbox(overall_rate=1000, chat_burst=50)
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


def _env(database_url: str, tg: TelegramSandbox, port: int, smtp_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env.update(
        PYTHONPATH=str(ROOT),
        PTB_TIMEDELTA="true",
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_API_BASE_URL=tg.base_url,
        DATABASE_URL=database_url,
        HTTP_PORT=str(port),
        EMAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp_port),
        SMTP_TLS="none",
        EMAIL_FROM="Sauti Sound <crew@sauti.example>",
    )
    return env


async def _add_manager(env: dict[str, str], n: int) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "add-manager",
        "--name",
        f"Operator Added {n}",
        "--phone",
        f"07220000{n:02d}",
        "--email",
        _operator_email(n),
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode()


def _operator_email(n: int) -> str:
    return f"operator{n}@example.com"


async def _ready(port: int) -> None:
    async with httpx.AsyncClient() as http, asyncio.timeout(30):
        while True:
            try:
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.05)


@OWN_SQLITE
async def test_operator_commands_while_the_app_delivers_on_one_sqlite_file(
    tg: TelegramSandbox, smtp_server: tuple[Mailbox, int], tmp_path: Path
) -> None:
    mail, smtp_port = smtp_server
    database_url = f"sqlite://{tmp_path / 'callsheet.sqlite3'}"
    port = free_port()
    env = _env(database_url, tg, port, smtp_port)
    # Before the first database open (Tortoise.init overwrites os.environ["TIMEZONE"]).
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        telegram_bot_token=SecretStr(BOT_TOKEN),
        database_url=database_url,
        timezone="Africa/Nairobi",
    )
    await db.migrate(database_url)
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
                name=f"Crew Member {n}",
                phone=f"+2547123450{n:02d}",
                telegram_id=5100 + n,
            )
            for n in range(CREW)
        ]
        call = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
        events = [
            await Event.create(
                **stamp(Event, datetime.now(UTC)),
                title=f"Festival {n}",
                venue="Uhuru Gardens",
                call_at=call,
                starts_at=call + timedelta(hours=2),
                ends_at=call + timedelta(hours=10),
                manager=boss,
            )
            for n in range(ROUNDS)
        ]
    finally:
        await db.close_db()
    users = [tg.user(p.telegram_id or 0, p.name.split()[-1]) for p in crew]
    for user in users:  # each has started the bot, so that it may write to them
        await tg.send_text(user, "/help")
    app = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env=env,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    results: list[tuple[int, str]] = []
    try:
        await _ready(port)
        await db.open_db(database_url)
        try:
            services = build_services(settings, SystemClock(), bot_username=BOT_USERNAME)
            for round_, event in enumerate(events):
                # While the app delivers, a writer invites the crew (one transaction per
                # invitation, as bench/fanout.py seeds) and operators add managers.
                async def invite(event: Event = event) -> None:
                    for person in crew:
                        await services.assignments.assign(
                            event.id, person.id, "stagehand", actor=boss, chat_id=None
                        )

                adding = asyncio.gather(
                    *(_add_manager(env, round_ * OPERATORS + n) for n in range(OPERATORS))
                )
                _, added = await asyncio.gather(invite(), adding)
                results += added
        finally:
            await db.close_db()
        # Every crew member is owed one invitation per event.
        await tg.wait_for(
            lambda: all(len(_invitations(tg, u.id)) >= ROUNDS for u in users),
            timeout=60,
            description=f"{ROUNDS} invitations in each crew chat",
        )
        # And every manager added is owed the email with their link.
        for n in range(ROUNDS * OPERATORS):
            await mail.wait_count(_operator_email(n), 1, timeout=30)
    finally:
        app.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(app.communicate(), timeout=30)
    log = stderr.decode()
    assert app.returncode == 0, log
    for code, out in results:
        assert code == 0, out
        assert "Added manager #" in out, out
    assert "database is locked" not in log, log
    await db.open_db(database_url)
    try:
        managers = await Person.filter(name__startswith="Operator Added").count()
        unsent = await OutboxMessage.exclude(
            status__in=[OutboxStatus.SENT, OutboxStatus.SKIPPED]
        ).count()
    finally:
        await db.close_db()
    assert managers == ROUNDS * OPERATORS
    assert unsent == 0
    for user in users:  # once each: none doubled
        shown = sorted(m["text"].split("\n")[0] for m in _invitations(tg, user.id))
        assert len(shown) == ROUNDS, shown
    for n in range(ROUNDS * OPERATORS):
        assert len(mail.to(_operator_email(n))) == 1


def _invitations(tg: TelegramSandbox, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in tg.bot_messages(chat_id) if "Festival" in (m.get("text") or "")]


@OWN_SQLITE
async def test_a_transaction_that_cannot_get_the_write_lock_fails_cleanly(tmp_path: Path) -> None:
    """Another process holds the SQLite write lock past busy_timeout: the transaction fails
    with "database is locked" before doing anything, and the next one works once it is free."""
    path = tmp_path / "callsheet.sqlite3"
    database_url = f"sqlite://{path}?busy_timeout=200"  # not the 5 s default, to be quick
    await db.migrate(database_url)
    other = sqlite3.connect(path, isolation_level=None)
    await db.open_db(database_url)
    try:
        rows = await connections.get("default").execute_query_dict("PRAGMA busy_timeout")
        assert rows == [{"timeout": 200}]
        other.execute("BEGIN IMMEDIATE")
        with pytest.raises(OperationalError, match="database is locked"):
            async with in_transaction() as conn:
                await Person.create(
                    **stamp(Person, datetime.now(UTC)),
                    name="Never Saved",
                    phone="+254700000009",
                    using_db=conn,
                )
        other.execute("ROLLBACK")
        async with asyncio.timeout(10), in_transaction() as conn:
            await Person.create(
                **stamp(Person, datetime.now(UTC)),
                name="Achieng Otieno",
                phone="+254700000001",
                using_db=conn,
            )
        assert [p.name for p in await Person.all()] == ["Achieng Otieno"]
    finally:
        await db.close_db()
        other.close()
