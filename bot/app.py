"""Building and running one Callsheet process: the PTB bot and the aiohttp server on one loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from typing import Any

import httpx
from aiohttp import web
from telegram import Update
from telegram.ext import Application, ContextTypes

from bot import db
from bot.container import Services, build_services
from bot.context import BotData, CallsheetContext
from bot.delivery import RateLimiter, TelegramChatSender
from bot.settings import Settings, TelegramMode
from bot.web import build_web_app
from handlers import register_all
from handlers.common import REPLY_DEFAULTS, set_default_commands
from models import Channel
from services import updates
from services.clock import Clock, SystemClock
from services.outbox import Dispatcher, EmailSender
from services.payments import Reconciler
from services.worker import Worker

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/telegram/webhook"


def build_application(settings: Settings) -> Application:  # type: ignore[type-arg]
    context_types = ContextTypes(context=CallsheetContext, bot_data=BotData)
    builder = (
        Application.builder()
        .token(settings.require_bot_token())
        .base_url(settings.telegram_api_base_url)
        .context_types(context_types)
        .defaults(REPLY_DEFAULTS)  # every reply is Telegram HTML, as every reply is escaped
        # Handler replies get up to 3 retries on 429; the outbox retries its own rows.
        .rate_limiter(RateLimiter(max_retries=3))
        .concurrent_updates(16)
        .connect_timeout(10)
        .read_timeout(15)
        .write_timeout(15)
        .get_updates_read_timeout(35)
    )
    if settings.telegram_mode is TelegramMode.WEBHOOK:
        builder = builder.updater(None)  # updates arrive at our aiohttp server instead
    application = builder.build()
    register_all(application)
    return application


class Housekeeping(Worker):
    """Forgets update ids old enough that Telegram will not deliver them again."""

    name = "housekeeping"

    def __init__(self, clock: Clock) -> None:
        super().__init__(idle_seconds=3600)
        self.clock = clock

    async def round(self) -> int:
        forgotten = await updates.forget_old(self.clock)
        if forgotten:
            log.info("forgot %s old update ids", forgotten)
        return 0


class Callsheet:
    """One running process. `start()` then `stop()`; `serve()` runs until SIGINT/SIGTERM."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        email: EmailSender | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()
        self.email = email
        self.application: Application | None = None  # type: ignore[type-arg]
        self.services: Services | None = None
        self.runner: web.AppRunner | None = None
        self.port: int | None = None
        self._tasks: list[asyncio.Task[Any]] = []  # the workers' loops
        self.workers: list[Worker] = []  # asked to stop at stop()
        self.dispatchers: list[Dispatcher] = []
        self.http: httpx.AsyncClient | None = None  # for Daraja; opened at start, closed at stop
        self.reconciler: Reconciler | None = None

    async def start(self) -> None:
        settings = self.settings
        await db.open_db(settings.database_url)
        try:
            await db.ensure_migrated(settings.database_url)
            application = build_application(settings)
            await application.initialize()  # getMe: fails here on a wrong token
            self.application = application
            if settings.payments_configured:
                self.http = httpx.AsyncClient()
            services = build_services(
                settings,
                self.clock,
                bot_username=application.bot.username,
                email=self.email,
                http=self.http,
            )
            self.services = services
            application.bot_data.services = services
            await set_default_commands(application)
            await application.start()
            if application.updater is not None:
                await application.updater.start_polling(allowed_updates=Update.ALL_TYPES)
            else:
                assert settings.public_base_url and settings.telegram_webhook_secret
                await application.bot.set_webhook(
                    settings.public_base_url + WEBHOOK_PATH,
                    secret_token=settings.telegram_webhook_secret.get_secret_value(),
                    allowed_updates=Update.ALL_TYPES,
                )
            self.runner = web.AppRunner(build_web_app(services, application), access_log=None)
            await self.runner.setup()
            site = web.TCPSite(self.runner, settings.http_host, settings.http_port)
            await site.start()
            server = site._server
            sockets = getattr(server, "sockets", None) or []
            self.port = sockets[0].getsockname()[1] if sockets else settings.http_port
            chat = TelegramChatSender(application.bot)
            self.dispatchers = [
                Dispatcher(services.deliveries, Channel.TELEGRAM, chat=chat, max_attempts=10),
                Dispatcher(
                    services.deliveries,
                    Channel.EMAIL,
                    email=services.email,
                    max_attempts=settings.email_max_attempts,
                    batch=10,
                ),
            ]
            loops: list[tuple[str, Worker]] = [
                ("housekeeping", Housekeeping(self.clock)),
                *((f"dispatch-{d.channel}", d) for d in self.dispatchers),
                ("scheduler", services.scheduler),
            ]
            if services.payments is not None:
                every = min(30.0, settings.payment_query_after.total_seconds() / 3)
                self.reconciler = Reconciler(services.payments, every_seconds=max(every, 1.0))
                assert services.batches is not None and services.callbacks is not None
                loops += [
                    ("reconcile", self.reconciler),
                    # Pushes of an event's payment request go out here, one after another.
                    ("batches", services.batches),
                    ("settle-callbacks", services.callbacks),
                ]
            for name, worker in loops:
                self.workers.append(worker)
                self._tasks.append(asyncio.create_task(worker.run(), name=name))
            if services.payments is None:
                log.info(
                    "payments are off; to turn them on set %s",
                    ", ".join(settings.missing_for_payments()),
                )
        except BaseException:
            await self.stop()
            raise
        log.info(
            "callsheet running as @%s (%s mode), HTTP on %s:%s",
            application.bot.username,
            settings.telegram_mode,
            settings.http_host,
            self.port,
        )

    async def stop(self, grace: float = 5.0) -> None:
        """Every worker finishes its round (dispatchers the rows in hand) for up to `grace`
        seconds; what is left is cancelled, and dispatchers then release their rows.

        Workers are asked, not cancelled, first: cancelling one while tortoise opens a SQLite
        transaction (between taking its lock and BEGIN) leaks the lock and hangs the next query."""
        for worker in self.workers:
            worker.stop()
        if self._tasks:
            _, late = await asyncio.wait(self._tasks, timeout=grace)
            for task in late:
                task.cancel()
            for task in self._tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks.clear()
        self.workers.clear()
        self.dispatchers.clear()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
        application = self.application
        if application is not None:
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            await application.shutdown()
            self.application = None
        if self.http is not None:
            await self.http.aclose()
            self.http = None
        await db.close_db()

    async def serve(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
            # What start-up built lives as long as the process: kept out of the collector's
            # full passes, which otherwise stop the loop for 50-80 ms under load (issue 6).
            gc.freeze()
            await stop.wait()
            log.info("stopping")
        finally:
            await self.stop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
