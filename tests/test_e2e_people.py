"""End to end through the sandbox: managers add crew, browse the roster and edit person cards."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.app import Callsheet
from models import (
    Access,
    Assignment,
    AssignmentStatus,
    AuditLog,
    Event,
    JobStatus,
    LinkToken,
    OutboxMessage,
    Person,
    ScheduledJob,
)
from models.stamps import stamp
from sandbox.telegram import SandboxUser, TelegramSandbox
from tests.conftest import START, Mailbox, People, text_part

JSON = dict[str, Any]


async def say(tg: TelegramSandbox, user: SandboxUser, text: str, expect: str) -> JSON:
    """The user sends `text`; returns the bot's first later message containing `expect`."""
    sent = await tg.send_text(user, text)
    return await tg.wait_for_bot_message(user.id, expect, after=sent["message_id"])


async def press(
    tg: TelegramSandbox, user: SandboxUser, message: JSON, button: str, expect: str | None = None
) -> JSON:
    """The user taps a button; returns the callback answer (and waits for `expect` if given)."""
    query_id = await tg.press(user, message["message_id"], button)
    answer = await tg.wait_for_callback_answer(query_id)
    if expect is not None:
        await tg.wait_for_bot_message(user.id, expect, after=message["message_id"] - 1)
    return answer


def link_token(text: str) -> str:
    start = text.index("?start=") + len("?start=")
    return text[start:].split()[0]


def button_texts(message: JSON) -> list[str]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return [b["text"] for row in rows for b in row]


