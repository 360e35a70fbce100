"""What the database raises when it is down, restarting or dropping connections."""

from __future__ import annotations

import asyncpg
from asyncpg.exceptions import InternalClientError
from tortoise.exceptions import BaseORMException

# What a database that is down, restarting or dropping connections raises. tortoise translates
# most driver errors into its own, but not all: a connection killed while the pool takes it
# back raises asyncpg's error, and one torn mid-statement can leave asyncpg's protocol in a
# state it reports with InternalClientError (not a PostgresError).
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    BaseORMException,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    InternalClientError,
    OSError,
)
