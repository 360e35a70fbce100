"""End to end through the sandbox Telegram server: /start, /help, linking, refusals, webhook."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from tortoise import connections

from bot.app import Callsheet
from models import AuditLog, Channel, NotificationKind, Person
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.conftest import BOT_TOKEN, Mailbox, People, app_settings, free_port, text_part


async def test_unknown_user_is_told_politely_to_ask_a_manager(
    app: Callsheet, tg: TelegramSandbox
) -> None:
    stranger = tg.user(9001, "Stranger")
    await tg.send_text(stranger, "/start")
    reply = await tg.wait_for_bot_message(stranger.id, "Share my phone number")
    assert "ask a manager to add you" in reply["text"]
    assert tg.reply_keyboard(stranger.id) == [
        [{"text": "📱 Share my phone number", "request_contact": True}]
    ]
    await tg.send_text(stranger, "/help")
    help_reply = await tg.wait_for_bot_message(stranger.id, "your manager must add you first")
    assert "/balance" not in help_reply["text"]
    await tg.send_text(stranger, "/events")
    await tg.wait_for_bot_message(stranger.id, "Sorry, I don't know you yet")
    await tg.send_text(stranger, "hello?")
    await tg.wait_for_bot_message(
        stranger.id, "Sorry, I don't know you yet", after=help_reply["message_id"] + 2
    )
    assert [c["command"] for c in tg.commands_for(stranger)] == ["start", "help"]


async def test_deep_link_links_once_and_shows_help_for_the_role(
    app: Callsheet, tg: TelegramSandbox, mail: Mailbox
) -> None:
    assert app.services is not None
    invite = await app.services.people.add_person(
        name="Jane Wanjiku", phone="0712345678", email="jane@example.com", skills="rigger"
    )
    email = await mail.wait_for("jane@example.com", "connect your Telegram")
    assert invite.link in text_part(email)
    assert invite.link.startswith("https://t.me/callsheet_test_bot?start=")

    jane = tg.user(5001, "Jane")
    token = invite.link.rsplit("=", 1)[1]
    await tg.send_text(jane, f"/start {token}")
    reply = await tg.wait_for_bot_message(jane.id, "Your Telegram is now linked")
    assert "Jane Wanjiku" in reply["text"]
    assert "Manager" not in reply["text"]
    assert [c["command"] for c in tg.commands_for(jane)] == [
        "help",
        "my",
        "off",
        "balance",
        "receipt",
        "pay",
    ]

    # The same link again, from someone else: refused, nothing changes, and Jane is told.
    mallory = tg.user(6666, "Mallory")
    await tg.send_text(mallory, f"/start {token}")
    await tg.wait_for_bot_message(mallory.id, "already linked to another Telegram account")
    await tg.wait_for_bot_message(jane.id, "It was refused")
    assert (await Person.get(phone="+254712345678")).telegram_id == jane.id
    assert await AuditLog.filter(action="person.linked").count() == 1


async def test_expired_link_does_not_link(
    app: Callsheet, tg: TelegramSandbox, clock: ManualClock
) -> None:
    assert app.services is not None
    invite = await app.services.people.add_person(name="Jane Wanjiku", phone="0712345678")
    clock.advance(timedelta(days=8))
    jane = tg.user(5001, "Jane")
    await tg.send_text(jane, f"/start {invite.link.rsplit('=', 1)[1]}")
    reply = await tg.wait_for_bot_message(jane.id, "This link has expired")
    assert "Share my phone number" in reply["text"]
    assert (await Person.get(phone="+254712345678")).telegram_id is None


async def test_shared_contact_links_only_your_own_number(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    assert app.services is not None
    await app.services.people.add_person(name="Otieno Kamau", phone="0722 111 222")
    mallory = tg.user(6666, "Mallory")
    await tg.send_text(mallory, "/start")
    await tg.share_contact(mallory, "+254722111222", contact_user_id=7777, first_name="Otieno")
    await tg.wait_for_bot_message(mallory.id, "That contact is not you")
    await tg.share_contact(mallory, "+254722111222", contact_user_id=None, first_name="Otieno")
    await tg.wait_for_bot_message(mallory.id, "That contact is not you", after=4)
    assert (await Person.get(phone="+254722111222")).telegram_id is None

    otieno = tg.user(7001, "Otieno")
    await tg.send_text(otieno, "/start")
    await tg.share_contact(otieno, "254722111222")
    reply = await tg.wait_for_bot_message(otieno.id, "Your Telegram is now linked")
    assert "Otieno Kamau" in reply["text"]
    assert tg.reply_keyboard(otieno.id) is None
    assert (await Person.get(phone="+254722111222")).telegram_id == otieno.id


async def test_unknown_number_in_contact_is_refused(app: Callsheet, tg: TelegramSandbox) -> None:
    stranger = tg.user(9001, "Stranger")
    await tg.send_text(stranger, "/start")
    await tg.share_contact(stranger, "+254799000111")
    await tg.wait_for_bot_message(stranger.id, "is on the crew list")
    assert await Person.all().count() == 0


async def test_manager_help_lists_manager_and_crew_sections(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await tg.send_text(boss, "/help")
    reply = await tg.wait_for_bot_message(boss.id, "Manager", after=2)
    assert "Crew" in reply["text"] and "/emails" in reply["text"]


async def test_an_error_is_logged_with_an_id_and_the_user_told(
    app: Callsheet, tg: TelegramSandbox, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    _, jane = await people.add("Jane Wanjiku", "0712345678")
    conn = connections.get("default")
    # The person table vanishes mid-run (a bad manual change, a broken restore): every
    # lookup fails, and the user must get an error id that the log also has.
    await conn.execute_script("ALTER TABLE person RENAME TO person_gone")
    try:
        await tg.send_text(jane, "/help")
        reply = await tg.wait_for_bot_message(jane.id, "Something went wrong on our side")
    finally:
        await conn.execute_script("ALTER TABLE person_gone RENAME TO person")
    error_id = reply["text"].split("(error ")[1].split(")")[0]
    assert any(error_id in r.getMessage() for r in caplog.records)
    assert not any(BOT_TOKEN in r.getMessage() for r in caplog.records)


async def test_health_and_readiness(app: Callsheet) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.port}") as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["database"] == "ok"


def stranger_help(update_id: int, message_id: int) -> dict[str, object]:
    """/help from user 9001, as Telegram would post it to our webhook."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "date": 1700000000,
            "chat": {"id": 9001, "type": "private", "first_name": "Stranger"},
            "from": {"id": 9001, "is_bot": False, "first_name": "Stranger"},
            "text": "/help",
            "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
        },
    }


