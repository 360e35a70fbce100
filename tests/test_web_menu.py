"""The Mini App from the chat: each linked person's menu button (Board / My gigs), set when
they link and at start-up for those still missing it, never twice; "Open board" on event
cards and pay sheets; https only, as Telegram (and its sandbox) insist."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, MenuButtonWebApp, WebAppInfo
from telegram.error import BadRequest

from bot.app import Callsheet
from models import MenuButton, Person
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.conftest import BOT_TOKEN, Mailbox, People, app_settings, assert_stamped_by
from tests.event_setup import NEW_EVENT, fast_sandbox, said

HTTPS = "https://crew.sauti.example"
APP_URL = HTTPS + "/app/"


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
async def start(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
) -> AsyncIterator[Any]:
    """Starts Callsheet with a PUBLIC_BASE_URL (one at a time: the last is stopped first)."""
    running: list[Callsheet] = []

    async def started(public_base_url: str) -> Callsheet:
        if running:
            await running.pop().stop()
        app = Callsheet(
            app_settings(tg, database_url, smtp_server[1], public_base_url=public_base_url),
            clock=clock,
        )
        await app.start()
        running.append(app)
        return app

    yield started
    try:
        await assert_stamped_by(clock)
    finally:
        for app in running:
            await app.stop()


def menu_calls(tg: TelegramSandbox) -> list[int]:
    return [
        int(r.params["chat_id"]) for r in tg.requests if r.method.lower() == "setchatmenubutton"
    ]


async def button_in(tg: TelegramSandbox, user: SandboxUser, text: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        button = tg.menu_button(user.id)
        return button if button.get("text") == text else None

    return await tg.wait_for(found, 10, description=f"{user.first_name}'s menu button {text}")


async def menu_settled(app: Callsheet) -> None:
    """Until the menu-button loop has looked at everyone and found nothing left to set."""
    assert app.services is not None
    async with asyncio.timeout(10):
        await app.services.menu_buttons.settled.wait()


async def test_linking_sets_the_menu_button_by_role_and_a_restart_sets_none_again(
    start: Any, tg: TelegramSandbox
) -> None:
    app = await start(HTTPS)
    people = People(app, tg)
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    _, jane = await people.add("Jane Wanjiku", "0712 345 678")
    board = await button_in(tg, boss, "Board")
    assert board == {"type": "web_app", "text": "Board", "web_app": {"url": APP_URL}}
    mine = await button_in(tg, jane, "My gigs")
    assert mine["web_app"] == {"url": APP_URL}
    assert sorted(menu_calls(tg)) == [boss.id, jane.id]
    await menu_settled(app)
    assert await MenuButton.filter(error__isnull=True, url=APP_URL).count() == 2
    # A restart: everyone has theirs, so Telegram is not asked again.
    await menu_settled(await start(HTTPS))
    assert sorted(menu_calls(tg)) == [boss.id, jane.id]


async def test_start_up_sets_what_is_missing_and_http_sets_nothing_said_once(
    start: Any, tg: TelegramSandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="services.menubuttons")
    app = await start("http://127.0.0.1:9")
    people = People(app, tg)
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    _, jane = await people.add("Jane Wanjiku", "0712 345 678")
    await said(tg, boss, NEW_EVENT, "Event #1 created")
    card = await said(tg, boss, "/event 1", "Harusi ya Wanjiru")
    assert "Open board" not in str(card["reply_markup"])  # Telegram would refuse http
    await menu_settled(app)
    assert menu_calls(tg) == []
    said_off = [r for r in caplog.records if "is not https" in r.getMessage()]
    assert len(said_off) == 1  # two people linked, one line for the operator
    # Behind https now: start-up sets both, by role.
    await menu_settled(await start(HTTPS))
    await button_in(tg, boss, "Board")
    await button_in(tg, jane, "My gigs")
    assert await MenuButton.filter(url=APP_URL).count() == 2
    card = await said(tg, boss, "/event 1", "Harusi ya Wanjiru")
    rows = card["reply_markup"]["inline_keyboard"]
    event_page = {"url": APP_URL + "?view=/app/view/event/1"}  # the Mini App on this event
    assert {"text": "Open board", "web_app": event_page} in [b for row in rows for b in row]
    await tg.send_text(boss, "/payroll 1")
    sheet = await tg.wait_for_bot_message(boss.id, "Pay sheet · #1")
    buttons = [b for row in sheet["reply_markup"]["inline_keyboard"] for b in row]
    assert {"text": "Open board", "web_app": {"url": APP_URL + "?view=/app/view/sheet/1"}} in (
        buttons
    )


async def test_a_refused_button_is_kept_and_not_tried_again(
    start: Any, tg: TelegramSandbox
) -> None:
    app = await start(HTTPS)
    people = People(app, tg)
    jane, user = await people.add("Jane Wanjiku", "0712 345 678")
    await button_in(tg, user, "My gigs")
    await menu_settled(app)
    # Her account is now one Telegram does not know (a chat that is gone).
    await Person.filter(id=jane.id).update(telegram_id=424242)
    await menu_settled(await start(HTTPS))
    assert (await MenuButton.get(person_id=jane.id)).error == "Chat not found"
    assert menu_calls(tg) == [user.id, 424242]
    await menu_settled(await start(HTTPS))
    assert menu_calls(tg) == [user.id, 424242]  # kept: not asked again at the next start


@pytest.fixture
async def bot(tg: TelegramSandbox) -> AsyncIterator[Bot]:
    ptb_bot = Bot(BOT_TOKEN, base_url=tg.base_url)
    await ptb_bot.initialize()
    yield ptb_bot
    await ptb_bot.shutdown()


async def test_the_sandbox_refuses_web_apps_over_http_as_telegram_does(
    tg: TelegramSandbox, bot: Bot
) -> None:
    jane = tg.user(1001, "Jane")
    await tg.send_text(jane, "/start")
    with pytest.raises(BadRequest, match="Button_url_invalid"):
        await bot.set_chat_menu_button(
            chat_id=jane.id, menu_button=MenuButtonWebApp("Board", WebAppInfo("http://x.example"))
        )
    http = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Open board", web_app=WebAppInfo("http://x.example/app/"))]]
    )
    with pytest.raises(BadRequest, match="Button_url_invalid"):
        await bot.send_message(jane.id, "Board", reply_markup=http)
    https = InlineKeyboardMarkup(
        [[InlineKeyboardButton("Open board", web_app=WebAppInfo(APP_URL))]]
    )
    sent = await bot.send_message(jane.id, "Board", reply_markup=https)
    assert sent.reply_markup == https
    assert await bot.set_chat_menu_button(
        chat_id=jane.id, menu_button=MenuButtonWebApp("Board", WebAppInfo(APP_URL))
    )
