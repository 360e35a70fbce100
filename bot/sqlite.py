"""Tortoise's SQLite engine, with transactions that take the write lock when they begin.

Named as the engine of SQLite connections in `bot.db.tortoise_config`; PostgreSQL does not
use it. Tortoise opens every transaction with a plain (deferred) `BEGIN`: it takes the write
lock only at its first write, and if another process committed a write since the
transaction's first read, SQLite cannot upgrade it (SQLITE_BUSY_SNAPSHOT) and fails the write
at once with "database is locked": busy_timeout never applies to that case. A second process
writing the same file (`callsheet add-manager`, `callsheet migrate`, a benchmark's seeding)
then made the app's outbox claims and other read-then-write transactions fail.

`BEGIN IMMEDIATE` takes the write lock up front, waiting up to busy_timeout for another
process's transaction to end, so that the transaction's reads and writes see one state and
its writes cannot meet a newer snapshot. Within one process nothing changes: tortoise's
SQLite client has one connection, and a transaction holds it (an asyncio lock) from BEGIN to
COMMIT already. Statements outside transactions stay in autocommit: a lone read takes no
write lock, a lone write waits on busy_timeout.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient, TransactionContext
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import OperationalError

# How long a statement or a BEGIN waits for another process's write lock, in milliseconds;
# set on every connection this engine opens (tortoise runs each credential as a PRAGMA).
BUSY_TIMEOUT_MS = 5000


class ImmediateTransactionContext(SqliteTransactionContext):
    """As tortoise's, but a BEGIN that fails (busy past busy_timeout, or cancelled) leaves
    the connection's lock free and no transaction open, instead of holding both for good."""

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            self._trxlock.release()
            raise
        connection: TransactionalDBClient = self.connection  # tortoise leaves it untyped
        return connection


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    async def begin(self) -> None:
        connection = self._connection
        try:
            await connection.commit()  # as tortoise does: end any transaction left open
            await connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise OperationalError(exc) from exc
        except BaseException:
            # Cancelled while waiting: the BEGIN may still complete in aiosqlite's thread,
            # which runs calls in order, so this ROLLBACK undoes it.
            with contextlib.suppress(sqlite3.Error, ValueError):
                await connection.rollback()
            raise


class ImmediateSqliteClient(SqliteClient):
    def _in_transaction(self) -> TransactionContext:
        return ImmediateTransactionContext(ImmediateTransactionWrapper(self), self._lock)


# Read by tortoise when a connection's "engine" is this module.
client_class = ImmediateSqliteClient


def sqlite_credentials(credentials: dict[str, Any]) -> dict[str, Any]:
    """`credentials` with busy_timeout first (tortoise applies them as PRAGMAs in order, so it
    is in force for the journal_mode switch too), unless the URL names its own."""
    return {"busy_timeout": BUSY_TIMEOUT_MS, **credentials}
