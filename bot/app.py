"""Building and running one Callsheet process: the PTB bot and the aiohttp server on one loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import socket

import httpx
from telegram.ext import Application, ContextTypes

from bot import lifespan
from bot.container import Services, build_services
from bot.context import BotData, CallsheetApplication, CallsheetContext
from bot.delivery import RateLimiter, TelegramChatSender
from bot.lifespan import Deadline
from bot.menu import menu_setter
from bot.persistence import SharedConversationsApplication
from bot.settings import Settings, TelegramMode
from bot.web import build_web_app
from handlers import register_all
from handlers.common import REPLY_DEFAULTS, set_default_commands
from models import Channel
from services import updates
from services.broadcasts import BroadcastWatcher
from services.checkout import CheckoutWorker
from services.clock import Clock, SystemClock
from services.conversations import ConversationStore
from services.outbox import Dispatcher, EmailSender
from services.payments import Reconciler
from services.payroll.sender import PaySender
from services.webhooks import WebhookSender
from services.worker import Worker

log = logging.getLogger(__name__)


def build_application(settings: Settings) -> SharedConversationsApplication:
    context_types = ContextTypes(context=CallsheetContext, bot_data=BotData)
    builder = (
        Application.builder()
        # Guided conversations live in the database (bot/persistence.py), set at start-up.
        .application_class(SharedConversationsApplication)
        .token(settings.require_bot_token())
        .base_url(settings.telegram_api_base_url)
        .base_file_url(settings.telegram_file_base_url)
        .context_types(context_types)
        .defaults(REPLY_DEFAULTS)  # every reply is Telegram HTML, as every reply is escaped
        # Handler replies get up to 3 retries on 429; the outbox retries its own rows.
        .rate_limiter(RateLimiter(max_retries=3, chat_burst=settings.telegram_chat_burst))
        .concurrent_updates(16)
        .connect_timeout(10)
        .read_timeout(15)
        .write_timeout(15)
        .get_updates_read_timeout(35)
    )
    if settings.telegram_mode is TelegramMode.WEBHOOK:
        builder = builder.updater(None)  # updates arrive at our aiohttp server instead
    application = builder.build()
    assert isinstance(application, SharedConversationsApplication)
    register_all(application)
    return application


class Housekeeping(Worker):
    """Forgets update ids old enough that Telegram will not deliver them again."""

    name = "housekeeping"

    def __init__(self, clock: Clock, conversations: ConversationStore | None = None) -> None:
        super().__init__(idle_seconds=3600)
        self.clock = clock
        self.conversations = conversations

    async def round(self) -> int:
        forgotten = await updates.forget_old(self.clock)
        if forgotten:
            log.info("forgot %s old update ids", forgotten)
        if self.conversations is not None:
            expired = await self.conversations.forget_expired()
            if expired:
                log.info("dropped %s abandoned conversations", expired)
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
        self.application: CallsheetApplication | None = None
        self.services: Services | None = None
        self.conversations: ConversationStore | None = None
        self.port: int | None = None
        self._tasks: list[asyncio.Task[None]] = []  # the workers' loops
        self.workers: list[Worker] = []
        self.dispatchers: list[Dispatcher] = []
        self.reconciler: Reconciler | None = None
        self.checkout: CheckoutWorker | None = None
        self.webhooks: WebhookSender | None = None
        self.webhook_http: httpx.AsyncClient | None = None
        self._resources = contextlib.AsyncExitStack()
        self._deadline = Deadline(grace=5.0)

    async def start(self) -> None:
        """Opens each resource in bot/lifespan.py's order; one that fails closes the others."""
        try:
            await self._open(self._resources)
        except BaseException:
            await self.stop()
            raise
        assert self.application is not None
        log.info(
            "callsheet running as @%s (%s mode), HTTP on %s:%s",
            self.application.bot.username,
            self.settings.telegram_mode,
            self.settings.http_host,
            self.port,
        )

    async def _open(self, resources: contextlib.AsyncExitStack) -> None:
        settings = self.settings
        await resources.enter_async_context(lifespan.database(settings.database_url))
        http = await resources.enter_async_context(
            lifespan.http_client(settings.payments_configured)
        )
        built = build_application(settings)
        # Host and HTTP port name this instance: no other live one can bind the same port.
        owner = f"{socket.gethostname()}:{settings.http_port}" if settings.http_port else None
        built.conversations = self.conversations = ConversationStore(
            self.clock, settings.conversation_ttl, owner=owner
        )
        application = await resources.enter_async_context(lifespan.initialized(built))
        self.application = application
        services = build_services(
            settings,
            self.clock,
            bot_username=application.bot.username,
            email=self.email,
            http=http,
        )
        self.services = services
        application.bot_data.services = services
        await set_default_commands(application)
        await resources.enter_async_context(lifespan.dispatching(application))
        secret = settings.telegram_webhook_secret
        await resources.enter_async_context(
            lifespan.receiving(
                application,
                settings.public_base_url,
                secret.get_secret_value() if secret is not None else None,
            )
        )
        self.port = await resources.enter_async_context(
            lifespan.serving(
                build_web_app(services, application), settings.http_host, settings.http_port
            )
        )
        self.webhook_http = await resources.enter_async_context(lifespan.webhook_client())
        for name, worker in self._workers(services, application):
            task = await resources.enter_async_context(
                lifespan.running(worker, name, self._deadline)
            )
            self.workers.append(worker)
            self._tasks.append(task)
        # Left first: every worker is asked to stop before the first one is waited for.
        resources.callback(lifespan.ask_to_stop, list(self.workers), self._deadline)
        if services.payments is None:
            log.info(
                "payments are off; to turn them on set %s",
                ", ".join(settings.missing_for_payments()),
            )

    def _workers(
        self, services: Services, application: CallsheetApplication
    ) -> list[tuple[str, Worker]]:
        settings = self.settings
        chat = TelegramChatSender(application.bot)
        self.dispatchers = [
            Dispatcher(
                services.deliveries, Channel.TELEGRAM, chat=chat, files=chat, max_attempts=10
            ),
            Dispatcher(
                services.deliveries,
                Channel.EMAIL,
                email=services.email,
                attachments=services.documents,
                briefing_files=services.eventdocs,
                max_attempts=settings.email_max_attempts,
                batch=10,
            ),
        ]
        assert self.webhook_http is not None
        self.webhooks = WebhookSender(
            self.webhook_http,
            services.notifier,
            services.outbox,
            self.clock,
            allow_private=settings.webhooks_allow_private,
        )
        loops: list[tuple[str, Worker]] = [
            ("housekeeping", Housekeeping(self.clock, self.conversations)),
            *((f"dispatch-{d.channel}", d) for d in self.dispatchers),
            ("scheduler", services.scheduler),
            # Signed POSTs to the managers' webhook endpoints, retried for 3 days.
            ("webhooks", self.webhooks),
            # Each broadcast's live summary: delivered, email only, failed.
            ("broadcasts", BroadcastWatcher(services.notifier, chat, self.clock)),
            # The Mini App in the menu button of everyone linked (https only).
            ("menu-buttons", services.menu_buttons),
        ]
        services.menu_buttons.setter = menu_setter(application.bot)
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
        if services.checkout is not None:
            # Client deposits: each instalment's prompt on its date, and missed ones alerted.
            self.checkout = CheckoutWorker(services.checkout)
            loops.append(("checkout", self.checkout))
        if services.pay_runs is not None and services.operator_results is not None:
            # Results of B2C, Transaction Status, Account Balance and Reversal are applied
            # here, queued payouts paid at DARAJA_B2C_RATE, and approved refunds sent.
            sender = PaySender(services.pay_runs, services.operator_results, services.refunds)
            loops.append(("pay-sender", sender))

        return loops

    async def stop(self, grace: float = 5.0) -> None:
        """Closes what `start()` opened, in reverse. Every worker finishes its round
        (dispatchers the rows in hand) for up to `grace` seconds; what is left is cancelled,
        and dispatchers then release their rows."""
        self._deadline.grace = grace
        resources, self._resources = self._resources, contextlib.AsyncExitStack()
        try:
            await resources.aclose()
        finally:
            self._deadline = Deadline(grace=5.0)
            self._tasks.clear()
            self.workers.clear()
            self.dispatchers.clear()
            self.webhooks = self.webhook_http = None
            self.application = None

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
