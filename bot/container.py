"""The services one running process uses, built once at start-up and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx

from bot.settings import EmailBackend, Settings
from services.assignments import AssignmentService
from services.availability import Availability
from services.batches import BatchService
from services.books import Reconciler
from services.broadcasts import Broadcasts
from services.checkout import CheckoutService
from services.clock import Clock, format_when
from services.daraja import DarajaClient, DarajaConfig, DarajaTimeouts, DbAuditSink, DbTokenStore
from services.documents import DocumentService
from services.email import ConsoleSender, FolderSender, SmtpSender
from services.eventdocs import EventDocuments, FileStore
from services.events import EventService
from services.insight import Activity, Stats, draw_chart
from services.ledger import Exports, LedgerService, RecordedPayments
from services.menubuttons import MenuButtons, mini_app_url
from services.notifications import Notifier, Renderer
from services.outbox import EmailSender, Outbox, OutboxService
from services.payments import CallbackService, PaymentService
from services.payroll import PayrollService
from services.payroll.paying import PayRuns, ResultUrls
from services.payroll.results import OperatorResults
from services.people import PeopleService
from services.refunds import Refunds
from services.scheduler import Scheduler
from services.webhooks import WebhookService

CALLBACK_PATH = "/daraja/stk/callback/"


@dataclass
class Services:
    settings: Settings
    clock: Clock
    outbox: Outbox
    notifier: Notifier
    deliveries: OutboxService  # failures, resending and history around the outbox
    people: PeopleService
    email: EmailSender
    scheduler: Scheduler
    events: EventService
    assignments: AssignmentService
    ledger: LedgerService
    recorded: RecordedPayments  # money received outside M-Pesa (/record, /unrecord)
    exports: Exports  # the month's books for the accountant (/export)
    payroll: PayrollService
    reconciler: Reconciler  # M-Pesa statements against the books
    documents: DocumentService  # receipts and invoices: numbers and PDFs
    eventdocs: EventDocuments  # stage plots, riders, run sheets attached to events
    stats: Stats  # /stats: the month in numbers and its chart
    activity: Activity  # /activity: who did what and when
    webhooks: WebhookService  # /webhooks: the managers' endpoints and their delivery logs
    availability: Availability  # /off: days off
    broadcasts: Broadcasts  # /broadcast: previews and Send
    menu_buttons: MenuButtons  # the Mini App in each linked person's menu button
    payments: PaymentService | None = None  # None until Daraja is configured
    batches: BatchService | None = None  # an event's crew asked at once; with payments
    callbacks: CallbackService | None = None  # Daraja's callbacks; with payments
    pay_runs: PayRuns | None = None  # paying pay sheets by B2C; with payments
    operator_results: OperatorResults | None = None  # B2C/status/balance results; with pay_runs
    refunds: Refunds | None = None  # /refund: reversals and B2C refunds; with pay_runs
    checkout: CheckoutService | None = None  # /deposit and the client's /pay page; with payments

    def when(self, value: datetime) -> str:
        """A time as people read it in the company's timezone, with the year when it is not
        this year by the app's clock: 'Sat 5 Dec, 18:00', 'Sat 12 Jun 2027, 18:00'."""
        return format_when(value, self.settings.tz, self.clock.now())


def build_email_sender(settings: Settings) -> EmailSender:
    sender = settings.email_from or f"{settings.company_name} <callsheet@localhost>"
    if settings.email_backend is EmailBackend.SMTP:
        assert settings.smtp_host is not None  # settings validation guarantees it
        return SmtpSender(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=sender,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            tls=settings.smtp_tls.value,
        )
    if settings.email_backend is EmailBackend.FOLDER:
        return FolderSender(Path(settings.email_folder), sender)
    return ConsoleSender(sender)


