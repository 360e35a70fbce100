"""Email backends: SMTP (aiosmtplib), console, or a folder of .eml files."""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import aiosmtplib

from services.outbox import Attachment, Permanent, Transient

log = logging.getLogger(__name__)


def check_headers(to: str, subject: str) -> None:
    """A line break in a header would end it (and could start another): refused, as the one
    email it belongs to, before any connection is made."""
    for name, value in (("address", to), ("subject", subject)):
        if any(c in value for c in "\r\n\x00"):
            raise Permanent(f"the {name} contains a line break, which an email header cannot hold")


def build_message(
    sender: str,
    to: str,
    subject: str,
    text: str,
    html: str | None,
    attachments: Sequence[Attachment] = (),
) -> EmailMessage:
    """Plain text (and HTML as its alternative); attachments make it multipart/mixed."""
    check_headers(to, subject)
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "callsheet.local")
    message.set_content(text)
    if html:
        message.add_alternative(html, subtype="html")
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(
            item.data, maintype=maintype, subtype=subtype, filename=item.filename
        )
    return message


class SmtpSender:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None,
        password: str | None,
        tls: str,
        timeout: float = 20.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self.password = password
        self.tls = tls
        self.timeout = timeout
        self.tls_context = tls_context

    def _client(self) -> aiosmtplib.SMTP:
        return aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            use_tls=self.tls == "ssl",  # implicit TLS from the first byte (port 465)
            # True: STARTTLS or fail (never send a password in clear); False: plain or SSL.
            start_tls=self.tls == "starttls",
            timeout=self.timeout,
            tls_context=self.tls_context,
        )

    async def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None,
        attachments: Sequence[Attachment] = (),
    ) -> None:
        message = build_message(self.sender, to, subject, text, html, attachments)
        try:
            async with self._client() as smtp:
                if self.username:
                    await smtp.login(self.username, self.password or "")
                await smtp.send_message(message)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            said = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            if any(400 <= code < 500 for code in codes):  # greylisting, mailbox busy
                raise Transient(f"the mail server deferred {to}: {said}") from exc
            raise Permanent(f"the mail server refused {to}: {said}") from exc
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise Transient(f"SMTP login failed: {exc.code} {exc.message}") from exc
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600 and exc.code not in (530, 535):
                raise Permanent(f"the mail server said {exc.code} {exc.message}") from exc
            raise Transient(f"the mail server said {exc.code} {exc.message}") from exc
        except (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPTimeoutError, OSError) as exc:
            raise Transient(f"mail server unreachable: {exc}") from exc
        except aiosmtplib.SMTPException as exc:  # e.g. AUTH offered only after STARTTLS
            raise Transient(f"mail server problem: {exc}") from exc

    async def check(self) -> None:
        """Connect and log in, for `callsheet check`."""
        async with self._client() as smtp:
            if self.username:
                await smtp.login(self.username, self.password or "")


class ConsoleSender:
    """Logs that a mail would go, never its body: an invite's body is a one-time link, a
    briefing lists phone numbers. Use EMAIL_BACKEND=folder to read whole mails."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    async def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None,
        attachments: Sequence[Attachment] = (),
    ) -> None:
        check_headers(to, subject)
        log.info(
            "email to %s: %r (%d characters, %d attachment(s), body not logged)",
            to,
            subject,
            len(text),
            len(attachments),
        )


class FolderSender:
    """Writes each email as an .eml file: open it with any mail client."""

    def __init__(self, folder: Path, sender: str) -> None:
        self.folder = folder
        self.sender = sender
        self.count = 0

    async def send(
        self,
        to: str,
        subject: str,
        text: str,
        html: str | None,
        attachments: Sequence[Attachment] = (),
    ) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        message = build_message(self.sender, to, subject, text, html, attachments)
        self.count += 1
        slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:40]
        name = f"{message['Message-ID'].strip('<>').split('@')[0]}-{slug}.eml"
        (self.folder / name).write_bytes(bytes(message))
