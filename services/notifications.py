"""Notifications: render one kind of message for chat and email, and queue it in the outbox.

Rows are written in the caller's transaction (pass `using_db`), so a message exists if and
only if the change that caused it was committed. Delivery is the dispatchers' job.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, StrictUndefined, pass_context, select_autoescape
from jinja2.runtime import Context
from tortoise.backends.base.client import BaseDBAsyncClient

from models import (
    Access,
    AssignmentStatus,
    BatchMemberStatus,
    Channel,
    DocumentSeries,
    EndpointStatus,
    EventStatus,
    NotificationKind,
    OutboxMessage,
    OutboxStatus,
    PaymentStatus,
    Person,
    ReconGroup,
)
from services.clock import Clock, format_span, format_when
from services.money import format_cents
from services.phones import display_phone
from services.sizes import human_size

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Why a message to someone deactivated was kept but not sent (their history shows it).
NOT_SENT_INACTIVE = "not sent: person deactivated"


@dataclass(frozen=True)
class Button:
    text: str
    callback_data: str | None = None
    url: str | None = None
    web_app: str | None = None  # opens this https URL as a Mini App (private chats only)

    def as_json(self) -> dict[str, Any]:
        if self.web_app is not None:
            return {"text": self.text, "web_app": {"url": self.web_app}}
        if self.url is not None:
            return {"text": self.text, "url": self.url}
        return {"text": self.text, "callback_data": self.callback_data or ""}


Keyboard = Sequence[Sequence[Button]]


@dataclass(frozen=True)
class Rendered:
    chat: str  # Telegram HTML
    subject: str
    text: str  # plain-text email part
    html: str  # HTML email part


class Renderer:
    """Renders `templates/<kind>.j2`: blocks subject, chat, text and body (email HTML)."""

    def __init__(
        self,
        tz: ZoneInfo,
        company_name: str,
        bot_link: str,
        folders: Sequence[Path] = (TEMPLATES,),  # searched in order
    ) -> None:
        self.tz = tz
        self.company_name = company_name
        self.bot_link = bot_link
        self.env = Environment(
            loader=FileSystemLoader(list(folders)),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,  # templates do not change while we run: no stat() per message
        )
        self.env.filters["when"] = self._when
        self.env.filters["span"] = self._span
        self.env.filters["size"] = human_size
        self.env.filters["kes"] = lambda amount: f"KES {int(amount):,}"
        self.env.filters["cents"] = format_cents

        self.env.filters["phone"] = display_phone
        # Templates compare states to members (`a.status == AssignmentStatus.CONFIRMED`),
        # never to strings typed by hand.
        self.env.globals.update(
            Access=Access,
            AssignmentStatus=AssignmentStatus,
            BatchMemberStatus=BatchMemberStatus,
            Channel=Channel,
            EndpointStatus=EndpointStatus,
            EventStatus=EventStatus,
            OutboxStatus=OutboxStatus,
            PaymentStatus=PaymentStatus,
            ReconGroup=ReconGroup,
        )

    # A template given `now` (Notifier passes the clock's) shows the year of other years.
    @pass_context
    def _when(self, ctx: Context, value: datetime) -> str:
        return format_when(value, self.tz, ctx.get("now"))

    @pass_context
    def _span(self, ctx: Context, event: Any) -> str:
        return format_span(event.starts_at, event.ends_at, self.tz, ctx.get("now"))

    def reply(self, name: str, context: dict[str, Any]) -> str:
        """A chat reply from `templates/replies/<name>.j2`: Telegram HTML, every value
        escaped by autoescape (handlers never escape by hand)."""
        template = self.env.get_template(f"replies/{name}.j2")
        return template.render({"company": self.company_name, **context}).strip()

    def render(self, kind: str, context: dict[str, Any]) -> Rendered:
        return self.render_parts(kind, context, chat=True, email=True, page=True)

    def render_parts(
        self,
        kind: str,
        context: dict[str, Any],
        *,
        chat: bool,
        email: bool,
        page: bool,
        subject: bool = False,
    ) -> Rendered:
        """Only the parts asked for (the others empty): a live chat edit needs no email, and
        the HTML page (the costly part) only matters for a mail that is actually sent."""
        template = self.env.get_template(f"{kind}.j2")
        ctx = template.new_context(
            {"company": self.company_name, "bot_link": self.bot_link, **context}
        )

        def block(name: str) -> str:
            return "".join(template.blocks[name](ctx)).strip()

        title = html.unescape(block("subject")) if email or page or subject else ""
        layout = ""
        if page:
            layout = self.env.get_template("_email.html.j2").render(
                subject=title,
                body=block("body"),
                company=self.company_name,
                bot_link=self.bot_link,
            )
        return Rendered(
            chat=block("chat") if chat else "",
            subject=title,
            text=html.unescape(block("text")) if email else "",
            html=layout,
        )


async def email_client(
    renderer: Renderer,
    kind: NotificationKind,
    address: str,
    context: dict[str, Any],
    *,
    at: datetime,
    dedupe_key: str,
    attachment: tuple[DocumentSeries, int] | None = None,
    using_db: BaseDBAsyncClient | None = None,
) -> OutboxMessage:
    """An email to someone not on the list (a client), queued in the caller's transaction;
    `attachment` names the document whose PDF it carries (drawn when sent)."""
    rendered = renderer.render_parts(
        kind.value, {"now": at, **context}, chat=False, email=True, page=True
    )
    return await OutboxMessage.create(
        person=None,
        channel=Channel.EMAIL,
        kind=kind,
        dedupe_key=dedupe_key,
        email_to=address,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        attachment=attachment[0] if attachment else None,
        attachment_id=attachment[1] if attachment else None,
        next_attempt_at=at,
        created_at=at,
        using_db=using_db,
    )


class Notifier:
    def __init__(self, renderer: Renderer, clock: Clock) -> None:
        self.renderer = renderer
        self.clock = clock

    async def notify(
        self,
        person: Person,
        kind: NotificationKind,
        context: dict[str, Any],
        *,
        buttons: Keyboard = (),
        dedupe_key: str | None = None,
        live_key: str | None = None,
        channels: Iterable[Channel] = (Channel.TELEGRAM, Channel.EMAIL),
        using_db: BaseDBAsyncClient | None = None,
        attachment: tuple[DocumentSeries, int] | None = None,
    ) -> list[OutboxMessage]:
        """Queue `kind` for `person` on each channel they can be reached on (see `prepare`)."""
        rows = self.prepare(
            person,
            kind,
            context,
            buttons=buttons,
            dedupe_key=dedupe_key,
            live_key=live_key,
            channels=channels,
            attachment=attachment,
        )
        await self.supersede(rows, using_db)
        for row in rows:
            await row.save(using_db=using_db)
        return [r for r in rows if r.status is not OutboxStatus.SKIPPED]

    async def supersede(
        self, rows: Sequence[OutboxMessage], using_db: BaseDBAsyncClient | None
    ) -> None:
        """Only the newest state of a live message matters: an older edit still waiting is
        dropped before `rows` are saved, so a busy summary does not hold up the chat."""
        keys = {r.live_key for r in rows if r.live_key and r.channel is Channel.TELEGRAM}
        if keys:
            await (
                OutboxMessage.filter(
                    live_key__in=sorted(keys),
                    channel=Channel.TELEGRAM,
                    status=OutboxStatus.PENDING,
                )
                .using_db(using_db)
                .update(status=OutboxStatus.SKIPPED, last_error="replaced by a newer version")
            )

    def prepare(
        self,
        person: Person,
        kind: NotificationKind,
        context: dict[str, Any],
        *,
        buttons: Keyboard = (),
        dedupe_key: str | None = None,
        live_key: str | None = None,
        channels: Iterable[Channel] = (Channel.TELEGRAM, Channel.EMAIL),
        attachment: tuple[DocumentSeries, int] | None = None,
    ) -> list[OutboxMessage]:
        """The outbox rows for `kind` to `person`, not yet saved (the caller saves them, in
        bulk if it likes, in the transaction of the change that caused them).

        A message meant for chat goes by email instead when the chat cannot take it (not
        linked, or blocked the bot); a chat row without an email twin carries that email, so
        that a 403 found at delivery can still turn into one. Live edits never go by email:
        an inbox gets the outcome (a receipt, a failure), not each intermediate state.
        `attachment` names the document whose PDF the email row carries (drawn when sent).
        """
        wanted = set(channels)
        now = self.clock.now()
        if not person.active:
            return self._held(person, kind, context, wanted, dedupe_key, live_key, now)
        markup = [[b.as_json() for b in row] for row in buttons] if buttons else None
        chat_ok = bool(person.telegram_id) and person.chat_unreachable_at is None
        to_chat = Channel.TELEGRAM in wanted and chat_ok
        to_email = (
            live_key is None
            and person.email is not None
            and (Channel.EMAIL in wanted or (Channel.TELEGRAM in wanted and not chat_ok))
        )
        fallback = to_chat and not to_email and live_key is None
        skipped = not to_chat and not to_email and live_key is None
        # A skipped email is listed in the person's history by its subject alone.
        skipped_mail = skipped and Channel.TELEGRAM not in wanted
        rendered = self.renderer.render_parts(
            kind.value,
            {"person": person, "now": now, **context},
            chat=to_chat,
            email=to_email or fallback or (skipped and not skipped_mail),
            page=to_email or fallback,
            subject=skipped_mail,
        )
        rows: list[OutboxMessage] = []
        if to_chat:
            rows.append(
                OutboxMessage(
                    person=person,
                    channel=Channel.TELEGRAM,
                    kind=kind,
                    dedupe_key=f"{dedupe_key}:tg" if dedupe_key else None,
                    chat_id=person.telegram_id,
                    live_key=live_key,
                    text=rendered.chat,
                    reply_markup=markup,
                    subject=rendered.subject if fallback else None,
                    email_text=rendered.text if fallback else None,
                    html=rendered.html if fallback else None,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        if to_email:
            rows.append(
                OutboxMessage(
                    person=person,
                    channel=Channel.EMAIL,
                    kind=kind,
                    dedupe_key=f"{dedupe_key}:mail" if dedupe_key else None,
                    email_to=person.email,
                    subject=rendered.subject,
                    text=rendered.text,
                    html=rendered.html,
                    attachment=attachment[0] if attachment else None,
                    attachment_id=attachment[1] if attachment else None,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        if skipped:
            # Kept so the person's history shows what they did not get, and why.
            reason = "no email address" if Channel.EMAIL in wanted else "no reachable chat"
            if Channel.TELEGRAM in wanted and not chat_ok:
                reason = (
                    "blocked the bot and has no email address"
                    if person.chat_unreachable_at
                    else "Telegram not linked and no email address"
                )
            rows.append(
                OutboxMessage(
                    person=person,
                    channel=Channel.TELEGRAM if Channel.TELEGRAM in wanted else Channel.EMAIL,
                    kind=kind,
                    dedupe_key=f"{dedupe_key}:none" if dedupe_key else None,
                    status=OutboxStatus.SKIPPED,
                    subject=rendered.subject,
                    text=rendered.subject if skipped_mail else rendered.text,
                    last_error=reason,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        return rows

    def _held(
        self,
        person: Person,
        kind: NotificationKind,
        context: dict[str, Any],
        wanted: set[Channel],
        dedupe_key: str | None,
        live_key: str | None,
        now: datetime,
    ) -> list[OutboxMessage]:
        """A deactivated person gets nothing, on any channel. Their history keeps the subject
        (never the body: a briefing lists colleagues' phones) and why it was not sent."""
        if live_key is not None:
            return []  # a live edit of an older message: nothing to record
        subject = self.renderer.render_parts(
            kind.value,
            {"person": person, **context},
            chat=False,
            email=False,
            page=False,
            subject=True,
        ).subject
        return [
            OutboxMessage(
                person=person,
                channel=Channel.TELEGRAM if Channel.TELEGRAM in wanted else Channel.EMAIL,
                kind=kind,
                dedupe_key=f"{dedupe_key}:none" if dedupe_key else None,
                status=OutboxStatus.SKIPPED,
                subject=subject[:250],
                text=subject,
                last_error=NOT_SENT_INACTIVE,
                next_attempt_at=now,
                created_at=now,
            )
        ]
