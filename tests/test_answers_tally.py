"""End to end through the sandbox: what a manager sees as crew answer. One live "answers"
message per event, edited in place; a drop-out as a loud message of its own; one email per
answer (ANSWER_EMAILS=each, the default; the hourly digest is test_answers_tally_hourly.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.app import Callsheet
from models import Event, NotificationKind, OutboxMessage, OutboxStatus, Person
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.conftest import Mailbox, People, text_part
from tests.event_setup import fast_sandbox, said

GIG = "/newevent Tamasha | 2026-12-05 18:00 | 23:00 | KICC | call 15:00 | crew 20"


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


async def crew_invited(
    app: Callsheet, tg: TelegramSandbox, people: People, count: int
) -> tuple[SandboxUser, Event, list[tuple[SandboxUser, int]]]:
    """A manager (with email), an event needing 20, and `count` linked crew invited to it
    through the service /assign calls; each crew member's invitation message id."""
    manager, boss = await people.add(
        "Achieng Otieno", "0700 000 001", email="achieng@sauti.example", manager=True
    )
    await said(tg, boss, GIG, "Event #1 created")
    event = await Event.get(id=1)
    assert app.services is not None
    crew: list[tuple[SandboxUser, int]] = []
    for n in range(1, count + 1):
        person, user = await people.add(f"Crew Member {n:02d}", f"0711 000 {n:03d}")
        await app.services.assignments.assign(
            event.id, person.id, "stagehand", actor=manager, chat_id=boss.id
        )
        invitation = await tg.wait_for_bot_message(user.id, "Invitation")
        crew.append((user, invitation["message_id"]))
    return boss, event, crew


def tally_messages(tg: TelegramSandbox, chat_id: int) -> list[dict[str, Any]]:
    return [m for m in tg.bot_messages(chat_id) if str(m["text"]).startswith("Answers · #1")]


