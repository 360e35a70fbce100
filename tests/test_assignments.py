"""End to end through the sandbox: assignments. Invite (the picker, /assign, again after a
decline), the crew's answers and reasons, nudges about invitations, and /my."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.app import Callsheet
from models import Assignment, AssignmentStatus, AuditLog, Event, OutboxMessage
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from services.events import EventDraft
from tests.conftest import Mailbox, People, text_part
from tests.event_setup import crew_and_event, fast_sandbox, forge_press, labels, said


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


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
    # The manager's chat: one live tally for the event; her inbox: one email per answer.
    tally = await tg.wait_for_bot_message(boss.id, "✅ Jane Wanjiku confirmed · sound engineer")
    assert "Harusi ya Wanjiru" in tally["text"]
    assert "✅ 1 confirmed · ❌ 0 declined · ⏳ 0 waiting" in tally["text"]
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
    await tg.wait_for_bot_message(
        boss.id, "❌ Otieno Kamau declined", message_id=tally["message_id"]
    )
    await tg.send_text(otieno, "Family wedding that day", reply_to=prompt["message_id"])
    await tg.wait_for_bot_message(otieno.id, "Your reason is on its way to your manager")
    # The reason edits the same tally: no new message.
    await tg.wait_for_bot_message(
        boss.id,
        "❌ Otieno Kamau declined · lights: “Family wedding that day”",
        message_id=tally["message_id"],
    )
    await mail.wait_for("achieng@sauti.example", "Otieno Kamau's reason for declining")
    told = [m for m in tg.bot_messages(boss.id) if "declin" in m["text"]]
    assert [m["message_id"] for m in told] == [tally["message_id"]]

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
    told = await tg.wait_for_bot_message(boss.id, reason.strip())
    assert "❌ Otieno Kamau declined · lights" in told["text"]
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
    assert [str(a) for a in actions] == [
        "assignment.invited",
        "assignment.declined",
        "assignment.reinvited",
    ]

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
    await tg.wait_for_bot_message(boss_user.id, "Answers · #3 Gig 3")
    await tg.wait_for_bot_message(boss_user.id, "✅ Otieno Kamau confirmed")


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
    await tg.wait_for_bot_message(boss.id, "✅ Jane Wanjiku confirmed")
    assert [c["command"] for c in tg.commands_for(jane)] == [
        "help",
        "my",
        "off",
        "balance",
        "receipt",
        "pay",
    ]


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