async def test_inline_addcrew_replies_with_a_link_that_is_also_emailed(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    boss_person, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    reply = await say(
        tg,
        boss,
        "/addcrew Jane Wanjiku | 0712 345 678 | jane@example.com | Sound Engineer, rigger",
        "Added",
    )
    assert "Jane Wanjiku" in reply["text"] and "sound engineer, rigger" in reply["text"]
    assert "emailed it to jane@example.com" in reply["text"]
    token = link_token(reply["text"])
    email = await mail.wait_for("jane@example.com", "connect your Telegram")
    assert f"?start={token}" in text_part(email)

    jane = tg.user(5001, "Jane")
    await say(tg, jane, f"/start {token}", "Your Telegram is now linked")
    added = await AuditLog.filter(action="person.added").order_by("-id").first()
    assert added is not None and added.details["name"] == "Jane Wanjiku"
    assert (added.actor_id, added.chat_id) == (boss_person.id, boss.id)  # type: ignore[attr-defined]

    # No email (empty field or three fields): the manager is told to forward the link.
    reply = await say(tg, boss, "/addcrew Otieno Kamau | 0722111222 | | rigger", "Added")
    assert "forward this link" in reply["text"] and "?start=" in reply["text"]
    reply = await say(tg, boss, "/addmanager Wanjiru Mwangi | 0733 000 111 | producer", "Added")
    assert "as a manager" in reply["text"] and "forward this link" in reply["text"]
    assert (await Person.get(phone="+254733000111")).access is Access.MANAGER
    assert await OutboxMessage.filter(email_to__isnull=False).count() == 1

    reply = await say(tg, boss, "/addcrew Jane | 0712", "3 or 4 parts")
    assert "/addcrew Jane Wanjiku | 0712345678" in reply["text"]


async def test_guided_addcrew_asks_again_after_a_bad_phone(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    await say(tg, boss, "/addcrew", "full name")
    await say(tg, boss, "12345", "does not look like a name")
    await say(tg, boss, "Jane Wanjiku", "mobile number")
    bad = await say(tg, boss, "0712", "wrong number of digits")
    assert "mobile number?" in bad["text"]
    email_question = await say(tg, boss, "0712 345 678", "email address")
    await press(tg, boss, email_question, "Skip", "roles")
    summary = await say(tg, boss, "rigger, Sound Engineer", "Add this crew member?")
    assert "Phone: +254 712 345 678" in summary["text"] and "Email: none" in summary["text"]
    assert await Person.filter(phone="+254712345678").count() == 0
    answer = await press(tg, boss, summary, "Save", "Added")
    assert answer["text"] == "Saved."
    reply = await tg.wait_for_bot_message(boss.id, "Added", after=summary["message_id"])
    assert "forward this link" in reply["text"]
    jane = await Person.get(phone="+254712345678")
    assert (jane.name, jane.skills, jane.email) == ("Jane Wanjiku", "rigger,sound engineer", None)
    # The form is over: plain text is not taken as an answer any more.
    await say(tg, boss, "hello", "Send /help")


async def test_cancel_midway_saves_nothing(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    await say(tg, boss, "/addcrew", "full name")
    phone_question = await say(tg, boss, "Jane Wanjiku", "mobile number")
    await press(tg, boss, phone_question, "Cancel", "Nothing was saved")
    await say(tg, boss, "0712345678", "Send /help")

    await say(tg, boss, "/addmanager", "full name")
    await say(tg, boss, "Wanjiru Mwangi", "mobile number")
    await say(tg, boss, "0733000111", "email address")
    await say(tg, boss, "/cancel", "Nothing was saved")
    assert await Person.all().count() == 1
    assert await AuditLog.filter(action="person.added").count() == 1  # the boss, by the fixture


async def test_duplicate_phone_is_refused_naming_the_owner(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    await people.add("Jane Wanjiku", "0712345678", linked=False)
    reply = await say(tg, boss, "/addcrew John Otieno | +254 712 345 678 | rigger", "❌")
    assert "+254712345678 already belongs to Jane Wanjiku (#2)" in reply["text"]
    await say(tg, boss, "/addcrew", "full name")
    await say(tg, boss, "John Otieno", "mobile number")
    reply = await say(tg, boss, "0712-345-678", "already belongs to Jane Wanjiku")
    assert "mobile number?" in reply["text"]
    assert await Person.all().count() == 2


async def test_crew_cannot_add_or_list_or_press_manager_buttons(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    await people.add("Achieng Otieno", "0700000001", manager=True)
    other, _ = await people.add("Otieno Kamau", "0722111222")
    jane_person, jane = await people.add("Jane Wanjiku", "0712345678")
    await say(tg, jane, "/addcrew Mallory | 0799000111 | rigger", "Only managers can add crew.")
    await say(tg, jane, "/addcrew", "Only managers can add crew.")
    await say(tg, jane, "/addmanager", "Only managers can add managers.")
    await say(tg, jane, "/crew", "Only managers can see the crew list.")
    await say(tg, jane, f"/person {other.id}", "Only managers can see or change people.")

    # A modified client can send any callback data: a forged Deactivate changes nothing.
    help_reply = await say(tg, jane, "/help", "Here is what you can do")
    chat = tg._bot(None).chats[jane.id]  # the client's own copy of the message
    chat.messages[help_reply["message_id"]]["reply_markup"] = {
        "inline_keyboard": [
            [{"text": "x", "callback_data": f"per:deactok:{other.id}"}],
            [{"text": "y", "callback_data": f"per:access:{jane_person.id}:manager"}],
        ]
    }
    answer = await press(tg, jane, help_reply, "x")
    assert answer["show_alert"] and "Only managers" in answer["text"]
    answer = await press(tg, jane, help_reply, "y")
    assert answer["show_alert"] and "Only managers" in answer["text"]
    assert (await Person.get(id=other.id)).active
    assert (await Person.get(phone="+254712345678")).access is Access.CREW
    assert not await AuditLog.filter(action__startswith="person.").exclude(
        action__in=["person.added", "person.linked"]
    )
    assert await Person.all().count() == 3


async def test_roster_filters_and_pages(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    assert app.services is not None
    for n in range(23):
        await app.services.people.add_person(
            name=f"Crew Member {n:02d}",
            phone=f"07110000{n:02d}",
            skills="rigger" if n % 3 == 0 else "lighting",
        )
    await Person.filter(phone="+254711000003").update(balance=1500)
    await Person.filter(phone="+254711000004").update(active=False)

    riggers = await say(tg, boss, "/crew Rigger", "Crew matching")
    assert "8 people" in riggers["text"] and "lighting" not in riggers["text"]
    assert "KES 1,500" in riggers["text"] and "not linked" in riggers["text"]
    assert "page" not in riggers["text"]
    named = await say(tg, boss, "/crew otieno", "Crew matching")
    assert "1 person" in named["text"] and "✅ linked (@achieng)" in named["text"]
    await say(tg, boss, "/crew drummer", "No one on the crew list matches “drummer”")

    roster = await say(tg, boss, "/crew", "Crew —")
    assert "23 people, page 1 of 3" in roster["text"]  # 22 crew (one inactive) + the boss
    assert "Crew Member 04" not in roster["text"]
    assert len(roster["text"]) <= 4096 and "Next »" in button_texts(roster)
    assert "« Prev" not in button_texts(roster)
    await press(tg, boss, roster, "Next »")
    page2 = await tg.wait_for_bot_message(boss.id, "page 2 of 3", message_id=roster["message_id"])
    assert {"« Prev", "Next »"} <= set(button_texts(page2))
    await press(tg, boss, page2, "Next »")
    page3 = await tg.wait_for_bot_message(boss.id, "page 3 of 3", message_id=roster["message_id"])
    assert "Next »" not in button_texts(page3) and "Crew Member 22" in page3["text"]

    await press(tg, boss, page3, "Crew Member 22", "Phone: +254 711 000 022")


async def test_card_shows_history_and_edits_phone_and_roles(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss_person, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    jane, _ = await people.add("Jane Wanjiku", "0712345678", linked=False, skills="rigger")
    event = await Event.create(
        **stamp(Event, START),
        title="Kenyatta Gala",
        venue="KICC",
        starts_at=datetime(2026, 12, 5, 15, 0, tzinfo=UTC),
        ends_at=datetime(2026, 12, 5, 20, 0, tzinfo=UTC),
        call_at=datetime(2026, 12, 5, 12, 0, tzinfo=UTC),
        manager=boss_person,
    )
    await Assignment.create(
        **stamp(Assignment, START),
        event=event,
        person=jane,
        role="rigger",
        status=AssignmentStatus.CONFIRMED,
    )

    card = await say(tg, boss, f"/person {jane.id}", "Phone: +254 712 345 678")
    assert "Sat 5 Dec, 18:00 · Kenyatta Gala · rigger · confirmed" in card["text"]
    assert "Telegram: not linked" in card["text"] and "Balance: KES 0" in card["text"]
    await press(tg, boss, card, "Edit", "What do you want to change")
    picker = await tg.wait_for_bot_message(
        boss.id, "What do you want", message_id=card["message_id"]
    )
    await press(tg, boss, picker, "Phone", "Type the new phone number")
    refused = await say(tg, boss, "0700 000 001", "already belongs to Achieng Otieno")
    assert "Type the phone number again" in refused["text"]
    saved = await say(tg, boss, "0799 123 456", "✅ Phone number saved")
    assert "Phone: +254 799 123 456" in saved["text"]

    await press(tg, boss, saved, "Edit", "What do you want to change")
    picker = await tg.wait_for_bot_message(
        boss.id, "What do you want", message_id=saved["message_id"]
    )
    await press(tg, boss, picker, "Roles", "Type the new roles")
    await say(tg, boss, " , ", "at least one role")
    saved = await say(tg, boss, "Lighting, rigger", "✅ Roles saved")
    assert "Roles: lighting, rigger" in saved["text"]

    stored = await Person.get(id=jane.id)
    assert (stored.phone, stored.skills) == ("+254799123456", "lighting,rigger")
    edits = await AuditLog.filter(action="person.edited").order_by("id")
    assert [e.details["new"] for e in edits] == [
        {"phone": "+254799123456"},
        {"skills": "lighting,rigger"},
    ]
    assert all(e.chat_id == boss.id and e.actor_label == "Achieng Otieno" for e in edits)


async def test_deactivated_person_is_unknown_and_managers_keep_their_own_access(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss_person, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    jane_person, jane = await people.add("Jane Wanjiku", "0712345678")

    card = await say(tg, boss, f"/person {jane_person.id}", "Phone:")
    await press(tg, boss, card, "Deactivate", "Deactivate Jane")
    confirm = await tg.wait_for_bot_message(
        boss.id, "Deactivate Jane", message_id=card["message_id"]
    )
    await press(tg, boss, confirm, "Yes, deactivate", "is deactivated")
    done = await tg.wait_for_bot_message(boss.id, "is deactivated", message_id=card["message_id"])
    assert "❌ inactive" in done["text"] and "Reactivate" in button_texts(done)
    assert await AuditLog.filter(action="person.deactivated", actor_id=boss_person.id).count() == 1

    await say(tg, jane, "/help", "your manager must add you first")
    await say(tg, jane, "/my", "Sorry, I don't know you yet")
    roster = await say(tg, boss, "/crew", "Crew —")
    assert "Jane" not in roster["text"]

    await press(tg, boss, done, "Reactivate", "is reactivated")
    await say(tg, jane, "/help", "Hello Jane Wanjiku")

    # A manager cannot deactivate or demote themself.
    own = await say(tg, boss, f"/person {boss_person.id}", "Manager · active")
    answer = await press(tg, boss, own, "Deactivate")
    assert answer["show_alert"] and "cannot deactivate yourself" in answer["text"]
    await press(tg, boss, own, "Edit", "What do you want to change")
    picker = await tg.wait_for_bot_message(
        boss.id, "What do you want", message_id=own["message_id"]
    )
    answer = await press(tg, boss, picker, "Make crew")
    assert answer["show_alert"] and "own manager access" in answer["text"]
    assert (await Person.get(id=boss_person.id)).is_manager


async def test_new_link_works_and_the_old_one_does_not(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    added = await say(
        tg, boss, "/addcrew Jane Wanjiku | 0712345678 | jane@example.com | rigger", "Added"
    )
    old = link_token(added["text"])
    await press(tg, boss, added, "Open card", "Phone: +254 712 345 678")
    card = await tg.wait_for_bot_message(boss.id, "Phone:", after=added["message_id"])
    answer = await press(tg, boss, card, "New link", "A new link for")
    assert answer["text"] == "New link made."
    fresh = await tg.wait_for_bot_message(boss.id, "A new link for", after=card["message_id"])
    new = link_token(fresh["text"])
    assert new != old and "emailed it to jane@example.com" in fresh["text"]
    emails = await mail.wait_count("jane@example.com", 2)
    assert f"?start={new}" in text_part(emails[1])

    # The card's Messages button shows what was sent to her, and how.
    await press(tg, boss, card, "Messages", "Messages to Jane Wanjiku")
    sent = await tg.wait_for_bot_message(boss.id, "Messages to Jane Wanjiku")
    assert sent["text"].count("jane@example.com") == 2

    jane = tg.user(5001, "Jane")
    await say(tg, jane, f"/start {old}", "This link has expired")
    await say(tg, jane, f"/start {new}", "Your Telegram is now linked")
    assert (await Person.get(phone="+254712345678")).telegram_id == jane.id
    assert await LinkToken.filter(used_at__isnull=False).count() == 2  # the boss's and Jane's
    assert await AuditLog.filter(action="person.link_issued").count() == 1


async def test_a_manager_demoted_mid_edit_is_stopped(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss_person, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    other, _ = await people.add("Wanjiru Mwangi", "0733000111", manager=True, linked=False)
    jane, _ = await people.add("Jane Wanjiku", "0712345678", linked=False)
    card = await say(tg, boss, f"/person {jane.id}", "Phone:")
    await press(tg, boss, card, "Edit", "What do you want to change")
    picker = await tg.wait_for_bot_message(
        boss.id, "What do you want", message_id=card["message_id"]
    )
    await press(tg, boss, picker, "Name", "Type the new name")
    assert app.services is not None
    await app.services.people.set_access(other, boss_person.id, Access.CREW)
    await say(tg, boss, "Mallory", "Only managers can see or change people.")
    await say(tg, boss, "Mallory again", "Send /help")
    assert (await Person.get(id=jane.id)).name == "Jane Wanjiku"


async def test_deactivating_cancels_open_assignments_and_stops_every_message(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    jane_person, jane = await people.add("Jane Wanjiku", "0712345678", email="jane@example.com")
    _, otieno = await people.add("Otieno Kamau", "0722111222")
    await say(
        tg, boss, "/newevent Harusi | 2026-12-05 18:00 | 23:00 | KICC | call 15:00 | XLR", "#1"
    )
    await say(tg, boss, "/newevent AGM | 2026-12-09 09:00 | 17:00 | Sarit | call 07:00 | -", "#2")
    for user, phone in ((jane, "0712345678"), (otieno, "0722111222")):
        await say(tg, boss, f"/assign 1 | {phone} | rigger", "invited")
        invitation = await tg.wait_for_bot_message(user.id, "Harusi")
        await tg.press(user, invitation["message_id"], "Confirm")
        await tg.wait_for_bot_message(boss.id, f"{user.first_name}")
    await say(tg, boss, "/assign 2 | 0712345678 | sound engineer", "invited")
    await tg.wait_for_bot_message(jane.id, "AGM")
    jobs = ScheduledJob.filter(assignment__person_id=jane_person.id, status=JobStatus.PENDING)
    assert await jobs.count() >= 2  # her reminders for #1 and the nudge for #2

    card = await say(tg, boss, f"/person {jane_person.id}", "Phone:")
    await press(tg, boss, card, "Deactivate", "open assignments are cancelled")
    confirm = await tg.wait_for_bot_message(
        boss.id, "Deactivate Jane", message_id=card["message_id"]
    )
    await press(tg, boss, confirm, "Yes, deactivate", "is deactivated")
    done = await tg.wait_for_bot_message(boss.id, "is deactivated", message_id=card["message_id"])
    assert "Cancelled 2 open assignments" in done["text"]
    assert "Sat 5 Dec, 18:00 · Harusi · rigger (was confirmed)" in done["text"]
    assert "Wed 9 Dec, 09:00 · AGM · sound engineer (was invited)" in done["text"]
    assert await jobs.count() == 0
    assert (
        await Assignment.filter(person_id=jane_person.id, status=AssignmentStatus.CANCELLED).count()
        == 2
    )

    # The briefing goes to Otieno alone and no longer lists her (or her phone).
    heard = len(tg.bot_messages(jane.id))
    await say(tg, boss, "/brief 1 | Gate B", "Briefing sent to 1")
    briefing = await tg.wait_for_bot_message(otieno.id, "Gate B")
    assert "Jane" not in briefing["text"] and "712" not in briefing["text"]
    await say(tg, boss, "/remind 1", "Reminder sent to 1")
    await tg.wait_for_bot_message(otieno.id, "Reminder")
    event_card = await say(tg, boss, "/event 1", "Call time")
    confirmed, _, cancelled = event_card["text"].partition("Cancelled")
    assert "Jane" not in confirmed and "Jane Wanjiku (rigger)" in cancelled
    assert len(tg.bot_messages(jane.id)) == heard
    assert not [m for m in mail.to("jane@example.com") if "Gate B" in text_part(m)]
    await tg.press(boss, event_card["message_id"], "History")
    history = await tg.wait_for_bot_message(boss.id, "History of #1")
    assert (
        "Achieng Otieno · took Jane Wanjiku off the event (person deactivated)" in (history["text"])
    )


async def test_an_old_emailed_link_cannot_take_over_a_linked_manager(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    added = await say(
        tg, boss, "/addmanager Wanjiru Mwangi | 0733000111 | w@example.com | producer", "Added"
    )
    token = link_token(added["text"])
    # Wanjiru links by sharing her contact; the link in her mailbox stays around for 7 days.
    wanjiru = tg.user(5002, "Wanjiru")
    await tg.send_text(wanjiru, "/start")
    await tg.share_contact(wanjiru, "+254733000111")
    await tg.wait_for_bot_message(wanjiru.id, "Your Telegram is now linked")

    mallory = tg.user(6666, "Mallory")
    refused = await say(tg, mallory, f"/start {token}", "❌")
    assert "already linked to another Telegram account" in refused["text"]
    told = await tg.wait_for_bot_message(wanjiru.id, "Someone opened a link for your")
    assert "It was refused" in told["text"]
    await mail.wait_for("w@example.com", "someone tried to link your account")
    await say(tg, mallory, "/crew", "Sorry, I don't know you yet")
    stored = await Person.get(phone="+254733000111")
    assert stored.telegram_id == wanjiru.id and stored.is_manager
    await say(tg, wanjiru, "/crew", "Crew —")


async def test_an_over_long_start_token_gets_the_reason(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    stranger = tg.user(7777, "Stranger")
    for token in ("a" * 65, "a" * 300):
        reply = await say(tg, stranger, f"/start {token}", "❌")
        assert "This link is not valid" in reply["text"]
        assert "Share my phone number" in reply["text"]


async def test_a_form_whose_manager_is_demoted_midway_says_why(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    boss_person, boss = await people.add("Achieng Otieno", "0700000001", manager=True)
    other, _ = await people.add("Wanjiru Mwangi", "0733000111", manager=True, linked=False)
    await people.add("Jane Wanjiku", "0712345678", linked=False)
    await say(tg, boss, "/charge", "Who owes it?")
    await say(tg, boss, "Jane Wanjiku", "How much")
    await say(tg, boss, "1500", "What is it for?")
    assert app.services is not None
    await app.services.people.set_access(other, boss_person.id, Access.CREW)
    reply = await say(tg, boss, "Lost XLR cable", "❌")
    assert "Only managers can add charges." in reply["text"]
    assert "Something went wrong" not in reply["text"]
    assert (await Person.get(phone="+254712345678")).balance == 0
