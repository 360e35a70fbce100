"""/activity end to end: who did what and when, for a person, an event, today or everyone,
paged with ‹ Prev and Next ›, and what is refused."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.app import Callsheet
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.conftest import People
from tests.event_setup import fast_sandbox, labels, said
from tests.insight_helpers import seed_november


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


USAGE = (
    "Send /activity alone for everything, /activity today, /activity Jane (a name, phone or "
    "#id) or /activity EV12 (an event)."
)
OTIENO_LATE = (
    "Fri 27 Nov, 19:00 · Otieno Kamau declined rigger at EV1 Harusi ya Wanjiru after confirming"
)


def lines(message: dict[str, Any]) -> list[str]:
    return [line for line in message["text"].splitlines()[1:] if line]


async def test_activity_for_a_person_an_event_and_today(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss = (await seed_november(app, tg, people, clock)).boss_user

    otieno = await said(tg, boss, "/activity Otieno Kamau", "Activity · Otieno Kamau")
    assert "reply_markup" not in otieno  # one page: no buttons
    assert lines(otieno) == [
        OTIENO_LATE,
        "Mon 23 Nov, 10:00 · Achieng Otieno undid recorded payment #2 (KES 500 from Otieno "
        "Kamau): Typed the wrong person",
        "Mon 23 Nov, 10:00 · Achieng Otieno recorded KES 500 from Otieno Kamau (cash, R-1)",
        "Mon 23 Nov, 10:00 · Achieng Otieno charged Otieno Kamau KES 800: Transport advance",
        "Mon 23 Nov, 10:00 · Otieno Kamau confirmed rigger at EV1 Harusi ya Wanjiru",
        "Mon 23 Nov, 10:00 · Achieng Otieno invited Otieno Kamau as rigger at EV4 Gala",
        "Mon 23 Nov, 10:00 · Achieng Otieno invited Otieno Kamau as rigger at EV1 Harusi ya Wanjiru",
        "Mon 23 Nov, 10:00 · Otieno Kamau linked their Telegram",
        "Mon 23 Nov, 10:00 · system added Otieno Kamau",
    ]
    # By phone or #id too, as every command that names a person.
    jane = await said(tg, boss, "/activity 0712 345 678", "Activity · Jane Wanjiku")
    assert "Mon 23 Nov, 10:00 · Jane Wanjiku confirmed sound engineer at EV3 Tamasha" in lines(jane)
    await said(tg, boss, "/activity person #3", "Activity · Otieno Kamau")

    event = await said(tg, boss, "/activity EV1", "Activity · EV1 Harusi ya Wanjiru")
    assert lines(event)[:3] == [
        OTIENO_LATE,
        "Mon 23 Nov, 10:00 · Ivy Achieng declined lights at EV1 Harusi ya Wanjiru after confirming",
        "Mon 23 Nov, 10:00 · Ivy Achieng confirmed lights at EV1 Harusi ya Wanjiru",
    ]
    assert lines(event)[-1] == "Mon 23 Nov, 10:00 · Achieng Otieno created EV1 Harusi ya Wanjiru"
    assert not any("Afro Night" in line or "Tamasha" in line for line in lines(event))
    await said(tg, boss, "/activity event 4", "Achieng Otieno cancelled EV4 Gala")

    today = await said(tg, boss, "/activity today", "Activity · today, Fri 27 Nov")
    assert lines(today) == [OTIENO_LATE]


async def test_activity_pages_stay_put_while_new_things_happen(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss = (await seed_november(app, tg, people, clock)).boss_user
    first = await said(tg, boss, "/activity", "Activity · everything · page 1 of 3")
    assert lines(first)[0] == OTIENO_LATE and len(lines(first)) == 12
    assert labels(first) == ["Next ›"]
    await said(tg, boss, "/charge Jane | 300 | Lost clamp", "KES 300")  # newer than the pages

    seen = lines(first)
    for page, buttons in ((2, ["‹ Prev", "Next ›"]), (3, ["‹ Prev"])):
        await tg.press(boss, first["message_id"], "Next ›")
        shown = await tg.wait_for_bot_message(
            boss.id, f"page {page} of 3", message_id=first["message_id"]
        )
        assert labels(shown) == buttons
        assert not set(lines(shown)) & set(seen)
        seen += lines(shown)
    assert len(seen) == 34 and not any("Lost clamp" in line for line in seen)
    assert seen[-1] == "Mon 23 Nov, 10:00 · system added Achieng Otieno"
    await tg.press(boss, first["message_id"], "‹ Prev")
    await tg.wait_for_bot_message(boss.id, "page 2 of 3", message_id=first["message_id"])

    # A new /activity starts from the newest, the charge included.
    again = await said(tg, boss, "/activity", "page 1 of 3")
    assert "Achieng Otieno charged Jane Wanjiku KES 300: Lost clamp" in lines(again)[0]


async def test_activity_refuses_crew_and_says_what_it_expects(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    _, jane = await people.add("Jane Wanjiku", "0712 345 678")
    await people.add("Otieno Kamau", "0722 111 222")
    await said(tg, jane, "/activity", "Only managers can see the activity.")
    for typed, told in (
        ("EV99", f"There is no event EV99. {USAGE}"),
        ("event 7", f"There is no event EV7. {USAGE}"),
        ("Wambui", "Nobody on the crew list is called “Wambui”."),
        ("Otieno", "“Otieno” matches several people: Achieng Otieno (#1), Otieno Kamau (#3)."),
        ("#42", f"There is no person #42. Send /crew to see the list. {USAGE}"),
    ):
        refused = await said(tg, boss, f"/activity {typed}", told)
        assert refused["text"].endswith(USAGE)
