"""End to end through the sandbox: events, assignments, answers, /my, refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.app import Callsheet
from models import Assignment, AssignmentStatus, AuditLog, Event
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.conftest import BOT_TOKEN, BOT_USERNAME, Mailbox, People, text_part


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    """Telegram's 1 message/s per chat still holds, but a test types faster than a person:
    a larger burst keeps these long conversations from waiting on Retry-After (whose wait
    the outbox measures on the test's frozen clock)."""
    sandbox = TelegramSandbox(chat_burst=40)
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


NEW_EVENT = (
    "/newevent Harusi ya Wanjiru | 2026-12-05 18:00 | 23:00 | KICC, Nairobi | call 15:00 "
    "| bring XLR cables | crew 2"
)


async def said(tg: TelegramSandbox, user: SandboxUser, text: str, contains: str) -> dict[str, Any]:
    """The user sends `text`; returns the bot's next message containing `contains`."""
    last = tg.last_bot_message(user.id)
    after = last["message_id"] if last else 0
    sent = await tg.send_text(user, text)
    return await tg.wait_for_bot_message(user.id, contains, after=max(after, sent["message_id"]))


async def crew_and_event(
    tg: TelegramSandbox, people: People
) -> tuple[SandboxUser, SandboxUser, SandboxUser, Event]:
    _, boss = await people.add(
        "Achieng Otieno", "0700 000 001", email="achieng@sauti.example", manager=True
    )
    _, jane = await people.add(
        "Jane Wanjiku", "0712345678", email="jane@example.com", skills="sound engineer, rigger"
    )
    _, otieno = await people.add("Otieno Kamau", "0722111222", skills="lights")
    await said(tg, boss, NEW_EVENT, "Event #1 created")
    return boss, jane, otieno, await Event.get(id=1)


async def test_manager_creates_an_event_inline_and_sees_it_listed(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    reply = await said(tg, boss, NEW_EVENT, "Event #1 created")
    assert "Sat 5 Dec, 18:00 to 23:00 at KICC, Nairobi" in reply["text"]
    event = await Event.get(id=1)
    assert (event.title, event.notes, event.crew_target) == (
        "Harusi ya Wanjiru",
        "bring XLR cables",
        2,
    )
    listing = await said(tg, boss, "/events", "Upcoming events")
    assert (
        "#1 Harusi ya Wanjiru — Sat 5 Dec, 18:00, KICC, Nairobi\n   needs 2 more" in listing["text"]
    )
    assert " 0 " not in listing["text"]  # no "✅ 0 · ⏳ 0 · ❌ 0" on a line
    card = await said(tg, boss, "/event 1", "Call time: Sat 5 Dec, 15:00")
    labels = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [
        "Assign crew",
        "Remind",
        "Brief",
        "Edit",
        "Complete",
        "Cancel event",
        "History",
    ]
    assert await AuditLog.filter(action="event.created", subject_id=1).count() == 1


async def test_bad_event_input_is_refused_with_the_reason_and_nothing_saved(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    cases = {
        "/newevent Gig | 2026-11-20 18:00 | 23:00 | KICC": "is in the past",
        "/newevent Gig | 2026-12-05 18:00 | 5/12 17:00 | KICC": "is not after the start",
        "/newevent Gig | 2026-12-05 18:00 | 23:00 | KICC | call 19:00": "is after the start",
        "/newevent Gig | someday 18:00 | 23:00 | KICC": "I could not read the date “someday”",
        "/newevent Gig | 2026-12-05 | 23:00 | KICC": "has a date but no time",
        "/newevent Gig | 2026-12-05 18:00": "at least 4 parts",
    }
    for command, reason in cases.items():
        reply = await said(tg, boss, command, "Nothing was saved")
        assert reason in reply["text"], (command, reply["text"])
    assert await Event.all().count() == 0


async def test_guided_newevent_asks_each_field_and_retries_bad_ones(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await said(tg, boss, "/newevent", "What is it called?")
    await said(tg, boss, "Launch party", "When does it start?")
    await said(tg, boss, "someday", "I could not read")
    await said(tg, boss, "sat 18:00", "When does it end?")
    await said(tg, boss, "23:30", "Where is it?")
    await said(tg, boss, "Alchemist", "call time")
    await said(tg, boss, "call 16:00", "Any notes")
    prompt = tg.last_bot_message(boss.id)
    assert prompt is not None
    await tg.press(boss, prompt["message_id"], "Skip")
    prompt = await tg.wait_for_bot_message(boss.id, "How many crew")
    await tg.press(boss, prompt["message_id"], "Skip")
    await tg.wait_for_bot_message(boss.id, "Event #1 created")
    event = await Event.get(id=1)
    assert (event.title, event.venue, event.notes, event.crew_target) == (
        "Launch party",
        "Alchemist",
        "",
        None,
    )
    # Cancel leaves nothing behind.
    await said(tg, boss, "/newevent", "What is it called?")
    await said(tg, boss, "/cancel", "Nothing was saved")
    assert await Event.all().count() == 1


async def test_crew_cannot_use_manager_commands_or_buttons(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, jane, _, _ = await crew_and_event(tg, people)
    for command in (
        "/newevent Gig | sat 18:00 | 23:00 | KICC",
        "/events",
        "/event 1",
        "/assign 1 | 0712345678 | rigger",
        "/remind 1",
        "/brief 1 | hi",
    ):
        await said(tg, jane, command, "Only managers can do that")
    # A manager's card button sent by a crew client (forged callback data) is refused.
    await said(tg, jane, "/my", "no invitations")
    query = await forge_press(tg, jane, "evt:cancelok:1")
    answer = await tg.wait_for_callback_answer(query)
    assert "Only managers can do that" in answer["text"] and answer["show_alert"]
    assert await Event.filter(status="scheduled").count() == 1


async def test_invitation_confirm_decline_reason_and_manager_told(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    reply = await said(tg, boss, "/assign 1 | 0712 345 678 | Sound Engineer", "invited to")
    assert (
        "Jane Wanjiku invited to <b>Harusi ya Wanjiru</b>" in reply["text"]
        or "Jane Wanjiku invited" in reply["text"]
    )
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    for part in (
        "Harusi ya Wanjiru",
        "Sat 5 Dec, 18:00",
        "Call time: Sat 5 Dec, 15:00",
        "KICC",
        "sound engineer",
        "bring XLR cables",
    ):
        assert part in invitation["text"]
    email = await mail.wait_for("jane@example.com", "Invitation: Harusi ya Wanjiru")
    assert "Call time: Sat 5 Dec, 15:00" in text_part(email)

    query = await tg.press(jane, invitation["message_id"], "Confirm")
    answer = await tg.wait_for_callback_answer(query)
    assert "Confirmed" in answer["text"]
    edited = await tg.wait_for_bot_message(
        jane.id, "You confirmed", message_id=invitation["message_id"]
    )
    assert [b["text"] for row in edited["reply_markup"]["inline_keyboard"] for b in row] == [
        "Change my answer"
    ]
    await tg.wait_for_bot_message(boss.id, "Jane Wanjiku confirmed Harusi ya Wanjiru")
    await mail.wait_for("achieng@sauti.example", "Jane Wanjiku confirmed")
    assigned = await Assignment.get(id=1)
    assert assigned.status is AssignmentStatus.CONFIRMED and assigned.responded_at is not None

    # A duplicate assignment is refused.
    dup = await said(tg, boss, "/assign 1 | 2 | rigger", "already on")
    assert "Jane Wanjiku is already on Harusi ya Wanjiru (confirmed" in dup["text"]
    # An unknown person is refused.
    await said(
        tg, boss, "/assign 1 | 0799 999 999 | rigger", "No one on the crew list has the number"
    )
    await said(tg, boss, "/assign 1 | 77 | rigger", "There is no person #77")

    # Otieno declines and gives a reason by replying.
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    inv2 = await tg.wait_for_bot_message(otieno.id, "Invitation")
    query = await tg.press(otieno, inv2["message_id"], "Decline")
    assert "Declined" in (await tg.wait_for_callback_answer(query))["text"]
    prompt = await tg.wait_for_bot_message(otieno.id, "just type the reason")
    await tg.wait_for_bot_message(boss.id, "Otieno Kamau declined")
    await tg.send_text(otieno, "Family wedding that day", reply_to=prompt["message_id"])
    await tg.wait_for_bot_message(otieno.id, "Your reason is on its way to your manager")
    await tg.wait_for_bot_message(boss.id, "reason for declining Harusi ya Wanjiru: Family wedding")

    card = await said(tg, boss, "/event 1", "Call time")
    assert "Crew: ✅ 1 confirmed · ❌ 1 declined · crew 2, needs 1 more" in card["text"]
    assert "Otieno Kamau (lights) — “Family wedding that day”" in card["text"]

    # Jane changes her mind: confirmed → declined alerts the manager loudly.
    await tg.press(jane, invitation["message_id"], "Change my answer")
    reopened = await tg.wait_for_bot_message(
        jane.id, "Tap Confirm or Decline", message_id=invitation["message_id"]
    )
    await tg.press(jane, reopened["message_id"], "Decline")
    await tg.wait_for_bot_message(boss.id, "CREW DROPPED OUT")
    await mail.wait_for("achieng@sauti.example", "Crew dropped out")

    history_card = await said(tg, boss, "/event 1", "Call time")
    await tg.press(boss, history_card["message_id"], "History")
    history = await tg.wait_for_bot_message(boss.id, "History of #1")
    for line in (
        "Achieng Otieno · created the event",
        "invited Jane Wanjiku as sound engineer",
        "Jane Wanjiku · confirmed",
        "Otieno Kamau · gave a reason: Family wedding",
        "Jane Wanjiku · declined after confirming",
    ):
        assert line in history["text"], line


async def test_presses_on_someone_elses_or_a_stale_invitation_change_nothing(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    # Otieno's client forges a press carrying Jane's callback data.
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    await tg.wait_for_bot_message(otieno.id, "Invitation")
    forged = await forge_press(tg, otieno, "asg:yes:1")
    answer = await tg.wait_for_callback_answer(forged)
    assert "not yours" in answer["text"] and answer["show_alert"]
    assert (await Assignment.get(id=1)).status is AssignmentStatus.INVITED

    # The event is cancelled: the invitation is edited, and an old button press explains.
    card = await said(tg, boss, "/event 1", "Call time")
    await tg.press(boss, card["message_id"], "Cancel event")
    confirm = await tg.wait_for_bot_message(boss.id, "Everyone invited or confirmed will be told")
    await tg.press(boss, confirm["message_id"], "Yes, cancel it")
    await tg.wait_for_bot_message(boss.id, "Event cancelled. 2 people are being told")
    await tg.wait_for_bot_message(jane.id, "is cancelled")
    await tg.wait_for_bot_message(jane.id, "Cancelled", message_id=invitation["message_id"])
    stale = await forge_press(tg, jane, "asg:yes:1")
    assert "was cancelled" in (await tg.wait_for_callback_answer(stale))["text"]
    assert (await Assignment.get(id=1)).status is AssignmentStatus.CANCELLED


async def test_answers_after_call_time_are_refused(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    clock.set(datetime(2026, 12, 5, 12, 30, tzinfo=UTC))  # 15:30 in Nairobi, after the call
    query = await tg.press(jane, invitation["message_id"], "Confirm")
    answer = await tg.wait_for_callback_answer(query)
    assert "has passed, so answers are closed" in answer["text"]
    assert "0700 000 001" in answer["text"] or "Achieng Otieno" in answer["text"]
    assert (await Assignment.get(id=1)).status is AssignmentStatus.INVITED


async def test_my_lists_pending_with_buttons_and_upcoming(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    await said(
        tg, boss, "/newevent Launch | 2026-12-10 18:00 | 22:00 | Alchemist", "Event #2 created"
    )
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    await said(tg, boss, "/assign 2 | 0712345678 | sound engineer", "invited to")
    await tg.wait_for(
        lambda: (
            len([m for m in tg.bot_messages(jane.id) if "Invitation" in (m.get("text") or "")]) == 2
        )
    )
    my = await said(tg, jane, "/my", "Your assignments")
    assert "Waiting for your answer" in my["text"]
    await tg.press(jane, my["message_id"], "Confirm #1")
    updated = await tg.wait_for_bot_message(jane.id, "Coming up", message_id=my["message_id"])
    assert "#1 Harusi ya Wanjiru" in updated["text"].split("Coming up")[1]
    assert [b["text"] for row in updated["reply_markup"]["inline_keyboard"] for b in row] == [
        "✅ Confirm #2",
        "❌ Decline #2",
    ]
    await tg.wait_for_bot_message(boss.id, "Jane Wanjiku confirmed Harusi")
    assert [c["command"] for c in tg.commands_for(jane)] == ["help", "my", "balance"]


async def test_picker_marks_overlap_and_asks_assign_anyway(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    await tg.press(jane, invitation["message_id"], "Confirm")
    await tg.wait_for_bot_message(boss.id, "Jane Wanjiku confirmed")
    await said(
        tg, boss, "/newevent Afterparty | 2026-12-05 21:00 | 23:59 | Alchemist", "Event #2 created"
    )
    picker_start = await said(tg, boss, "/assign", "Assign crew to which event?")
    await tg.press(boss, picker_start["message_id"], "#2 Afterparty")
    picker = await tg.wait_for_bot_message(boss.id, "Who should work")
    assert "overlapping" in picker["text"]
    await tg.press(boss, picker["message_id"], "Jane Wanjiku")
    warning = await tg.wait_for_bot_message(boss.id, "Assign anyway?")
    assert (
        "confirmed on <b>Harusi ya Wanjiru</b>" in warning["text"]
        or "Harusi ya Wanjiru" in warning["text"]
    )
    await tg.press(boss, warning["message_id"], "Assign anyway")
    roles = await tg.wait_for_bot_message(boss.id, "Which role for Jane Wanjiku")
    await tg.press(boss, roles["message_id"], "rigger")
    await tg.wait_for_bot_message(boss.id, "invited to", after=roles["message_id"])
    a = await Assignment.get(event_id=2, person__name="Jane Wanjiku")
    assert a.role == "rigger"
    log = await AuditLog.get(action="assignment.invited", subject_id=a.id)
    assert log.details["despite_overlap"] == "Harusi ya Wanjiru"


async def forge_press(tg: TelegramSandbox, user: SandboxUser, data: str) -> str:
    """A modified client presses a button with callback data of its choosing, on the last
    bot message in its chat (Telegram relays whatever data a client sends)."""
    message = tg.last_bot_message(user.id)
    assert message is not None
    return await tg.press_forged(user, message["message_id"], data)


async def test_briefing_is_acknowledged_and_shown_on_the_card_then_event_completed(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock, mail: Mailbox
) -> None:
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    for phone, user in (("0712345678", jane), ("0722111222", otieno)):
        await said(tg, boss, f"/assign 1 | {phone} | rigger", "invited to")
        invitation = await tg.wait_for_bot_message(user.id, "Invitation")
        await tg.press(user, invitation["message_id"], "Confirm")
        await tg.wait_for_bot_message(boss.id, f"{user.first_name}")
    await tg.wait_for_bot_message(boss.id, "Otieno Kamau confirmed")
    await said(tg, boss, "/brief 1 | Load in at gate B. Black clothes.", "Briefing sent to 2")
    briefing = await tg.wait_for_bot_message(jane.id, "Briefing")
    for part in (
        "Load in at gate B",
        "Jane Wanjiku — rigger — ",
        "Otieno Kamau — rigger — ",
        "KICC",
    ):
        assert part in briefing["text"], part
    email = await mail.wait_for("jane@example.com", "Briefing: Harusi ya Wanjiru")
    assert "Load in at gate B" in text_part(email)
    query = await tg.press(jane, briefing["message_id"], "I've read it")
    assert "noted" in (await tg.wait_for_callback_answer(query))["text"]
    # Otieno's client forging Jane's "read" press changes nothing.
    forged = await forge_press(tg, otieno, "asg:read:1")
    assert "not yours" in (await tg.wait_for_callback_answer(forged))["text"]
    card = await said(tg, boss, "/event 1", "Call time")
    assert "Jane Wanjiku (rigger) — briefing read ✅" in card["text"]
    assert "Otieno Kamau (rigger) — briefing not read ⏳" in card["text"]
    assert "read by 1 of 2" in card["text"]

    # Complete: refused before the start, then marks the confirmed crew as worked.
    early = await tg.wait_for_callback_answer(await tg.press(boss, card["message_id"], "Complete"))
    assert "has not started yet" in early["text"]
    clock.set(datetime(2026, 12, 5, 20, 30, tzinfo=UTC))  # 23:30 in Nairobi
    await tg.press(boss, card["message_id"], "Complete")
    await tg.wait_for_bot_message(boss.id, "Event completed. 2 crew members marked as worked")
    assert await Assignment.filter(status=AssignmentStatus.COMPLETED).count() == 2
    my = await said(tg, jane, "/my", "Your assignments")
    assert "Past" in my["text"] and "Harusi ya Wanjiru" in my["text"]
    late = await forge_press(tg, jane, "asg:no:1")
    assert "is finished" in (await tg.wait_for_callback_answer(late))["text"]


async def test_remind_now_reaches_confirmed_crew_only(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    await tg.press(jane, invitation["message_id"], "Confirm")
    await tg.wait_for_bot_message(boss.id, "Jane Wanjiku confirmed")
    await said(tg, boss, "/assign 1 | 0722111222 | rigger", "invited to")
    await tg.wait_for_bot_message(otieno.id, "Invitation")

    await said(tg, boss, "/remind 1", "✅ Reminder sent to 1 confirmed crew member.")
    reminder = await tg.wait_for_bot_message(jane.id, "Reminder from your manager")
    assert "Harusi ya Wanjiru" in reminder["text"] and "Call time" in reminder["text"]
    email = await mail.wait_for("jane@example.com", "Reminder from your manager")
    assert "KICC" in text_part(email)
    # Otieno has not confirmed: he gets no reminder.
    assert not any("Reminder" in (m.get("text") or "") for m in tg.bot_messages(otieno.id))
    await said(tg, jane, "/remind 1", "Only managers")


async def test_events_list_is_paged_so_each_page_fits_in_one_message(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    from datetime import timedelta

    from services.events import EventDraft

    assert app.services is not None
    boss_person, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    jane_person, _ = await people.add("Jane Wanjiku", "0712345678")
    for n in range(1, 21):  # the longest titles and venues there can be
        starts = clock.now() + timedelta(days=n)
        await app.services.events.create(
            EventDraft(
                title=f"Show {n:02d} " + "T" * 112,
                venue=f"Venue {n:02d} " + "V" * 191,
                starts_at=starts,
                ends_at=starts + timedelta(hours=5),
                crew_target=3,
            ),
            actor=boss_person,
            chat_id=None,
        )
    await app.services.assignments.assign(
        1, jane_person.id, "usher", actor=boss_person, chat_id=None
    )

    listing = await said(tg, boss, "/events", "Upcoming events")
    assert "Upcoming events (20, page 1 of 3)" in listing["text"]
    assert len(listing["text"]) <= 4096
    assert [n for n in range(1, 21) if f"Show {n:02d} " in listing["text"]] == list(range(1, 9))
    assert "\n   ⏳ 1 invited · needs 3 more\n" in listing["text"]
    labels = [b["text"] for row in listing["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[-1] == "Later »" and "« Earlier" not in labels

    seen = []
    for page in (2, 3):
        await tg.press(boss, listing["message_id"], "Later »")
        listing = await tg.wait_for_bot_message(
            boss.id, f"page {page} of 3", message_id=listing["message_id"]
        )
        assert len(listing["text"]) <= 4096
        seen += [n for n in range(1, 21) if f"Show {n:02d} " in listing["text"]]
    assert seen == list(range(9, 21))
    labels = [b["text"] for row in listing["reply_markup"]["inline_keyboard"] for b in row]
    assert "« Earlier" in labels and "Later »" not in labels
    await tg.press(boss, listing["message_id"], "« Earlier")
    await tg.wait_for_bot_message(boss.id, "page 2 of 3", message_id=listing["message_id"])


async def test_my_pages_through_every_part_in_order(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    from datetime import timedelta

    from services.assignments import Answer
    from services.events import EventDraft

    assert app.services is not None
    services = app.services
    boss, _ = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    jane, jane_tg = await people.add("Jane Wanjiku", "0712345678")
    # 5 waiting for her answer, 4 confirmed, 6 worked in the past, 3 declined: 18, 3 pages.
    plan = ["wait"] * 5 + ["yes"] * 4 + ["past"] * 6 + ["no"] * 3
    for n, what in enumerate(plan, start=1):
        starts = clock.now() + timedelta(days=n)
        event = await services.events.create(
            EventDraft(
                title=f"{what.title()} {n:02d}",
                venue="KICC",
                starts_at=starts,
                ends_at=starts + timedelta(hours=4),
            ),
            actor=boss,
            chat_id=None,
        )
        assignment = await services.assignments.assign(
            event.id, jane.id, "rigger", actor=boss, chat_id=None
        )
        if what in ("yes", "past", "no"):
            answer = Answer.DECLINE if what == "no" else Answer.CONFIRM
            await services.assignments.respond(assignment.id, answer, person=jane, chat_id=None)
        if what == "past":  # held last month (set straight in the database)
            back = timedelta(days=60)
            await Event.filter(id=event.id).update(
                starts_at=event.starts_at - back,
                ends_at=event.ends_at - back,
                call_at=event.call_at - back,
            )

    my = await said(tg, jane_tg, "/my", "Your assignments")
    pages = [my["text"]]
    for page in (2, 3):
        await tg.press(jane_tg, my["message_id"], "Older ▶")
        my = await tg.wait_for_bot_message(
            jane_tg.id, f"Page {page} of 3", message_id=my["message_id"]
        )
        pages.append(my["text"])
    assert "Page 1 of 3" in pages[0]

    def titles(text: str) -> list[str]:
        return re.findall(r"(?:Wait|Yes|Past|No) \d\d", text)

    # Waiting (soonest first), coming up (soonest first), past (newest first), declined.
    assert [t for page in pages for t in titles(page)] == (
        [f"Wait {n:02d}" for n in range(1, 6)]
        + [f"Yes {n:02d}" for n in range(6, 10)]
        + [f"Past {n:02d}" for n in range(15, 9, -1)]
        + [f"No {n:02d}" for n in range(16, 19)]
    )
    assert [len(titles(page)) for page in pages] == [8, 8, 2]
    assert "⏳ Waiting for your answer" in pages[0] and "❌ Declined" in pages[2]
    # Confirm from page 1: the page is shown again, with that one now coming up.
    await tg.press(jane_tg, my["message_id"], "◀ Newer")
    my = await tg.wait_for_bot_message(jane_tg.id, "Page 2 of 3", message_id=my["message_id"])
    await tg.press(jane_tg, my["message_id"], "◀ Newer")
    my = await tg.wait_for_bot_message(jane_tg.id, "Page 1 of 3", message_id=my["message_id"])
    labels = [b["text"] for row in my["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[:2] == ["✅ Confirm #1", "❌ Decline #1"] and labels[-1] == "Older ▶"
    await tg.press(jane_tg, my["message_id"], "Confirm #1")
    shown = my["message_id"]

    def confirmed_one() -> dict[str, Any] | None:
        for m in tg.bot_messages(jane_tg.id):
            if m["message_id"] == shown and "Confirm #1" not in str(m["reply_markup"]):
                return m
        return None

    my = await tg.wait_for(confirmed_one)
    assert titles(my["text"])[:5] == ["Wait 02", "Wait 03", "Wait 04", "Wait 05", "Wait 01"]
