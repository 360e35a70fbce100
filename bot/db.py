"""Database lifetime: tortoise configuration, migrations, readiness."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import TransactionContextPooled
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.connection import get_connections
from tortoise.migrations.api.migrate import migrate as migrate_api
from tortoise.migrations.executor import MigrationExecutor

from bot.sqlite import sqlite_credentials

log = logging.getLogger(__name__)

APP = "models"


class NotMigrated(Exception):
    """The database lacks migrations; the message tells what to run."""


_pooled_enter = TransactionContextPooled.__aenter__
_pooled_exit = TransactionContextPooled.__aexit__


async def _enter_or_let_go(self: TransactionContextPooled) -> Any:
    """tortoise (1.1.9) makes the transaction the task's connection, then sends BEGIN; when
    BEGIN fails (PostgreSQL killed the pooled connection meanwhile), `__aexit__` never runs:
    the task keeps the dead transaction as its connection (every later `in_transaction()`
    of that task becomes a savepoint on it and fails with "connection is closed", so a
    worker never recovers) and the connection is never given back to the pool."""
    try:
        return await _pooled_enter(self)
    except BaseException:
        token = getattr(self, "token", None)
        if token is not None:
            with contextlib.suppress(RuntimeError, ValueError):
                get_connections().reset(token)
        connection = self.client._connection
        if connection is not None and self.client._parent._pool is not None:
            with contextlib.suppress(Exception):  # a dead connection: the pool replaces it
                await self.client._parent._pool.release(connection)
        raise


async def _exit_and_forget(self: TransactionContextPooled, *exc: Any) -> None:
    """The same when handing the connection back raises (it was killed after COMMIT):
    tortoise skips unsetting the task's transaction."""
    try:
        await _pooled_exit(self, *exc)
    except BaseException:
        with contextlib.suppress(RuntimeError, ValueError):  # already unset by tortoise
            get_connections().reset(self.token)
        raise


TransactionContextPooled.__aenter__ = _enter_or_let_go  # type: ignore[method-assign]
TransactionContextPooled.__aexit__ = _exit_and_forget  # type: ignore[method-assign,assignment]


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
                    "models.books",
                    "models.recorded",
                    "models.documents",
                    "models.refunds",
                    "models.webhooks",
                    "models.availability",
                    "models.eventdocs",
                    "models.backups",
                    "models.menu",
                    "models.checkout",
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
