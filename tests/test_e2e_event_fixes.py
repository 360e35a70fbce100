"""End to end through the sandbox: what a manager or crew member tripped on with events
(issue 10, sections 5 and 6): long messages, decline reasons, start edits, ends after
midnight, the crew number, inviting again, grouped nudges, /my numbers, HTML replies, years."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import Callsheet
from models import Assignment, AssignmentStatus, AuditLog, Event, OutboxMessage
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from services.events import EventDraft
from tests.conftest import BOT_TOKEN, BOT_USERNAME, Mailbox, People, text_part
from tests.test_e2e_events import crew_and_event, said


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    """As in test_e2e_events: a burst large enough for a test that types fast."""
    sandbox = TelegramSandbox(chat_burst=40)
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


def labels(message: dict) -> list[str]:  # type: ignore[type-arg]
    markup = message.get("reply_markup") or {"inline_keyboard": []}
    return [b["text"] for row in markup["inline_keyboard"] for b in row]


# --- 5. Saying "sent" only when it was ------------------------------------------------------


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


async def test_a_long_decline_reason_typed_without_reply_reaches_the_manager(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    boss, _, otieno, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    invitation = await tg.wait_for_bot_message(otieno.id, "Invitation")
    await tg.press(otieno, invitation["message_id"], "Decline")
    await tg.wait_for_bot_message(otieno.id, "just type the reason")

    reason = ("My cousin's wedding is that weekend in Kisumu and I travel on Friday. " * 3)[:208]
    thanks = await said(tg, otieno, reason, "Your reason is on its way")
    assert "Something went wrong" not in thanks["text"]
    told = await tg.wait_for_bot_message(boss.id, "reason for declining Harusi ya Wanjiru")
    assert reason.strip() in told["text"]
    email = await mail.wait_for("achieng@sauti.example", "Otieno Kamau's reason for declining")
    assert reason.strip() in text_part(email)
    assigned = await Assignment.get(id=1)
    assert assigned.decline_reason == reason.strip()

    # After the reason, plain text is not taken as another one.
    await said(tg, otieno, "hello", "Send /help")


async def test_after_skip_plain_text_is_not_taken_as_a_reason(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, _, otieno, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    invitation = await tg.wait_for_bot_message(otieno.id, "Invitation")
    await tg.press(otieno, invitation["message_id"], "Decline")
    prompt = await tg.wait_for_bot_message(otieno.id, "just type the reason")
    await tg.press(otieno, prompt["message_id"], "Skip")
    await tg.wait_for_bot_message(otieno.id, "OK, no reason given", message_id=prompt["message_id"])
    await said(tg, otieno, "thanks", "Send /help")
    assert (await Assignment.get(id=1)).decline_reason == ""


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


# --- 6. What a manager tripped on ---------------------------------------------------------


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


async def test_someone_who_declined_can_be_invited_again(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss, _, otieno, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    first = await tg.wait_for_bot_message(otieno.id, "Invitation")
    await tg.press(otieno, first["message_id"], "Decline")
    await tg.wait_for_bot_message(boss.id, "Otieno Kamau declined")

    card = await said(tg, boss, "/event 1", "Call time")
    await tg.press(boss, card["message_id"], "Assign crew")
    picker = await tg.wait_for_bot_message(boss.id, "Who should work")
    assert "↩ Otieno Kamau · lights (declined; invite again)" in labels(picker)

    await said(tg, boss, "/assign 1 | 0722111222 | lights", "Otieno Kamau invited to")
    again = await tg.wait_for_bot_message(otieno.id, "Please answer", after=first["message_id"])
    assert labels(again) == ["✅ Confirm", "❌ Decline"]
    assignment = await Assignment.get(id=1)
    assert assignment.status is AssignmentStatus.INVITED
    assert await Assignment.all().count() == 1
    actions = await AuditLog.filter(subject_type="assignment", subject_id=1).values_list(
        "action", flat=True
    )
    assert list(actions) == ["assignment.invited", "assignment.declined", "assignment.reinvited"]

    await tg.press(otieno, again["message_id"], "Confirm")
    await tg.wait_for_bot_message(boss.id, "Otieno Kamau confirmed")
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "already on Harusi ya Wanjiru")


async def test_someone_invited_again_is_nudged_again(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    """The first invitation's nudge went out; after a decline and a new invitation, the new
    one gets its own nudge (it reused the old nudge's key and never came)."""
    assert app.services is not None
    boss, _, otieno, _ = await crew_and_event(tg, people)
    await said(tg, boss, "/assign 1 | 0722111222 | lights", "invited to")
    first = await tg.wait_for_bot_message(otieno.id, "Invitation")
    clock.advance(timedelta(hours=13))
    await app.services.scheduler.run_due()
    await tg.wait_for_bot_message(otieno.id, "not answered", after=first["message_id"])
    await tg.press(otieno, first["message_id"], "Decline")
    await tg.wait_for_bot_message(boss.id, "Otieno Kamau declined")

    await said(tg, boss, "/assign 1 | 0722111222 | lights", "Otieno Kamau invited to")
    again = await tg.wait_for_bot_message(otieno.id, "Please answer", after=first["message_id"])
    clock.advance(timedelta(hours=13))
    await app.services.scheduler.run_due()
    await tg.wait_for_bot_message(otieno.id, "not answered", after=again["message_id"])
    assert await OutboxMessage.filter(kind="nudge", channel="telegram").count() == 2


async def test_twelve_unanswered_invitations_bring_one_nudge(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    services = app.services
    assert services is not None
    boss, boss_user = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    otieno_person, otieno = await people.add("Otieno Kamau", "0722111222")
    for n in range(1, 13):
        starts = clock.now() + timedelta(days=n + 2)
        await services.events.create(
            EventDraft(
                title=f"Gig {n}",
                venue="KICC",
                starts_at=starts,
                ends_at=starts + timedelta(hours=5),
            ),
            actor=boss,
            chat_id=None,
        )
        await services.assignments.assign(n, otieno_person.id, "lights", actor=boss, chat_id=None)
    await tg.wait_for_bot_message(otieno.id, "Gig 12")
    before = len(tg.bot_messages(otieno.id))

    clock.advance(timedelta(hours=12))
    await services.scheduler.run_due()
    nudge = await tg.wait_for_bot_message(otieno.id, "You have not answered 12 invitations yet")
    # The first 8, each with its buttons; the rest are counted, so that the longest titles
    # and venues still fit one Telegram message.
    for n in range(1, 9):
        assert f"#{n} Gig {n} — " in nudge["text"]
    assert "#9 Gig 9" not in nudge["text"] and "…and 4 more." in nudge["text"]
    assert "send /my for all of them" in nudge["text"]
    assert len(nudge["reply_markup"]["inline_keyboard"]) == 8
    await services.scheduler.run_due()
    assert len(tg.bot_messages(otieno.id)) == before + 1
    assert await OutboxMessage.filter(kind="nudge", channel="telegram").count() == 1

    await tg.press(otieno, nudge["message_id"], "✅ #3 Gig 3")
    await tg.wait_for_bot_message(boss_user.id, "Otieno Kamau confirmed Gig 3")


async def test_my_shows_the_event_number(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    services = app.services
    assert services is not None
    boss, _ = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    jane_person, jane = await people.add("Jane Wanjiku", "0712345678")
    for n in (1, 2):
        starts = clock.now() + timedelta(days=n + 2)
        await services.events.create(
            EventDraft(
                title=f"Show {n}",
                venue="KICC",
                starts_at=starts,
                ends_at=starts + timedelta(hours=5),
            ),
            actor=boss,
            chat_id=None,
        )
    await services.assignments.assign(2, jane_person.id, "usher", actor=boss, chat_id=None)
    mine = await said(tg, jane, "/my", "Your assignments")
    assert "#2 Show 2" in mine["text"] and "#1" not in mine["text"]
    assert labels(mine) == ["✅ Confirm #2", "❌ Decline #2"]


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
