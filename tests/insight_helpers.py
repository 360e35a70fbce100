"""A November the /stats and /activity tests share: four events (one cancelled, one in
December), crew answering every way (a late drop-out among them), money recorded and undone
in the chat, and M-Pesa money and wages from the ledger for October and November."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.app import Callsheet
from models import Assignment, LedgerEntry, LedgerKind, Person
from models.stamps import stamp
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.assignments import Answer
from services.clock import ManualClock
from tests.conftest import People
from tests.event_setup import said

# 19:00 on Fri 27 Nov in Nairobi: 20 hours before event #1's call time (Sat 28 Nov, 15:00).
LATE = datetime(2026, 11, 27, 16, 0, tzinfo=UTC)
OCTOBER = datetime(2026, 10, 10, 9, 0, tzinfo=UTC)


@dataclass
class Month:
    boss: Person
    boss_user: SandboxUser
    crew: dict[str, tuple[Person, SandboxUser]]


async def seed_november(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> Month:
    assert app.services is not None
    services = app.services
    boss, boss_user = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    crew = {
        "jane": await people.add("Jane Wanjiku", "0712 345 678"),
        "otieno": await people.add("Otieno Kamau", "0722 111 222"),
        "ivy": await people.add("Ivy Achieng", "0733 444 555"),
        "brian": await people.add("Brian Mwangi", "0744 555 666"),
    }
    for typed in (
        "Harusi ya Wanjiru | 2026-11-28 18:00 | 23:00 | KICC, Nairobi | call 15:00",
        "Afro Night | 2026-11-29 20:00 | 23:30 | Alchemist | call 17:00",
        "Tamasha | 2026-12-05 18:00 | 23:00 | Uhuru Gardens | call 15:00",
        "Gala | 2026-11-27 18:00 | 22:00 | Serena | call 16:00",
    ):
        await said(tg, boss_user, f"/newevent {typed}", "created")
    plan = [
        (1, "jane", "sound engineer"),
        (1, "otieno", "rigger"),
        (1, "ivy", "lights"),
        (2, "jane", "sound engineer"),
        (2, "brian", "rigger"),
        (3, "jane", "sound engineer"),
        (4, "otieno", "rigger"),
    ]
    for event_id, who, role in plan:
        await services.assignments.assign(event_id, crew[who][0].id, role, actor=boss, chat_id=None)
    await services.events.cancel(4, actor=boss, chat_id=None)

    async def answer(event_id: int, who: str, reply: Answer) -> None:
        person = crew[who][0]
        row = await Assignment.get(event_id=event_id, person_id=person.id)
        await services.assignments.respond(row.id, reply, person=person, chat_id=None)

    for event_id, who in ((1, "jane"), (2, "jane"), (3, "jane"), (1, "otieno"), (1, "ivy")):
        await answer(event_id, who, Answer.CONFIRM)
    await answer(1, "ivy", Answer.DECLINE)  # five days ahead: not late

    await services.ledger.charge(boss, "Jane Wanjiku", 5000, "PA hire")
    await services.ledger.charge(boss, "Otieno Kamau", 800, "Transport advance")
    await said(tg, boss_user, "/record Jane | 2000 | bank | FT-771", "Recorded KES 2,000")
    await said(tg, boss_user, "/record Otieno Kamau | 500 | cash | R-1", "Recorded KES 500")
    await said(tg, boss_user, "/unrecord 2 | Typed the wrong person", "undone")
    # M-Pesa money and wages as the ledger holds them (their own flows have their tests).
    jane = crew["jane"][0]
    for when, kind, amount in (
        (OCTOBER, LedgerKind.PAYMENT, -4000),
        (OCTOBER, LedgerKind.PAYOUT, 30000),
        (clock.now(), LedgerKind.PAYMENT, -1500),
        (clock.now(), LedgerKind.PAYOUT, 9000),
    ):
        await LedgerEntry.create(
            **stamp(LedgerEntry, when), person=jane, kind=kind, amount=amount, description="seed"
        )

    clock.set(LATE)
    await answer(1, "otieno", Answer.DECLINE)
    return Month(boss, boss_user, crew)
