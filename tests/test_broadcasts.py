"""Broadcasts end to end: the preview names the audience and sends nothing; Send sends once
through the outbox; the preview becomes a live summary (delivered, email only, failed); each
audience; crew refused; and 2,000 recipients against the stand-in's real rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest

from bot.app import Callsheet
from models import Access, AuditLog, Broadcast, BroadcastStatus, OutboxMessage, Person
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.conftest import BOT_TOKEN, BOT_USERNAME, Mailbox, People, app_settings, text_part
from tests.event_setup import crew_and_event, fast_sandbox, forge_press, labels, said
from tests.outbox_helpers import ticking


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


async def test_preview_then_send_once_and_live_summary(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    await people.add(
        "Brian Mwangi", "0733000111", email="brian@example.com", linked=False, skills="rigger"
    )
    await people.add("Peter Njoroge", "0733000222", linked=False, skills="rigger")

    preview = await said(tg, boss, "/broadcast rigger | Load-in moved to 2pm", "Broadcast to")
    assert "Broadcast to the rigger role: 3 people" in preview["text"]
    assert "Brian, Jane, Peter" in preview["text"]
    assert "Load-in moved to 2pm" in preview["text"]
    assert labels(preview) == ["Send", "Cancel"]
    assert not await OutboxMessage.filter(kind="broadcast").exists()  # nothing before Send

    query = await tg.press(boss, preview["message_id"], "Send")
    assert "Sending" in (await tg.wait_for_callback_answer(query))["text"]
    message = await tg.wait_for_bot_message(jane.id, "Load-in moved to 2pm")
    assert "📣 From Achieng Otieno" in message["text"]
    email = await mail.wait_for("brian@example.com", "Message from Achieng Otieno")
    assert "Load-in moved to 2pm" in text_part(email)
    summary = await tg.wait_for_bot_message(
        boss.id, "Done.", message_id=preview["message_id"], timeout=10
    )
    assert "✅ 1 delivered · 📧 1 email only · ❌ 1 failed" in summary["text"]
    assert labels(summary) == []
    assert not [m for m in tg.bot_messages(otieno.id) if "Load-in" in m["text"]]  # lights

    # Send pressed again (an old client still showing the button) sends nothing more.
    again = await forge_press(tg, boss, f"bc:send:{(await Broadcast.get()).id}")
    assert "already sent" in (await tg.wait_for_callback_answer(again))["text"]
    assert len([m for m in tg.bot_messages(jane.id) if "Load-in" in m["text"]]) == 1
    assert await OutboxMessage.filter(kind="broadcast").count() == 3
    assert (await Broadcast.get()).status is BroadcastStatus.DONE
    assert await AuditLog.filter(action="broadcast.sent").count() == 1

    # Cancel: nothing goes, and Send after it is refused.
    second = await said(tg, boss, "/broadcast all | Party on Friday", "Broadcast to all crew")
    query = await tg.press(boss, second["message_id"], "Cancel")
    await tg.wait_for_callback_answer(query)
    await tg.wait_for_bot_message(boss.id, "Nothing was sent", message_id=second["message_id"])
    cancelled = await Broadcast.get(status=BroadcastStatus.CANCELLED)
    late = await forge_press(tg, boss, f"bc:send:{cancelled.id}")
    assert "already cancelled" in (await tg.wait_for_callback_answer(late))["text"]
    assert not await OutboxMessage.filter(text__contains="Party on Friday").exists()


async def test_each_audience_and_refusals(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    await people.add("Brian Mwangi", "0733000111", skills="rigger")
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    await tg.press(jane, invitation["message_id"], "Confirm")
    await tg.wait_for_bot_message(boss.id, "Jane Wanjiku confirmed")
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")  # not confirmed
    await said(tg, otieno, "/off 5/12", "You are off")

    cases = {
        "all": ("all crew: 3 people", "Brian, Jane, Otieno"),
        "riggers": ("the rigger role: 2 people", "Brian, Jane"),
        "Lights": ("the lights role: 1 person", "Otieno"),
        "event 1": ("event #1 Harusi ya Wanjiru (confirmed crew): 1 person", "Jane"),
        # Jane is confirmed on event 1 that day, Otieno is off.
        "free 5/12": ("crew free on Sat 5 Dec: 1 person", "Brian"),
        "free 6/12": ("crew free on Sun 6 Dec: 3 people", "Brian, Jane, Otieno"),
    }
    for audience, (title, names) in cases.items():
        preview = await said(tg, boss, f"/broadcast {audience} | Hello", "Broadcast to")
        assert f"Broadcast to {title}" in preview["text"], (audience, preview["text"])
        assert names in preview["text"], (audience, preview["text"])

    refusals = {
        "/broadcast roadies | Hi": "I do not know the audience “roadies”. Use all (all active crew)",
        "/broadcast event 9 | Hi": "There is no event #9.",
        "/broadcast event x | Hi": "needs an event number, like event 12",
        "/broadcast free someday | Hi": "I could not read the date “someday”",
        "/broadcast free 31/12/9999 | Hi": "is not between today and two years ahead",
        "/broadcast free 20/11/2026 | Hi": "is not between today and two years ahead",
        "/broadcast rigger": "I need the audience, then | and the text",
        "/broadcast": "I need the audience, then | and the text",
        "/broadcast | Hi": "I need the audience, then | and the text",
        "/broadcast rigger | " + "x" * 3501: "keep it under 3,500",
    }
    for text, expected in refusals.items():
        refused = await said(tg, boss, text, "❌")
        assert expected in refused["text"], (text, refused["text"])
        assert "Use: /broadcast <audience> | <text>" in refused["text"]
    unknown = await said(tg, boss, "/broadcast roadies | Hi", "❌")
    assert "Roles on the crew list: lights, rigger, sound engineer." in unknown["text"]

    crew = await said(tg, jane, "/broadcast all | Hi", "managers")
    assert "Only managers can send broadcasts." in crew["text"]
    assert await Broadcast.filter(status=BroadcastStatus.DRAFT).count() == len(cases)
    assert not await OutboxMessage.filter(kind="broadcast").exists()


async def test_two_thousand_recipients_each_get_it_once_within_telegrams_limits(
    database_url: str, smtp_server: tuple[Mailbox, int], clock: ManualClock
) -> None:
    crowd = 2000
    async with TelegramSandbox() as tg:  # Telegram's own limits: 30 a second, 1 a chat
        tg.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
        boss_user = tg.user(10, "Achieng")
        users = [tg.user(100_000 + n, f"Crew{n}") for n in range(crowd)]
        for user in [boss_user, *users]:
            await tg.send_text(user, "hello")  # each has started the bot
        drop = f"{tg.base_url}{BOT_TOKEN}/deleteWebhook"
        async with (
            aiohttp.ClientSession() as http,
            http.post(drop, json={"drop_pending_updates": True}) as answer,
        ):
            assert answer.status == 200
        app = Callsheet(app_settings(tg, database_url, smtp_server[1]), clock=clock)
        await app.start()
        try:
            assert app.services is not None
            await app.services.people.add_person(
                name="Achieng Otieno",
                phone="0700000001",
                access=Access.MANAGER,
                telegram_id=boss_user.id,
            )
            now = clock.now()
            await Person.bulk_create(
                [
                    Person(
                        name=f"Crew{n} Member",
                        phone=f"+2547{n + 10_000_000:08d}",
                        telegram_id=user.id,
                        linked_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                    for n, user in enumerate(users)
                ],
                batch_size=500,
            )
            preview = await said(tg, boss_user, "/broadcast all | Gates open at 6", "Broadcast")
            assert "Broadcast to all crew: 2000 people" in preview["text"]
            assert "and 1990 more" in preview["text"]
            async with ticking(app, clock, timedelta(milliseconds=200)):
                await tg.press(boss_user, preview["message_id"], "Send")
                await tg.wait_for_bot_message(
                    boss_user.id, "2000 delivered", message_id=preview["message_id"], timeout=110
                )
        finally:
            await app.stop()

    for user in users:
        got = [m for m in tg.bot_messages(user.id) if "Gates open at 6" in m["text"]]
        assert len(got) == 1, user.id
    assert tg.stats.too_many_requests == 0
    summary = tg.last_bot_message(boss_user.id)
    assert summary is not None and "❌ 0 failed" in summary["text"]


async def test_send_pressed_twice_at_once_sends_once(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    assert app.services is not None
    boss, _ = await people.add("Achieng Otieno", "0700000001", manager=True)
    _, jane = await people.add("Jane Wanjiku", "0712345678")
    service = app.services.broadcasts
    preview = await service.preview(boss, "all | Bring ID")
    outcomes = await asyncio.gather(
        service.send(boss, preview.broadcast.id),
        service.send(boss, preview.broadcast.id),
        return_exceptions=True,
    )
    assert sorted(type(o).__name__ for o in outcomes) == ["AlreadySent", "Broadcast"]
    await tg.wait_for_bot_message(jane.id, "Bring ID")
    assert await OutboxMessage.filter(kind="broadcast").count() == 1
