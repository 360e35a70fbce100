"""Guided conversations end to end on one process: a form survives a restart, a new command
sets the open form aside and says so, /cancel answers everywhere, and an abandoned form
expires."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import Callsheet
from models import ConversationRow, Event
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.conftest import People
from tests.event_setup import NEW_EVENT, fast_sandbox, said


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


async def test_a_guided_newevent_is_finished_after_a_restart(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await said(tg, boss, "/newevent", "What is it called?")
    await said(tg, boss, "Launch party", "When does it start?")
    await said(tg, boss, "sat 18:00", "When does it end?")
    await app.stop()
    await app.start()  # a new PTB application and handlers: only the database remembers

    await said(tg, boss, "23:30", "Where is it?")
    await said(tg, boss, "Alchemist", "call time")
    await said(tg, boss, "call 16:00", "Any notes")
    await said(tg, boss, "bring XLR", "How many crew")
    created = await said(tg, boss, "4", "Event #1 created")
    assert "Sat 28 Nov, 18:00 to 23:30 at Alchemist" in created["text"]
    event = await Event.get(id=1)
    assert (event.title, event.notes, event.crew_target) == ("Launch party", "bring XLR", 4)
    await said(tg, boss, "/cancel", "There is nothing to cancel.")  # the form is over
    assert await ConversationRow.filter(flow__isnull=False).count() == 0


async def test_a_new_command_sets_the_open_form_aside_and_cancel_answers_everywhere(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await said(tg, boss, "/newevent", "What is it called?")
    await said(tg, boss, "Launch party", "When does it start?")
    aside = await said(tg, boss, "/addcrew", "Your /newevent was set aside.")
    asked = await tg.wait_for_bot_message(
        boss.id, "Adding a crew member", after=aside["message_id"]
    )
    # The next answers belong to /addcrew, not to the event form.
    await said(tg, boss, "Jane Wanjiku", "Their mobile number?")
    cancelled = await said(tg, boss, "/cancel", "Cancelled. Nothing was saved.")
    assert cancelled["message_id"] > asked["message_id"]
    await said(tg, boss, "/cancel", "There is nothing to cancel.")
    await said(tg, boss, "sat 18:00", "Send /help to see what I can do.")
    assert await Event.all().count() == 0

    # A plain command sets the form aside too, and is answered as usual.
    await said(tg, boss, "/newevent", "What is it called?")
    await said(tg, boss, "/events", "Your /newevent was set aside.")
    await tg.wait_for_bot_message(boss.id, "events")
    await said(tg, boss, "Launch party", "Send /help to see what I can do.")
    assert await ConversationRow.filter(flow__isnull=False).count() == 0


async def test_a_form_started_by_a_button_sets_the_command_form_aside(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await said(tg, boss, NEW_EVENT, "Event #1 created")
    card = await said(tg, boss, "/event 1", "Call time")
    await said(tg, boss, "/newevent", "What is it called?")
    await tg.press(boss, card["message_id"], "Brief")
    await tg.wait_for_bot_message(boss.id, "Type the briefing for event #1")
    await tg.wait_for_bot_message(boss.id, "Your /newevent was set aside.")
    await said(tg, boss, "/cancel", "Cancelled")
    assert await Event.all().count() == 1


async def test_an_abandoned_form_expires_and_the_next_message_is_treated_fresh(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await said(tg, boss, "/newevent", "What is it called?")
    await said(tg, boss, "Launch party", "When does it start?")
    clock.advance(app.settings.conversation_ttl - timedelta(minutes=1))
    await said(tg, boss, "sat 18:00", "When does it end?")  # still open: a step renews it
    # (a refused answer is no step: it shows that the step before it is stored.)
    await said(tg, boss, "someday", "I could not read")
    clock.advance(app.settings.conversation_ttl)
    await said(tg, boss, "23:30", "Send /help to see what I can do.")
    await said(tg, boss, "/cancel", "There is nothing to cancel.")
    assert await ConversationRow.filter(flow__isnull=False).count() == 0
    assert await Event.all().count() == 0
