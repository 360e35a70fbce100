"""The migration that hashes link tokens keeps links issued before it working."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from importlib import import_module
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from tortoise import Tortoise, connections
from tortoise.migrations.api.migrate import migrate as migrate_api

from bot import db
from bot.container import build_services
from models import LinkToken, Person
from services.clock import ManualClock
from tests.conftest import BOT_USERNAME, PG_URL, make_settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"


def just_before() -> str:
    """The migration this one follows (found by its name: migrations get renumbered)."""
    (path,) = MIGRATIONS.glob("*_people_link_token_hash.py")
    module = import_module(f"models.migrations.{path.stem}")
    app, name = module.Migration.dependencies[0]
    return f"{app}.{name}"


@pytest.fixture
async def fresh_url(tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of its own: this test migrates it step by step."""
    if not PG_URL:
        yield f"sqlite://{tmp_path}/old.sqlite3"
        return
    import asyncpg

    name = f"callsheet_mig_{secrets.token_hex(4)}"
    admin_url = PG_URL.replace("postgres://", "postgresql://", 1)

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    await admin(f'CREATE DATABASE "{name}"')
    yield urlunsplit(urlsplit(PG_URL)._replace(path="/" + name))
    await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_tokens_issued_before_the_migration_still_link(
    fresh_url: str, clock: ManualClock
) -> None:
    config = db.tortoise_config(fresh_url)
    await migrate_api(config=config, target=just_before())
    raw = "pre-migration-token_1"
    now = clock.now()
    conn = connections.get("default")
    postgres = conn.capabilities.dialect == "postgres"

    def mark(n: int) -> str:
        return f"${n}" if postgres else "?"

    await conn.execute_query(
        "INSERT INTO person (name, phone, email, skills, access, active, balance, created_at, "
        f"updated_at) VALUES ({', '.join(mark(i) for i in range(1, 10))})",
        ["Jane Wanjiku", "+254712345678", None, "", "crew", True, 0, now, now],
    )
    await conn.execute_query(
        "INSERT INTO link_token (token, person_id, expires_at, created_at) "
        f"VALUES ({mark(1)}, 1, {mark(2)}, {mark(3)})",
        [raw, now + timedelta(days=7), now],
    )
    await Tortoise.close_connections()

    await db.migrate(fresh_url)
    await db.open_db(fresh_url)
    try:
        stored = await LinkToken.get(person_id=1)
        assert stored.token_hash == hashlib.sha256(raw.encode()).hexdigest()
        people = build_services(make_settings(), clock, bot_username=BOT_USERNAME).people
        assert (await people.link_with_token(raw, 5001, None)).name == "Jane Wanjiku"
        assert (await Person.get(id=1)).telegram_id == 5001
    finally:
        await db.close_db()
