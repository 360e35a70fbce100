"""The few statements written as SQL (batched updates, row claims), for either database."""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient


def numbered(conn: BaseDBAsyncClient, sql: str) -> str:
    """`?` placeholders as the connection's driver wants them (asyncpg: $1, $2, …)."""
    if conn.capabilities.dialect != "postgres":
        return sql
    parts = sql.split("?")
    return parts[0] + "".join(f"${n}{part}" for n, part in enumerate(parts[1:], 1))


def for_update(conn: BaseDBAsyncClient, *, skip_locked: bool = False) -> str:
    """The row-lock clause PostgreSQL needs; SQLite has one writer and needs none."""
    if conn.capabilities.dialect != "postgres":
        return ""
    return " FOR UPDATE SKIP LOCKED" if skip_locked else " FOR UPDATE"
