"""Start-up and shutdown: one async context manager per resource (STYLE.md rule 17).

`Callsheet.start()` enters them in one `AsyncExitStack`, in this order, and `stop()` leaves
them in reverse, as aiohttp's `cleanup_ctx` does:

    database → Daraja's HTTP client → PTB application (initialize/shutdown)
    → dispatching updates (start/stop) → receiving updates (polling or webhook)
    → web server → the webhooks' HTTP client → each background worker

so the workers finish their rounds first, the web server stops taking callbacks next, and
the database closes last. A resource that fails to open closes those opened before it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable

import httpx
from aiohttp import web
from telegram import Update

from bot import db
from bot.context import CallsheetApplication
from services.webhooks import build_http
from services.worker import Worker

WEBHOOK_PATH = "/telegram/webhook"


@contextlib.asynccontextmanager
async def database(url: str) -> AsyncIterator[None]:
    """Open, and refuse to run on a database with migrations to apply."""
    await db.open_db(url)
    try:
        await db.ensure_migrated(url)
        yield
    finally:
        await db.close_db()


@contextlib.asynccontextmanager
async def http_client(wanted: bool) -> AsyncIterator[httpx.AsyncClient | None]:
    """Daraja's client; None when payments are off."""
    if not wanted:
        yield None
        return
    client = httpx.AsyncClient()
    try:
        yield client
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def webhook_client() -> AsyncIterator[httpx.AsyncClient]:
    """The webhook sender's client: no redirects, no kept connections (services/webhooks)."""
    client = build_http()
    try:
        yield client
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def initialized(application: CallsheetApplication) -> AsyncIterator[CallsheetApplication]:
    await application.initialize()  # getMe: fails here on a wrong token
    try:
        yield application
    finally:
        await application.shutdown()


@contextlib.asynccontextmanager
async def dispatching(application: CallsheetApplication) -> AsyncIterator[None]:
    """PTB processes the updates put on its queue."""
    await application.start()
    try:
        yield
    finally:
        if application.running:
            await application.stop()


@contextlib.asynccontextmanager
async def receiving(
    application: CallsheetApplication, webhook_base: str | None, webhook_secret: str | None
) -> AsyncIterator[None]:
    """Updates reach the queue by long polling, or (no updater) at our webhook."""
    updater = application.updater
    if updater is None:
        assert webhook_base and webhook_secret
        await application.bot.set_webhook(
            webhook_base + WEBHOOK_PATH,
            secret_token=webhook_secret,
            allowed_updates=Update.ALL_TYPES,
        )
        yield
        return
    await updater.start_polling(allowed_updates=Update.ALL_TYPES)
    try:
        yield
    finally:
        if updater.running:
            await updater.stop()


@contextlib.asynccontextmanager
async def serving(app: web.Application, host: str, port: int) -> AsyncIterator[int]:
    """The aiohttp app on host:port; yields the port it is bound to (port 0 picks one)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        addresses = runner.addresses
        yield addresses[0][1] if addresses else port
    finally:
        await runner.cleanup()


class Deadline:
    """The end of every worker's last round: `grace` seconds after the first asks."""

    def __init__(self, grace: float) -> None:
        self.grace = grace
        self._at: float | None = None

    def remaining(self) -> float:
        now = asyncio.get_running_loop().time()
        if self._at is None:
            self._at = now + self.grace
        return max(0.0, self._at - now)


def ask_to_stop(workers: Iterable[Worker], deadline: Deadline) -> None:
    """Every worker stops at once, so one slow round does not eat the others' grace."""
    deadline.remaining()
    for worker in workers:
        worker.stop()


@contextlib.asynccontextmanager
async def running(
    worker: Worker, name: str, deadline: Deadline
) -> AsyncIterator[asyncio.Task[None]]:
    """The worker's loop as a task. On exit the worker finishes its round (a dispatcher the
    rows in hand) until `deadline`; then it is cancelled (a dispatcher releases its rows).

    Asked, not cancelled, first: cancelling one while tortoise opens a SQLite transaction
    (between taking its lock and BEGIN) leaks the lock and hangs the next query."""
    task = asyncio.create_task(worker.run(), name=name)
    try:
        yield task
    finally:
        worker.stop()
        _, late = await asyncio.wait({task}, timeout=deadline.remaining())
        for unfinished in late:
            unfinished.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