async def test_webhook_mode_takes_updates_only_with_the_secret(
    tg: TelegramSandbox, database_url: str, smtp_server: tuple[Mailbox, int], clock: ManualClock
) -> None:
    port = free_port()
    settings = app_settings(
        tg,
        database_url,
        smtp_server[1],
        telegram_mode="webhook",
        telegram_webhook_secret="s3cret-path_value",
        public_base_url=f"http://127.0.0.1:{port}",
        http_port=port,
    )
    running = Callsheet(settings, clock=clock)
    await running.start()
    try:
        stranger = tg.user(9001, "Stranger")
        await tg.send_text(stranger, "/start")
        await tg.wait_for_bot_message(stranger.id, "Share my phone number")

        update = stranger_help(999, message_id=50)
        url = f"http://127.0.0.1:{port}/telegram/webhook"
        async with httpx.AsyncClient() as http:
            missing = await http.post(url, json=update)
            wrong = await http.post(
                url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "guess"}
            )
            malformed = await http.post(
                url,
                content=b"{not json",
                headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-path_value"},
            )
        assert (missing.status_code, wrong.status_code, malformed.status_code) == (403, 403, 400)
        assert not any(
            "your manager must add you" in (m.get("text") or "") for m in tg.bot_messages(9001)
        )
        info = [r for r in tg.requests if r.method.lower() == "setwebhook"]
        assert json.dumps(info[-1].params).count("s3cret-path_value") == 1
    finally:
        await running.stop()


async def test_a_redelivered_update_is_answered_once(
    tg: TelegramSandbox, database_url: str, smtp_server: tuple[Mailbox, int], clock: ManualClock
) -> None:
    port = free_port()
    settings = app_settings(
        tg,
        database_url,
        smtp_server[1],
        telegram_mode="webhook",
        telegram_webhook_secret="s3cret",
        public_base_url=f"http://127.0.0.1:{port}",
        http_port=port,
    )
    running = Callsheet(settings, clock=clock)
    await running.start()
    try:
        stranger = tg.user(9001, "Stranger")
        await tg.send_text(stranger, "/start")
        first = await tg.wait_for_bot_message(stranger.id, "Share my phone number")
        update = stranger_help(777, message_id=99)
        headers = {"X-Telegram-Bot-Api-Secret-Token": "s3cret"}
        async with httpx.AsyncClient() as http:
            url = f"http://127.0.0.1:{port}/telegram/webhook"
            answers = [await http.post(url, json=update, headers=headers) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 200]
        helped = await tg.wait_for_bot_message(
            stranger.id, "your manager must add you", after=first["message_id"]
        )
        # A later update proves the three copies were all processed before it.
        await tg.send_text(stranger, "/start")
        last = await tg.wait_for_bot_message(
            stranger.id, "Hello! I send crew call sheets", after=helped["message_id"]
        )
        helps = [
            m for m in tg.bot_messages(stranger.id) if "your manager must add you" in m["text"]
        ]
        assert len(helps) == 1 and helps[0]["message_id"] < last["message_id"]
    finally:
        await running.stop()


async def test_unblocking_the_bot_brings_chat_messages_back(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox, clock: ManualClock
) -> None:
    assert app.services is not None
    await people.add("Achieng Otieno", "0700000001", manager=True)
    jane, jane_tg = await people.add("Jane Wanjiku", "0712345678", email="jane@example.com")
    tg.block(jane_tg)
    notifier = app.services.notifier
    await notifier.notify(
        jane,
        NotificationKind.INVITE_LINK,
        {"link": "https://t.me/x?start=while-blocked", "expires_at": clock.now()},
        channels=(Channel.TELEGRAM,),
    )
    app.services.outbox.wake()
    # The invite, then the chat message that went by email because the chat refused it.
    fallback = (await mail.wait_count("jane@example.com", 2))[1]
    assert "start=while-blocked" in text_part(fallback)
    assert (await Person.get(id=jane.id)).chat_unreachable_at is not None

    tg.unblock(jane_tg)
    await tg.wait_for_bot_message(jane_tg.id, "Welcome back")
    assert (await Person.get(id=jane.id)).chat_unreachable_at is None
    await notifier.notify(
        await Person.get(id=jane.id),
        NotificationKind.INVITE_LINK,
        {"link": "https://t.me/x?start=after-unblock", "expires_at": clock.now()},
        channels=(Channel.TELEGRAM,),
    )
    app.services.outbox.wake()
    await tg.wait_for_bot_message(jane_tg.id, "start=after-unblock")
    assert await AuditLog.filter(action="person.chat_reachable", subject_id=jane.id).count() == 1
