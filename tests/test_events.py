"""End to end through the sandbox: events. Create (inline and guided), the list, the card,
edit, remind, brief, complete, cancel, and who may do it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import Callsheet
from models import Assignment, AssignmentStatus, AuditLog, Event, OutboxMessage
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from services.events import EventDraft
from tests.conftest import Mailbox, People, text_part
from tests.event_setup import NEW_EVENT, crew_and_event, fast_sandbox, forge_press, labels, said


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


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
        "Attach",
        "Edit",
        "Complete",
        "Cancel event",
        "Auto backups: on",
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


async def test_newevent_reads_crew_wherever_it_stands_and_crew_is_the_word_everywhere(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await said(
        tg, boss, "/newevent AGM | tomorrow 9am | 5pm | KICC | call 6:30am | crew 2", "created"
    )
    event = await Event.get(id=1)
    assert (event.notes, event.crew_target) == ("", 2)
    twice = await said(
        tg, boss, "/newevent AGM | tomorrow 9am | 5pm | KICC | crew 2 | crew 3", "Nothing was saved"
    )
    assert "The crew is given twice: “crew 2” and “crew 3”" in twice["text"]
    assert await Event.all().count() == 1
    assert event.call_at == datetime(2026, 11, 24, 3, 30, tzinfo=UTC)

    reply = await said(tg, boss, "/editevent 1 | crew | 5", "Saved")
    assert "Crew: 2 → 5" in reply["text"]
    # The old word still works, so nobody's habit breaks.
    await said(tg, boss, "/editevent 1 | target | 4", "Crew: 5 → 4")
    card = await said(tg, boss, "/event 1", "Call time")
    assert "crew 4, needs 4 more" in card["text"]
    await tg.press(boss, card["message_id"], "Edit")
    menu = await tg.wait_for_bot_message(boss.id, "What do you want to change")
    assert "Crew" in labels(menu) and "Crew needed" not in labels(menu)
    refused = await said(tg, boss, "/editevent 1 | colour | red", "not something I can change")
    assert "crew" in refused["text"] and "target" not in refused["text"]


async def test_an_end_before_the_start_means_the_next_day(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    reply = await said(
        tg, boss, "/newevent Club night | 2026-12-05 18:00 | 02:00 | Alchemist", "created"
    )
    assert "Sat 5 Dec, 18:00 to Sun 6 Dec, 02:00 (ends the next day)" in reply["text"]
    event = await Event.get(id=1)
    assert event.ends_at == datetime(2026, 12, 5, 23, 0, tzinfo=UTC)  # 02:00 in Nairobi
    edit = await said(tg, boss, "/editevent 1 | end | 03:30", "Saved")
    assert "End: Sun 6 Dec, 02:00 → Sun 6 Dec, 03:30" in edit["text"]
    assert "ends the next day" in edit["text"]
    card = await said(tg, boss, "/event 1", "When:")
    assert "When: Sat 5 Dec, 18:00 to Sun 6 Dec, 03:30" in card["text"]


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


async def test_events_list_is_paged_so_each_page_fits_in_one_message(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:

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


async def test_escaped_replies_are_shown_as_written(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, jane = await people.add("Jane Wanjiku", "0712345678")
    reply = await said(tg, jane, "/balances", "Only managers")
    assert "Only managers can see everyone's balance" in reply["text"]
    assert "&#x27;" not in reply["text"]


async def test_a_date_in_another_year_shows_its_year_in_chat_and_email(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    _, boss = await people.add(
        "Achieng Otieno", "0700 000 001", email="achieng@sauti.example", manager=True
    )
    jane_person, jane = await people.add("Jane Wanjiku", "0712345678", email="jane@example.com")
    reply = await said(tg, boss, "/newevent Harusi | 12/6 18:00 | 23:00 | KICC", "created")
    assert "Sat 12 Jun 2027, 18:00 to 23:00" in reply["text"]
    await said(tg, boss, f"/assign 1 | {jane_person.id} | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    assert "When: Sat 12 Jun 2027, 18:00 to 23:00" in invitation["text"]
    email = await mail.wait_for("jane@example.com", "Invitation: Harusi, Sat 12 Jun 2027, 18:00")
    assert "Call time: Sat 12 Jun 2027, 18:00" in text_part(email)
    # The person card, rendered by another part of the bot, says the year too.
    card = await said(tg, boss, f"/person {jane_person.id}", "Assignments")
    assert "Sat 12 Jun 2027, 18:00 · Harusi · rigger" in card["text"]
    # This year's dates stay short.
    await said(tg, boss, "/newevent Gig | 5/12 18:00 | 23:00 | KICC", "Sat 5 Dec, 18:00 to 23:00")


async def test_small_words_counted_right_and_no_double_blank_lines(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    assert "When: Sat 5 Dec, 18:00 to 23:00\n" in invitation["text"]
    await tg.press(jane, invitation["message_id"], "Confirm")
    await tg.wait_for_bot_message(boss.id, "Jane Wanjiku confirmed")
    await said(tg, boss, "/brief 1 | Gate B", "Briefing sent to 1 confirmed crew member.")
    briefing = await tg.wait_for_bot_message(jane.id, "Gate B")
    assert "\n\n\n" not in briefing["text"]
    card = await said(tg, boss, "/event 1", "Call time")
    await tg.press(boss, card["message_id"], "Cancel event")
    confirm = await tg.wait_for_bot_message(boss.id, "Cancel event #1?")
    await tg.press(boss, confirm["message_id"], "Yes, cancel it")
    await tg.wait_for_bot_message(boss.id, "Event cancelled. 1 person is being told.")


async def test_moving_the_start_lists_every_moved_time_and_tells_who_has_not_answered(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, otieno, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    jane_invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    await tg.press(jane, jane_invitation["message_id"], "Confirm")
    await tg.wait_for_bot_message(boss.id, "Jane Wanjiku confirmed")
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    invitation = await tg.wait_for_bot_message(otieno.id, "Invitation")

    reply = await said(tg, boss, "/editevent 1 | start | 17:00", "Saved")
    for line in (
        "Start: Sat 5 Dec, 18:00 → <b>Sat 5 Dec, 17:00</b>",
        "End: Sat 5 Dec, 23:00 → <b>Sat 5 Dec, 22:00</b>",
        "Call time: Sat 5 Dec, 15:00 → <b>Sat 5 Dec, 14:00</b>",
    ):
        assert line.replace("<b>", "").replace("</b>", "") in reply["text"], line
    assert "2 crew members (1 confirmed, 1 not answered yet) are being told." in reply["text"]

    notice = await tg.wait_for_bot_message(otieno.id, "has changed")
    assert "Call time: Sat 5 Dec, 15:00 → Sat 5 Dec, 14:00" in notice["text"]
    edited = await tg.wait_for_bot_message(
        otieno.id, "Call time: Sat 5 Dec, 14:00", message_id=invitation["message_id"]
    )
    assert "When: Sat 5 Dec, 17:00 to 22:00" in edited["text"]
    assert labels(edited) == ["✅ Confirm", "❌ Decline"]
    await tg.wait_for_bot_message(jane.id, "End: Sat 5 Dec, 23:00 → Sat 5 Dec, 22:00")


async def test_a_notes_change_with_long_notes_reaches_crew_in_one_message(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    invitation_id = (await tg.wait_for_bot_message(jane.id, "Invitation"))["message_id"]
    await said(tg, boss, "/editevent 1 | notes | " + "a" * 1990, "Saved")
    await said(tg, boss, "/editevent 1 | notes | " + "b" * 1990, "Saved")
    changed = await tg.wait_for_bot_message(jane.id, "→ " + "b" * 79 + "…", after=invitation_id)
    assert "b" * 1990 in changed["text"] and len(changed["text"]) <= 4096
    assert await OutboxMessage.filter(kind="event_changed", status="failed").count() == 0


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


async def test_a_briefing_too_long_for_telegram_is_refused_and_nothing_goes_out(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, jane, _, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/editevent 1 | notes | " + "N" * 1990, "Saved")
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(jane.id, "Invitation")
    await tg.press(jane, invitation["message_id"], "Confirm")
    await tg.wait_for_bot_message(boss.id, "Jane Wanjiku confirmed")

    reply = await said(tg, boss, "/brief 1 | " + "B" * 2990, "Telegram takes 4,096")
    assert "Nothing was sent" in reply["text"] and "Shorten it by" in reply["text"]
    assert "Briefing sent" not in reply["text"]
    assert await OutboxMessage.filter(kind="briefing").count() == 0

    # A briefing that fits goes out, and only then is it reported as sent.
    await said(tg, boss, "/brief 1 | " + "B" * 1500, "✅ Briefing sent to 1 confirmed crew member")
    briefing = await tg.wait_for_bot_message(jane.id, "Briefing")
    assert "B" * 1500 in briefing["text"]
