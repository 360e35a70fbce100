"""Email through real SMTP servers (aiosmtpd): STARTTLS with AUTH LOGIN, a server that
defers for a while, one that never recovers, and what a manager sees and does about it."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot.app import Callsheet
from models import Access, Channel, OutboxMessage, OutboxStatus, Person
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from services.email import SmtpSender
from services.outbox import Transient
from tests.conftest import Mailbox, People, app_settings, free_port, text_part
from tests.outbox_helpers import settled, ticking


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == b"callsheet"
        and auth_data.password == b"s3cret"
    )
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535


@contextlib.contextmanager
def tls_server(cert: tuple[Path, Path], mailbox: Mailbox) -> Iterator[int]:
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(*cert)
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        auth_require_tls=True,
        auth_exclude_mechanism=["PLAIN"],  # AUTH LOGIN only
        authenticator=authenticator,
    )
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def trusting(cert: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(cert))


def sender(port: int, cert: Path, **overrides: Any) -> SmtpSender:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "sender": "Sauti Sound <crew@sauti.example>",
        "username": "callsheet",
        "password": "s3cret",
        "tls": "starttls",
        "tls_context": trusting(cert),
        "timeout": 5,
    }
    values.update(overrides)
    return SmtpSender(**values)


async def test_starttls_with_login_delivers_html_and_text(certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    with tls_server(certificate, mailbox) as port:
        await sender(port, certificate[0]).send(
            "jane@example.com", "Confirm: Wanjiru wedding, Sat 5 Dec", "plain", "<p>html</p>"
        )
        message = await mailbox.wait_for("jane@example.com", "Wanjiru wedding")
        assert text_part(message).strip() == "plain"
        html = message.get_body(preferencelist=("html",))
        assert html is not None and "<p>html</p>" in str(html.get_content())

        with pytest.raises(Transient, match="SMTP login failed: 535"):
            await sender(port, certificate[0], password="wrong").send("j@x.ke", "s", "t", None)
        # No TLS: the server requires STARTTLS, and we never send a password in clear.
        with pytest.raises(Transient, match="AUTH extension is not supported"):
            await sender(port, certificate[0], tls="none").send("j@x.ke", "s", "t", None)
        # A certificate we do not trust is refused before any password is sent.
        with pytest.raises(Transient, match="CERTIFICATE_VERIFY_FAILED"):
            await sender(port, certificate[0], tls_context=None).send("j@x.ke", "s", "t", None)
    assert len(mailbox.messages) == 1


async def test_implicit_tls(certificate: tuple[Path, Path]) -> None:
    mailbox = Mailbox()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(*certificate)
    port = free_port()
    controller = Controller(
        mailbox,
        hostname="127.0.0.1",
        port=port,
        ssl_context=server_tls,
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        await sender(port, certificate[0], tls="ssl").send("jane@x.ke", "Receipt", "t", None)
        await mailbox.wait_for("jane@x.ke", "Receipt")
    finally:
        controller.stop()


class Flaky(Mailbox):
    """Defers every message with 451 while `refusing` is set, as a server under load does."""

    def __init__(self) -> None:
        super().__init__()
        self.refusing = True
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusing:
            self.refused += 1
            self.loop.call_soon_threadsafe(self.changed.set)
            return "451 4.3.0 Mail server busy, try again later"
        return await super().handle_DATA(server, session, envelope)

    async def wait_refused(self, count: int, timeout: float = 10) -> None:
        async with asyncio.timeout(timeout):
            while True:
                self.changed.clear()  # before looking, so a refusal in between is not missed
                if self.refused >= count:
                    break
                await self.changed.wait()


@contextlib.asynccontextmanager
async def flaky_app(
    tg: TelegramSandbox, database_url: str, clock: ManualClock, **settings: Any
) -> AsyncIterator[tuple[Callsheet, Flaky]]:
    mailbox = Flaky()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    await asyncio.to_thread(controller.start)
    app = Callsheet(app_settings(tg, database_url, port, **settings), clock=clock)
    await app.start()
    try:
        yield app, mailbox
    finally:
        await app.stop()
        await asyncio.to_thread(controller.stop)


async def add_crew(app: Callsheet, n: int) -> list[str]:
    assert app.services is not None
    addresses = []
    for i in range(n):
        address = f"crew{i}@example.com"
        await app.services.people.add_person(
            name=f"Crew Member {chr(65 + i)}", phone=f"07120000{i:02d}", email=address
        )
        addresses.append(address)
    return addresses


async def test_a_server_that_defers_for_a_while_gets_every_mail_once(
    tg: TelegramSandbox, database_url: str, clock: ManualClock
) -> None:
    async with flaky_app(tg, database_url, clock) as (app, mailbox):
        addresses = await add_crew(app, 3)
        # Each mail is tried and deferred at least twice before the server recovers.
        async with ticking(app, clock, timedelta(seconds=1)):
            await mailbox.wait_refused(6)
            mailbox.refusing = False
            for address in addresses:
                await mailbox.wait_for(address, "connect your Telegram", timeout=10)
            await settled(lambda: OutboxMessage.filter(status=OutboxStatus.SENT).count(), 3)
        assert sorted(str(m["To"]) for m in mailbox.messages) == addresses
        rows = await OutboxMessage.filter(channel=Channel.EMAIL).order_by("id")
        assert sum(r.attempts for r in rows) == mailbox.refused + 3
        assert all(r.last_error is None and r.sent_at is not None for r in rows)


async def test_a_dead_server_fails_rows_a_manager_lists_and_resends(
    tg: TelegramSandbox, database_url: str, clock: ManualClock
) -> None:
    async with flaky_app(tg, database_url, clock, email_max_attempts=3) as (app, mailbox):
        people = People(app, tg)
        _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
        _, crew = await people.add("Otieno Kamau", "0722 111 222")
        (address,) = await add_crew(app, 1)
        async with ticking(app, clock, timedelta(minutes=1)):
            await mailbox.wait_refused(3)
            await settled(lambda: OutboxMessage.filter(status=OutboxStatus.FAILED).count(), 1)
            row = await OutboxMessage.get(email_to=address)
        assert mailbox.refused == 3  # EMAIL_MAX_ATTEMPTS, then it stops trying
        assert row.attempts == 3
        assert row.last_error == "the mail server said 451 4.3.0 Mail server busy, try again later"

        # Crew cannot see the list.
        await tg.send_text(crew, "/emails failed")
        await tg.wait_for_bot_message(
            crew.id, "Only managers can see failed emails and unreachable chats."
        )

        await tg.send_text(boss, "/emails failed")
        listing = await tg.wait_for_bot_message(boss.id, "Emails that could not be sent")
        assert "Crew Member A" in listing["text"] and address in listing["text"]
        assert "connect your Telegram" in listing["text"]
        assert "after 3 attempts" in listing["text"]
        assert "Reason: the mail server said 451" in listing["text"]

        # A manager demoted since the list was sent presses Resend: refused, nothing changes.
        boss_row = await Person.get(telegram_id=boss.id)
        await Person.filter(id=boss_row.id).update(access=Access.CREW)
        query = await tg.press(boss, listing["message_id"], f"Resend #{row.id}")
        answer = await tg.wait_for_callback_answer(query)
        assert answer["text"] == "❌ Only managers can see or resend messages."
        assert (await OutboxMessage.get(id=row.id)).status is OutboxStatus.FAILED
        await Person.filter(id=boss_row.id).update(access=Access.MANAGER)

        mailbox.refusing = False
        query = await tg.press(boss, listing["message_id"], f"Resend #{row.id}")
        answer = await tg.wait_for_callback_answer(query)
        assert answer["text"] == f"⏳ Message #{row.id} is queued again for {address}."
        message = await mailbox.wait_for(address, "connect your Telegram")
        assert "Crew Member A" in text_part(message)
        await settled(lambda: OutboxMessage.filter(status=OutboxStatus.SENT).count(), 1)
        await row.refresh_from_db()
        assert (row.status, row.attempts) == (OutboxStatus.SENT, 1)
        assert len(mailbox.to(address)) == 1

        # Pressing it again does not send it twice.
        query = await tg.press(boss, listing["message_id"], f"Resend #{row.id}")
        answer = await tg.wait_for_callback_answer(query)
        assert answer["text"] == f"❌ Message #{row.id} is sent, not failed: nothing to resend."
        await tg.send_text(boss, "/emails failed")
        await tg.wait_for_bot_message(boss.id, "No failed emails")
        assert len(mailbox.to(address)) == 1
