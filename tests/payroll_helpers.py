"""Set-up shared by the payroll tests: a sandbox that allows a pay sheet's many edits, an event
whose call time has passed with confirmed crew, and pressing a button to read its answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.app import Callsheet
from models import Access, Assignment, AssignmentStatus, Event, PaySheet, PaySheetStatus, Person
from models.stamps import stamp
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from services.payroll import claim_payout
from tests.conftest import BOT_TOKEN, BOT_USERNAME, START, People
from tests.event_setup import said

NEW_EVENT = "/newevent Harusi ya Wanjiru | 2026-12-05 18:00 | 23:00 | KICC, Nairobi | call 15:00"
AFTER_CALL = timedelta(days=12, hours=6)  # from START (Mon 23 Nov) to Sat 5 Dec, 16:00


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    """A pay sheet is edited on every change: allow a larger burst than a person types."""
    sandbox = TelegramSandbox(chat_burst=400)
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


async def assign(event: Event, person: Person, role: str) -> None:
    await Assignment.create(
        **stamp(Assignment, START),
        event=event,
        person=person,
        role=role,
        status=AssignmentStatus.CONFIRMED,
    )


async def gig(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> tuple[SandboxUser, dict[str, tuple[Person, SandboxUser]], Event]:
    """A manager; Jane (sound engineer, owes KES 800) and Otieno (lights) confirmed on
    event #1; Ivy invited only. The clock is past the call time."""
    boss_person, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    crew = {
        "jane": await people.add("Jane Wanjiku", "0712 345 678", email="jane@example.com"),
        "otieno": await people.add("Otieno Kamau", "0722 111 222"),
        "ivy": await people.add("Ivy Invited", "0755 666 777"),
    }
    await said(tg, boss, NEW_EVENT, "Event #1 created")
    event = await Event.get(id=1)
    await assign(event, crew["jane"][0], "sound engineer")
    await assign(event, crew["otieno"][0], "lights")
    await Assignment.create(
        **stamp(Assignment, START), event=event, person=crew["ivy"][0], role="lights"
    )
    assert app.services is not None
    await app.services.ledger.charge(boss_person, "Jane Wanjiku", 800, "Lost XLR cable")
    clock.advance(AFTER_CALL)
    return boss, crew, event


async def press_and_answer(
    tg: TelegramSandbox, user: SandboxUser, message_id: int, label: str
) -> str:
    """Press a button; the text of the bot's answer to the press (an alert or a toast)."""
    query = await tg.press(user, message_id, label)
    answer = await tg.wait_for_callback_answer(query)
    return str(answer.get("text") or "")


async def sheet_message(
    tg: TelegramSandbox, user: SandboxUser, contains: str, **where: Any
) -> dict[str, Any]:
    return await tg.wait_for_bot_message(user.id, contains, **where)


async def approved_sheet(app: Callsheet, crew_count: int, *, cleared: bool = True) -> PaySheet:
    """Event #1 with `crew_count` confirmed crew, its sheet submitted and approved; `cleared`:
    also cleared to pay, as the Account Balance result leaves it (test_payday presses Pay)."""
    assert app.services is not None
    payroll = app.services.payroll
    boss = await Person.create(
        **stamp(Person, START), name="Achieng Otieno", phone="+254700000001", access=Access.MANAGER
    )
    event = await Event.create(
        **stamp(Event, START),
        title="Tamasha",
        venue="Uhuru Gardens",
        starts_at=START,
        ends_at=START,
        call_at=START,
        manager=boss,
    )
    for n in range(1, crew_count + 1):
        person = await Person.create(
            **stamp(Person, START),
            name=f"Crew {n}",
            phone=f"+2547{10_000_000 + n:08d}",
            access=Access.CREW,
        )
        await assign(event, person, "rigger")
    await payroll.rates.set(boss, None, "rigger", "2000")
    sheet = await payroll.open(boss, event.id)
    await payroll.submit(boss, sheet.id)
    approved = await payroll.approve(boss, sheet.id)
    assert await claim_payout(app.services.clock) is None  # approved is not yet cleared to pay
    if cleared:
        await PaySheet.filter(id=approved.id).update(status=PaySheetStatus.PAYING)
    return approved
