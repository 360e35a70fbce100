"""Database lifetime: tortoise configuration, migrations, readiness."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.migrations.api.migrate import migrate as migrate_api
from tortoise.migrations.executor import MigrationExecutor

from bot.sqlite import sqlite_credentials

log = logging.getLogger(__name__)

APP = "models"


class NotMigrated(Exception):
    """The database lacks migrations; the message tells what to run."""


def tortoise_config(database_url: str) -> dict[str, Any]:
    return {
        "connections": {"default": _connection(database_url)},
        "apps": {
            APP: {
                "models": [
                    "models.tables",
                    "models.conversations",
                    "models.budget",
                    "models.payroll",
                ],
                "default_connection": "default",
                "migrations": "models.migrations",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _connection(database_url: str) -> str | dict[str, Any]:
    """PostgreSQL: the URL as it is. SQLite: tortoise's settings for the URL with bot.sqlite
    as the engine (write transactions begin IMMEDIATE) and busy_timeout for every connection
    it opens (the app's, `callsheet migrate`'s, the tests')."""
    url = _normalise_url(database_url)
    if not url.startswith("sqlite://"):
        return url
    settings = expand_db_url(url)
    return {"engine": "bot.sqlite", "credentials": sqlite_credentials(settings["credentials"])}


def _normalise_url(url: str) -> str:
    if url.startswith("sqlite://") and url not in ("sqlite://:memory:",):
        path = url.removeprefix("sqlite://")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("postgresql://"):
        return "postgres://" + url.removeprefix("postgresql://")
    return url


async def open_db(database_url: str) -> None:
    # Note: Tortoise.init sets os.environ["TIMEZONE"] (to "UTC" here), the very name of our
    # TIMEZONE setting: load Settings once, before the first open_db, as the CLI does.
    # On SQLite, each connection is opened with journal_mode=WAL (readers go on while one
    # writer commits) and busy_timeout (wait for another process's write lock instead of
    # failing): see bot/sqlite.py.
    await Tortoise.init(config=tortoise_config(database_url))


async def close_db() -> None:
    await Tortoise.close_connections()


async def pending_migrations(database_url: str) -> list[str]:
    executor = MigrationExecutor(connections.get("default"), tortoise_config(database_url)["apps"])
    return [f"{step.migration.app_label}.{step.migration.name}" for step in await executor.plan()]


async def ensure_migrated(database_url: str) -> None:
    pending = await pending_migrations(database_url)
    if pending:
        raise NotMigrated(
            f"the database has {len(pending)} migration(s) to apply "
            f"({', '.join(pending)}): run `callsheet migrate` first"
        )


async def migrate(database_url: str) -> list[str]:
    """Apply every pending migration; returns their names. Opens and closes its own connection."""
    config = tortoise_config(database_url)
    applied: list[str] = []

    def progress(event: str, app_label: str, name: str) -> None:
        if event == "apply_done":
            applied.append(f"{app_label}.{name}")

    try:
        await migrate_api(config=config, progress=progress)
    finally:
        await Tortoise.close_connections()
    return applied


async def database_ready() -> bool:
    try:
        await connections.get("default").execute_query("SELECT 1")
    except Exception:
        log.warning("database not reachable", exc_info=True)
        return False
    return True


# For tortoise's own CLI (`tortoise makemigrations`, see [tool.tortoise] in pyproject.toml):
# a plain dict, no connection is opened by importing it.
TORTOISE_ORM = tortoise_config("sqlite://:memory:")
