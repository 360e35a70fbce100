"""The services one running process uses, built once at start-up and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.settings import EmailBackend, Settings
from services.clock import Clock
from services.email import ConsoleSender, FolderSender, SmtpSender
from services.notifications import Notifier, Renderer
from services.outbox import EmailSender, Outbox, OutboxService
from services.people import PeopleService


@dataclass
class Services:
    settings: Settings
    clock: Clock
    outbox: Outbox
    notifier: Notifier
    deliveries: OutboxService  # failures, resending and history around the outbox
    people: PeopleService
    email: EmailSender


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
) -> Services:
    bot_link = f"https://t.me/{bot_username}" if bot_username else "https://t.me/"
    renderer = Renderer(settings.tz, settings.company_name, bot_link)
    outbox = Outbox(clock)
    notifier = Notifier(renderer, clock)
    people = PeopleService(
        notifier, outbox, clock, link_ttl=settings.link_token_ttl, bot_username=bot_username
    )
    return Services(
        settings=settings,
        clock=clock,
        outbox=outbox,
        notifier=notifier,
        deliveries=OutboxService(outbox, notifier, clock),
        people=people,
        email=email or build_email_sender(settings),
    )