async def test_many_quick_answers_edit_one_tally_with_the_final_counts(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    boss, _, crew = await crew_invited(app, tg, people, 24)
    before = len(tg.bot_messages(boss.id))

    # Everyone answers at once: 20 confirm, 4 decline.
    queries = await asyncio.gather(
        *(
            tg.press(user, message_id, "Confirm" if n <= 20 else "Decline")
            for n, (user, message_id) in enumerate(crew, start=1)
        )
    )
    for query in queries:
        await tg.wait_for_callback_answer(query)
    final = await tg.wait_for_bot_message(
        boss.id, "✅ 20 confirmed · ❌ 4 declined · ⏳ 0 waiting", timeout=10
    )

    # One message in her chat for all 24 answers, edited in place; nothing else was sent.
    assert tally_messages(tg, boss.id) == [final]
    assert len(tg.bot_messages(boss.id)) == before + 1
    assert "Needs" not in final["text"]  # 20 of 20 confirmed
    latest = final["text"].split("Latest:")[1]
    assert latest.count("confirmed ·") + latest.count("declined ·") == 5  # newest five
    assert "Crew list: /event 1" in final["text"]
    # Each answer wrote the tally; an edit overtaken by a newer one was dropped, not sent.
    rows = await OutboxMessage.filter(kind=NotificationKind.ANSWERS_TALLY)
    dropped = [r for r in rows if r.status is OutboxStatus.SKIPPED]
    assert len(rows) == 24 and all(r.last_error == "replaced by a newer version" for r in dropped)
    calls = [
        r
        for r in tg.requests
        if r.method.lower() in ("sendmessage", "editmessagetext")
        and str(r.params.get("chat_id")) == str(boss.id)
        and "Answers · #1" in str(r.params.get("text"))
    ]
    # Each kept edit reached Telegram once; answers faster than her chat's pace coalesced.
    assert len(calls) + len(dropped) == 24 and dropped

    # Email keeps one message per answer.
    for n in range(1, 25):
        verb = "confirmed" if n <= 20 else "declined"
        await mail.wait_for("achieng@sauti.example", f"Crew Member {n:02d} {verb} Tamasha")
    answers = [m for m in mail.to("achieng@sauti.example") if "Tamasha" in str(m["Subject"])]
    assert len(answers) == 24


async def test_the_first_answers_to_an_event_together_reach_the_final_counts(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    """No tally exists yet when these three answers come in together: the first makes it and
    the others wait for it, so the last of them counts all three. (On PostgreSQL each used to
    make a tally of its own and count alone: the manager saw "1 confirmed" to the end.)"""
    boss, _, crew = await crew_invited(app, tg, people, 3)
    queries = await asyncio.gather(
        *(tg.press(user, message_id, "Confirm") for user, message_id in crew)
    )
    for query in queries:
        await tg.wait_for_callback_answer(query)
    final = await tg.wait_for_bot_message(boss.id, "✅ 3 confirmed · ❌ 0 declined · ⏳ 0 waiting")
    assert tally_messages(tg, boss.id) == [final]
    latest = final["text"].split("Latest:")[1]
    assert [n for n in (1, 2, 3) if f"Crew Member {n:02d} confirmed" in latest] == [1, 2, 3]


async def test_a_drop_out_is_its_own_loud_message_and_the_tally_follows(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    boss, _, crew = await crew_invited(app, tg, people, 3)
    for user, message_id in crew:
        await tg.press(user, message_id, "Confirm")
    tally = await tg.wait_for_bot_message(boss.id, "✅ 3 confirmed · ❌ 0 declined · ⏳ 0 waiting")
    assert "Needs 17 more (crew 20)." in tally["text"]

    # Crew Member 02 changes her mind after confirming.
    user, message_id = crew[1]
    await tg.wait_for_bot_message(user.id, "You confirmed", message_id=message_id)
    await tg.press(user, message_id, "Change my answer")
    await tg.wait_for_bot_message(user.id, "Tap Confirm or Decline", message_id=message_id)
    await tg.press(user, message_id, "Decline")
    loud = await tg.wait_for_bot_message(boss.id, "CREW DROPPED OUT")
    assert "Crew Member 02 pulled out of Tamasha after confirming" in loud["text"]
    assert "You need to find a replacement: send /event 1." in loud["text"]
    assert loud["message_id"] != tally["message_id"]
    email = await mail.wait_for("achieng@sauti.example", "Crew dropped out")
    assert "Crew Member 02 had confirmed and now cannot come" in text_part(email)

    # The same tally shows the new counts, and her reason when she gives it.
    await tg.wait_for_bot_message(
        boss.id, "✅ 2 confirmed · ❌ 1 declined", message_id=tally["message_id"]
    )
    await tg.wait_for_bot_message(user.id, "just type the reason")
    await said(tg, user, "Sick, sorry", "Your reason is on its way")
    edited = await tg.wait_for_bot_message(
        boss.id, "❌ Crew Member 02 declined · stagehand: “Sick, sorry”"
    )
    assert edited["message_id"] == tally["message_id"]
    assert tally_messages(tg, boss.id) == [edited]
    await mail.wait_for("achieng@sauti.example", "Crew Member 02's reason for declining")


async def test_an_answer_after_a_quiet_spell_starts_a_new_tally(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    """Edits of an old message make no sound: after half an hour without answers, the next
    one comes as a new message (which later answers then edit)."""
    boss, _, crew = await crew_invited(app, tg, people, 3)
    await tg.press(*crew[0], "Confirm")
    first = await tg.wait_for_bot_message(boss.id, "✅ 1 confirmed · ❌ 0 declined · ⏳ 2 waiting")

    clock.advance(timedelta(minutes=31))
    await tg.press(*crew[1], "Decline")
    second = await tg.wait_for_bot_message(
        boss.id, "✅ 1 confirmed · ❌ 1 declined · ⏳ 1 waiting", after=first["message_id"]
    )
    clock.advance(timedelta(minutes=5))
    await tg.press(*crew[2], "Confirm")
    await tg.wait_for_bot_message(
        boss.id, "✅ 2 confirmed · ❌ 1 declined · ⏳ 0 waiting", message_id=second["message_id"]
    )
    assert [m["message_id"] for m in tally_messages(tg, boss.id)] == [
        first["message_id"],
        second["message_id"],
    ]
    assert "✅ 1 confirmed · ❌ 0 declined · ⏳ 2 waiting" in tally_messages(tg, boss.id)[0]["text"]


async def test_a_manager_without_telegram_gets_each_answer_by_email(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    boss, _, crew = await crew_invited(app, tg, people, 2)
    await Person.filter(name="Achieng Otieno").update(telegram_id=None)
    await tg.press(*crew[0], "Confirm")
    await tg.press(*crew[1], "Decline")
    await mail.wait_for("achieng@sauti.example", "Crew Member 01 confirmed Tamasha")
    await mail.wait_for("achieng@sauti.example", "Crew Member 02 declined Tamasha")
    assert tally_messages(tg, boss.id) == []
