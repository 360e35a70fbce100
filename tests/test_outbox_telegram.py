"""Chat delivery end to end: the sandbox Telegram server throttling (429 with retry_after),
a front end answering 502 for a while, and a person who blocked the bot (403)."""

from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest
from aiohttp import web

from bot import db
from bot.app import Callsheet
from models import Access, Channel, NotificationKind, OutboxMessage, OutboxStatus, Person
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from services.events import EventDraft
from tests.conftest import BOT_TOKEN, BOT_USERNAME, Mailbox, People, app_settings, text_part
from tests.outbox_helpers import chat_row, ticking


class FlakyFrontEnd:
    """Sits between the bot and the sandbox, as Telegram's front ends do; answers 502 Bad
    Gateway (an HTML page, not JSON) to the next `failures` sendMessage calls."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.failures = 0
        self.failed = 0
        self.runner: web.AppRunner | None = None
        self.session: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if method.lower() == "sendmessage" and self.failures > 0:
            self.failures -= 1
            self.failed += 1
            return web.Response(status=502, text="<html><h1>502 Bad Gateway</h1></html>")
        assert self.session is not None
        async with self.session.request(
            request.method,
            f"{self.upstream}{request.match_info['token']}/{method}",
            data=await request.read(),
            headers={"Content-Type": request.headers.get("Content-Type", "")},
        ) as answer:
            return web.Response(
                status=answer.status, body=await answer.read(), content_type="application/json"
            )

    async def __aenter__(self) -> FlakyFrontEnd:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self.handle)
        self.runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/bot"
        self.session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.session is not None and self.runner is not None
        await self.session.close()
        await self.runner.cleanup()


async def queue_notes(person: Person, clock: ManualClock, count: int) -> None:
    for n in range(1, count + 1):
        await chat_row(clock, person.telegram_id, f"Note {n} for {person.name}", person).save()


async def test_throttled_and_failing_telegram_gets_every_message_once_in_order(
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PTB 22.2+ warns inside RetryAfter itself unless this opt-in is set (we take both forms).
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    caplog.set_level("INFO", logger="services.outbox")
    # One message per second per chat, no burst: the sandbox answers 429 retry_after=1.
    async with TelegramSandbox(chat_rate=1.0, chat_burst=1) as tg:
        tg.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
        async with FlakyFrontEnd(tg.base_url) as front:
            settings = app_settings(tg, database_url, smtp_server[1])
            settings = settings.model_copy(update={"telegram_api_base_url": front.base_url})
            app = Callsheet(settings, clock=clock)
            await app.start()
            try:
                people = People(app, tg)
                jane, jane_tg = await people.add("Jane Wanjiku", "0712345678")
                otieno, otieno_tg = await people.add("Otieno Kamau", "0722111222")
                front.failures = 3  # the next three sendMessage calls meet a 502
                await queue_notes(jane, clock, 4)
                await queue_notes(otieno, clock, 4)
                async with ticking(app, clock, timedelta(milliseconds=200)):
                    for who in (jane, otieno):
                        await tg.wait_for_bot_message(
                            who.telegram_id or 0, f"Note 4 for {who.name}", timeout=20
                        )
            finally:
                await app.stop()

        for who, user in ((jane, jane_tg), (otieno, otieno_tg)):
            notes = [m["text"] for m in tg.bot_messages(user.id) if "Note" in m["text"]]
            assert notes == [f"Note {n} for {who.name}" for n in range(1, 5)]  # in order, once
        assert front.failed == 3
        throttled = [
            r for r in tg.requests if r.method.lower() == "sendmessage" and r.status == 429
        ]
        assert throttled and all(r.retry_after == 1 for r in throttled)
        # Each 429 came back to the outbox once (PTB did not retry it behind our back)…
        waits = [r for r in caplog.records if "throttled for" in r.getMessage()]
        assert len(waits) == len(throttled)
        # …and a 429 is not a failed attempt; only the 502s count.
        await app_db_check(database_url, expected_attempts=8 + 3)


async def test_invitations_to_many_chats_go_out_without_one_429(
    database_url: str, smtp_server: tuple[Mailbox, int], clock: ManualClock
) -> None:
    # Telegram's own limits: 30 messages a second for the bot, 1 a second per chat.
    async with TelegramSandbox() as tg:
        tg.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
        crew_users = [tg.user(5000 + n, f"Crew{n}") for n in range(90)]
        for user in crew_users:
            await tg.send_text(user, "hello")  # each has started the bot
        # …and those updates are done with, as deleteWebhook(drop_pending_updates) does.
        drop = f"{tg.base_url}{BOT_TOKEN}/deleteWebhook"
        async with (
            aiohttp.ClientSession() as http,
            http.post(drop, json={"drop_pending_updates": True}) as reply,
        ):
            assert reply.status == 200
        app = Callsheet(app_settings(tg, database_url, smtp_server[1]), clock=clock)
        await app.start()
        try:
            assert app.services is not None
            people, services = [], app.services
            boss = (
                await services.people.add_person(
                    name="Achieng Otieno", phone="0700000001", access=Access.MANAGER
                )
            ).person
            for n, user in enumerate(crew_users):
                invite = await services.people.add_person(
                    name=f"Crew Member {n}", phone=f"07{n + 10000000:08d}", telegram_id=user.id
                )
                people.append(invite.person)
            event = await services.events.create(
                EventDraft(
                    title="Safari Sevens",
                    venue="Nyayo Stadium",
                    starts_at=clock.now() + timedelta(days=5),
                    ends_at=clock.now() + timedelta(days=5, hours=8),
                ),
                actor=boss,
                chat_id=None,
            )
            for person in people:
                await services.assignments.assign(
                    event.id, person.id, "usher", actor=boss, chat_id=None
                )
            # The outbox retries a 429 on our clock: let it run, so a 429 would not stall.
            async with ticking(app, clock, timedelta(milliseconds=200)):
                for user in crew_users:
                    await tg.wait_for_bot_message(user.id, "Safari Sevens", timeout=20)
        finally:
            await app.stop()

    for user in crew_users:
        invitations = [m for m in tg.bot_messages(user.id) if "Safari Sevens" in m["text"]]
        assert len(invitations) == 1
        assert "Confirm" in str(invitations[0]["reply_markup"])
    # Telegram never had to turn one away: the app kept under the limit by itself.
    assert tg.stats.too_many_requests == 0
    assert [r.method for r in tg.requests if r.status == 429] == []


async def app_db_check(database_url: str, expected_attempts: int) -> None:
    await db.open_db(database_url)
    try:
        rows = await OutboxMessage.filter(kind="manager_alert")
        assert {r.status for r in rows} == {OutboxStatus.SENT}
        assert sum(r.attempts for r in rows) == expected_attempts
    finally:
        await db.close_db()


async def test_blocked_person_gets_email_and_managers_are_told_once(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox, clock: ManualClock
) -> None:
    assert app.services is not None
    _, boss_tg = await people.add("Achieng Otieno", "0700000001", manager=True)
    jane, jane_tg = await people.add("Jane Wanjiku", "0712345678", email="jane@example.com")
    await mail.wait_for("jane@example.com", "connect your Telegram")
    tg.block(jane_tg)
    notifier = app.services.notifier
    for subject in ("first", "second"):
        # A chat-only message (no email twin), as a live summary or a handler might send.
        await notifier.notify(
            jane,
            NotificationKind.INVITE_LINK,
            {"link": f"https://t.me/{BOT_USERNAME}?start={subject}", "expires_at": clock.now()},
            channels=(Channel.TELEGRAM,),
        )
    app.services.outbox.wake()

    alert = await tg.wait_for_bot_message(boss_tg.id, "cannot get Telegram messages")
    assert "Jane Wanjiku" in alert["text"] and "they blocked the bot" in alert["text"]
    assert "by email at jane@example.com" in alert["text"]
    # Both chat messages came by email instead, each once.
    await mail.wait_count("jane@example.com", 3)
    links = sorted(text_part(m) for m in mail.to("jane@example.com")[1:])
    assert "start=first" in links[0] and "start=second" in links[1]

    # The manager's lists and the person's history show it.
    await tg.send_text(boss_tg, "/emails unreachable")
    listing = await tg.wait_for_bot_message(boss_tg.id, "Not reachable in Telegram")
    assert f"#{jane.id} Jane Wanjiku" in listing["text"]
    assert "email only: jane@example.com" in listing["text"]
    assert "they blocked the bot" in listing["text"]
    await tg.send_text(boss_tg, f"/history {jane.id}")
    history = await tg.wait_for_bot_message(boss_tg.id, "Messages to Jane Wanjiku")
    assert "❌ failed" in history["text"] and "jane@example.com" in history["text"]

    # Told once: a later message to Jane goes by email only, with no new alert.
    jane = await Person.get(id=jane.id)
    await notifier.notify(
        jane,
        NotificationKind.INVITE_LINK,
        {"link": "https://t.me/x?start=third", "expires_at": clock.now()},
    )
    app.services.outbox.wake()
    await tg.send_text(boss_tg, "/help")
    await tg.wait_for_bot_message(
        boss_tg.id, "Here is what you can do", after=history["message_id"]
    )
    alerts = [m for m in tg.bot_messages(boss_tg.id) if "cannot get Telegram" in m["text"]]
    assert len(alerts) == 1
    assert await OutboxMessage.filter(person=jane, channel=Channel.TELEGRAM).count() == 2