def build_services(
    settings: Settings,
    clock: Clock,
    *,
    bot_username: str | None,
    email: EmailSender | None = None,
    http: httpx.AsyncClient | None = None,
) -> Services:
    bot_link = f"https://t.me/{bot_username}" if bot_username else "https://t.me/"
    renderer = Renderer(settings.tz, settings.company_name, bot_link)
    outbox = Outbox(clock, lease=settings.outbox_lease)
    notifier = Notifier(renderer, clock)
    people = PeopleService(
        notifier, outbox, clock, link_ttl=settings.link_token_ttl, bot_username=bot_username
    )
    scheduler = Scheduler(
        notifier,
        outbox,
        clock,
        reminder_offsets=settings.reminder_offsets,
        nudge_after=settings.nudge_after,
        alert_window=settings.alert_window,
        answer_within=timedelta(hours=settings.offer_response_hours),
    )
    payments = None
    if http is not None and settings.payments_configured:
        daraja = DarajaClient(
            http,
            daraja_config(settings),
            DbTokenStore(),
            DbAuditSink(),
            clock,
            initiator=settings.daraja_initiator(),
        )
        payments = PaymentService(
            daraja,
            notifier,
            outbox,
            clock,
            query_after=settings.payment_query_after,
            give_up_after=settings.payment_give_up_after,
            company=settings.company_name,
        )
    batches = BatchService(payments, outbox, clock) if payments is not None else None
    payroll = PayrollService(
        notifier,
        clock,
        approvals=settings.payroll_approvals,
        board_url=mini_app_url(settings.public_base_url),
    )
    recorded = RecordedPayments(notifier, clock)
    pay_runs = results = refunds = None
    if payments is not None:
        assert settings.public_base_url and settings.daraja_callback_secret
        pay_runs = PayRuns(
            payroll,
            payments.daraja,
            clock,
            urls=ResultUrls(
                settings.public_base_url, settings.daraja_callback_secret.get_secret_value()
            ),
            rate=settings.daraja_b2c_rate,
        )
        results = OperatorResults(pay_runs)
        refunds = Refunds(pay_runs)
        results.refunds = refunds
    assignments = AssignmentService(
        notifier, outbox, scheduler, clock, settings.tz, answer_emails=settings.answer_emails
    )
    scheduler.deadlines = assignments  # an unanswered invitation's spot goes to a backup
    people.vacated = assignments  # so does a deactivated person's
    documents = DocumentService(renderer, outbox, clock)
    checkout = None
    if payments is not None:
        assert settings.public_base_url
        checkout = CheckoutService(
            payments,
            documents,
            clock,
            settings.tz,
            base_url=settings.public_base_url,
            link_days=settings.checkout_link_days,
            missed_days=settings.checkout_missed_days,
        )
    return Services(
        settings=settings,
        clock=clock,
        outbox=outbox,
        notifier=notifier,
        deliveries=OutboxService(outbox, notifier, clock),
        people=people,
        email=email or build_email_sender(settings),
        scheduler=scheduler,
        events=EventService(notifier, outbox, scheduler, clock, settings.tz),
        assignments=assignments,
        ledger=LedgerService(clock),
        recorded=recorded,
        exports=Exports(settings.tz),
        payroll=payroll,
        reconciler=Reconciler(notifier, outbox, clock, settings.tz, recorded),
        documents=documents,
        eventdocs=EventDocuments(FileStore(settings.files_path), clock, settings.tz),
        stats=Stats(clock, settings.tz, settings.company_name, draw_chart),
        activity=Activity(clock, settings.tz),
        webhooks=WebhookService(clock, allow_private=settings.webhooks_allow_private),
        availability=Availability(clock, settings.tz),
        broadcasts=Broadcasts(notifier, outbox, clock, settings.tz),
        menu_buttons=MenuButtons(clock, settings.public_base_url),
        payments=payments,
        batches=batches,
        callbacks=CallbackService(payments, clock) if payments is not None else None,
        pay_runs=pay_runs,
        operator_results=results,
        refunds=refunds,
        checkout=checkout,
    )


def daraja_config(settings: Settings) -> DarajaConfig:
    """Only called when `settings.payments_configured`."""
    assert settings.daraja_consumer_key and settings.daraja_consumer_secret
    assert settings.daraja_shortcode and settings.daraja_passkey
    assert settings.daraja_callback_secret and settings.public_base_url
    timeout = settings.daraja_timeout_seconds
    return DarajaConfig(
        base_url=settings.daraja_url,
        consumer_key=settings.daraja_consumer_key.get_secret_value(),
        consumer_secret=settings.daraja_consumer_secret.get_secret_value(),
        shortcode=settings.daraja_shortcode,
        passkey=settings.daraja_passkey.get_secret_value(),
        callback_url=settings.public_base_url
        + CALLBACK_PATH
        + settings.daraja_callback_secret.get_secret_value(),
        transaction_type=settings.daraja_transaction_type,
        party_b=settings.daraja_party_b,
        timeouts=DarajaTimeouts(connect=min(5.0, timeout), read=timeout, write=10.0, pool=5.0),
    )
