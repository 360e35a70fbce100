# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""The event card's Request payment: pick confirmed crew, one amount and purpose, one push
each in the background, one live summary for the manager. Through both sandboxes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from bot.app import Callsheet
from models import (
    Assignment,
    AssignmentStatus,
    Event,
    LedgerEntry,
    Payment,
    PaymentBatch,
    PaymentBatchMember,
    PaymentStatus,
    Person,
)
from models.stamps import stamp
from sandbox.daraja import DarajaSandbox, Outcome
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.batches import BatchService, details
from services.clock import ManualClock
from tests.conftest import BOT_TOKEN, BOT_USERNAME, START, Mailbox, People
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    app,
    ask,
    daraja,
    run_audit,
    start_app,
)

NEW_EVENT = "/newevent Harusi ya Wanjiru | 2026-12-05 18:00 | 23:00 | KICC, Nairobi | call 15:00"


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    """A summary edited for every state change of every payment: a manager's chat gets far
    more edits than a person types, so allow a larger burst than the payments module."""
    sandbox = TelegramSandbox(chat_burst=400)
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


def labels(message: dict[str, Any]) -> list[str]:
    markup = message.get("reply_markup") or {"inline_keyboard": []}
    return [b["text"] for row in markup["inline_keyboard"] for b in row]


async def with_button(
    tg: TelegramSandbox, user: SandboxUser, message_id: int, label: str
) -> dict[str, Any]:
    """The message once it carries a button labelled `label` (edits are awaited)."""

    def found() -> dict[str, Any] | None:
        for message in tg.bot_messages(user.id):
            if message["message_id"] == message_id and label in labels(message):
                return message
        return None

    return await tg.wait_for(found, description=f"button {label!r} on message {message_id}")


async def new_event(tg: TelegramSandbox, boss: SandboxUser) -> Event:
    await ask(tg, boss, NEW_EVENT, "Event #1 created")
    return await Event.get(id=1)


async def assign(
    event: Event, person: Person, status: AssignmentStatus, role: str = "crew"
) -> None:
    await Assignment.create(
        **stamp(Assignment, START), event=event, person=person, role=role, status=status
    )


async def open_picker(tg: TelegramSandbox, boss: SandboxUser) -> dict[str, Any]:
    card = await ask(tg, boss, "/event 1", "Harusi ya Wanjiru")
    assert "Request payment" in labels(card)
    await tg.press(boss, card["message_id"], "Request payment")
    return await tg.wait_for_bot_message(boss.id, "Who should pay?", after=card["message_id"])


async def asked_to_send(
    app: Callsheet, tg: TelegramSandbox, count: int
) -> tuple[SandboxUser, dict[str, Any]]:
    """A manager, an event whose `count` confirmed crew (Crew Member n, 07n0 000 00n, not
    linked) are all picked for KES 800, and the "Send?" question the manager now sees."""
    people = People(app, tg)
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    event = await new_event(tg, boss)
    for n in range(1, count + 1):
        person, _ = await people.add(f"Crew Member {n}", f"07{n}0 000 00{n}", linked=False)
        await assign(event, person, AssignmentStatus.CONFIRMED)
    picker = await open_picker(tg, boss)
    await tg.press(boss, picker["message_id"], f"Done ({count})")
    await tg.wait_for_bot_message(boss.id, "How much should each person pay")
    question = await ask(tg, boss, "800 | Setup fee", f"Ask {count} people")
    return boss, question


@pytest.fixture
async def team(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> tuple[SandboxUser, dict[str, tuple[Person, SandboxUser]], Event]:
    """A manager, an event, four confirmed crew (one deactivated), one invited, one declined."""
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    crew = {
        "jane": await people.add("Jane Wanjiku", "0712 345 678", email="jane@example.com"),
        "otieno": await people.add("Otieno Kamau", "0722 111 222"),
        "brian": await people.add("Brian Mwangi", "0733 444 555", linked=False),
        "wanjiru": await people.add("Wanjiru Achieng", "0711 000 111"),
        "musa": await people.add("Musa Said", "0744 555 666"),
        "invited": await people.add("Ivy Invited", "0755 666 777"),
        "declined": await people.add("Dan Declined", "0766 777 888"),
    }
    event = await new_event(tg, boss)
    for key in ("jane", "otieno", "brian", "wanjiru", "musa"):
        await assign(event, crew[key][0], AssignmentStatus.CONFIRMED, "sound")
    await assign(event, crew["invited"][0], AssignmentStatus.INVITED)
    await assign(event, crew["declined"][0], AssignmentStatus.DECLINED)
    await Person.filter(id=crew["musa"][0].id).update(active=False)
    return boss, crew, event


async def test_request_payment_for_the_confirmed_crew_with_a_live_summary(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    database_url: str,
    team: tuple[SandboxUser, dict[str, tuple[Person, SandboxUser]], Event],
) -> None:
    boss, crew, _ = team
    picker = await open_picker(tg, boss)
    # Only confirmed crew are offered, all ticked; the deactivated one says why not.
    assert labels(picker) == [
        "✅ Brian Mwangi",
        "✅ Jane Wanjiku",
        "✅ Otieno Kamau",
        "✅ Wanjiru Achieng",
        "Done (4)",
        "Cancel",
    ]
    assert "❌ Musa Said · deactivated" in picker["text"]
    assert "Ivy" not in picker["text"] and "Dan" not in picker["text"]
    await tg.press(boss, picker["message_id"], "Wanjiru Achieng")
    picker = await with_button(tg, boss, picker["message_id"], "Done (3)")
    assert "Wanjiru Achieng · left out" in labels(picker)
    await tg.press(boss, picker["message_id"], "Done (3)")
    await tg.wait_for_bot_message(boss.id, "How much should each person pay")

    # Bad input is refused with the reason and asked again; nothing is saved or sent.
    await ask(tg, boss, "lots | Setup fee", "is not an amount")
    await ask(tg, boss, "1500 | !!!", "must contain letters or digits")
    await ask(tg, boss, "0", "is not a positive amount")
    await ask(tg, boss, "1,500", "What is it for?")
    question = await ask(tg, boss, "Setup fee", "Ask 3 people for KES 1,500 each (Setup fee)?")
    assert labels(question) == ["Send", "Cancel"]
    assert await PaymentBatch.all().count() == 0 and await Payment.all().count() == 0
    assert daraja.pushes == []

    daraja.next_outcome("254722111222", Outcome.CANCELLED)  # Otieno dismisses the prompt
    daraja.next_outcome("254733444555", Outcome.NO_CALLBACK)  # Brian pays; no callback comes
    await tg.press(boss, question["message_id"], "Send")
    # The question becomes the summary, updated in place as each payment moves.
    summary = await tg.wait_for_bot_message(
        boss.id, "1 paid · 1 waiting · 1 cancelled", message_id=question["message_id"]
    )
    assert "Payment request · #1 Harusi ya Wanjiru" in summary["text"]
    assert "KES 1,500 each · Setup fee · 3 people" in summary["text"]
    assert "⏳ Brian Mwangi · waiting for PIN" in summary["text"]
    assert "❌ Otieno Kamau · cancelled by the payer" in summary["text"]
    assert labels(summary) == ["Resend failed ones (1)"]
    # The payer gets their own live message; the manager a per-payment one only for the
    # failure (with Resend and Check status), none for the payments that went through.
    await tg.wait_for_bot_message(crew["jane"][1].id, "✅ Paid KES 1,500")
    failed = await tg.wait_for_bot_message(
        boss.id, "❌ Otieno Kamau did not pay KES 1,500: cancelled by the payer"
    )
    assert labels(failed) == ["Resend", "Check status"]
    assert not [m for m in tg.bot_messages(boss.id) if "Jane Wanjiku paid" in m["text"]]

    # Brian's callback never comes: reconciliation asks Daraja, and the summary follows.
    brian = await Payment.get(person_id=crew["brian"][0].id)
    assert brian.checkout_request_id is not None and brian.batch_id is not None  # type: ignore[attr-defined]
    await daraja.wait_for_result(brian.checkout_request_id)
    assert app.reconciler is not None
    clock.advance(timedelta(minutes=3))
    assert await app.reconciler.run_due() == 1
    summary = await tg.wait_for_bot_message(
        boss.id, "2 paid · 1 cancelled", message_id=question["message_id"]
    )
    assert "✅ Brian Mwangi · receipt not yet known" in summary["text"]
    assert "✅ Jane Wanjiku · receipt QJK" in summary["text"]
    assert "Collected KES 3,000 of KES 4,500." in summary["text"]

    # Resend failed ones: Otieno gets one new prompt, and pays this time.
    pushes = len(daraja.pushes)
    query_id = await tg.press(boss, question["message_id"], "Resend failed ones (1)")
    assert (await tg.wait_for_callback_answer(query_id))["text"] == "Sending again to 1 person"
    summary = await tg.wait_for_bot_message(boss.id, "3 paid", message_id=question["message_id"])
    assert "Collected KES 4,500 of KES 4,500." in summary["text"]
    assert labels(summary) == []
    assert len(daraja.pushes) == pushes + 1
    resent = await Payment.filter(person_id=crew["otieno"][0].id).order_by("id")
    assert [p.status for p in resent] == [PaymentStatus.CANCELLED, PaymentStatus.COMPLETED]
    assert resent[1].resend_of_id == resent[0].id  # type: ignore[attr-defined]
    # A second (stale) press finds nothing left to resend.
    query_id = await tg.press_forged(boss, question["message_id"], "pay:bresend:1")
    answer = await tg.wait_for_callback_answer(query_id)
    assert answer["text"] == "Nothing to resend: no one's last prompt failed."

    card = await ask(tg, boss, "/event 1", "Harusi ya Wanjiru")
    await tg.press(boss, card["message_id"], "History")
    history = await tg.wait_for_bot_message(boss.id, "History of #1", after=card["message_id"])
    assert "asked 3 crew for KES 1,500 each (Setup fee)" in history["text"]
    assert "sent the payment request again to 1 crew" in history["text"]

    # The ledger: three payments credited once each, and the fee charged with the request
    # (nobody owed it before), so nobody shows credit.
    assert await LedgerEntry.filter(payment_id__isnull=False).count() == 3
    for key in ("jane", "otieno", "brian"):
        person_id = crew[key][0].id
        entries = await LedgerEntry.filter(person_id=person_id).order_by("id")
        assert [e.amount for e in entries] == [-1500, 1500]
        assert (await Person.get(id=person_id)).balance == 0
    assert (await Person.get(id=crew["wanjiru"][0].id)).balance == 0
    # Brian's receipt never came: the manager finds it on the statement and says so.
    await ask(
        tg,
        boss,
        f"/resolve {brian.id} | QJK4BRIAN1 on the statement",
        f"Payment #{brian.id} resolved",
    )
    audit = await asyncio.to_thread(run_audit, database_url)
    assert audit.returncode == 0, audit.stdout + audit.stderr


async def test_cancel_and_a_second_send_change_nothing(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    team: tuple[SandboxUser, dict[str, tuple[Person, SandboxUser]], Event],
) -> None:
    boss, _, _ = team
    picker = await open_picker(tg, boss)
    query_id = await tg.press(boss, picker["message_id"], "Cancel")
    await tg.wait_for_callback_answer(query_id)
    await tg.wait_for_bot_message(
        boss.id, "Cancelled. Nothing was sent.", message_id=picker["message_id"]
    )
    picker = await open_picker(tg, boss)
    await tg.press(boss, picker["message_id"], "Done (4)")
    await tg.wait_for_bot_message(boss.id, "How much should each person pay")
    question = await ask(tg, boss, "500 | Transport", "Ask 4 people for KES 500 each")
    query_id = await tg.press(boss, question["message_id"], "Cancel")
    await tg.wait_for_callback_answer(query_id)
    await tg.wait_for_bot_message(boss.id, "Cancelled", message_id=question["message_id"])
    assert await PaymentBatch.all().count() == 0 and daraja.pushes == []
    # A press on the old picker after the conversation ended is refused, not acted on.
    query_id = await tg.press_forged(boss, picker["message_id"], "pay:bsend:0")
    answer = await tg.wait_for_callback_answer(query_id)
    assert answer["text"] == "That button is no longer valid."
    assert await PaymentBatch.all().count() == 0 and daraja.pushes == []


async def test_crew_cannot_start_a_request_or_resend(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    team: tuple[SandboxUser, dict[str, tuple[Person, SandboxUser]], Event],
) -> None:
    _, crew, _ = team
    jane = crew["jane"][1]
    last = tg.last_bot_message(jane.id)
    assert last is not None
    answers = []
    for data in ("pay:event:1", "pay:tog:2", "pay:done:0", "pay:bsend:0", "pay:bresend:1"):
        query_id = await tg.press_forged(jane, last["message_id"], data)
        answers.append((await tg.wait_for_callback_answer(query_id))["text"])
    assert answers[0] == "❌ Only managers can ask for payments."
    assert answers[4] == "❌ Only managers can ask for payments."
    assert all(answers), answers
    assert await PaymentBatch.all().count() == 0 and daraja.pushes == []
    assert tg.last_bot_message(jane.id) == last


async def test_someone_asked_moments_ago_is_skipped_not_prompted_twice(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    team: tuple[SandboxUser, dict[str, tuple[Person, SandboxUser]], Event],
) -> None:
    boss, _, _ = team
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    picker = await open_picker(tg, boss)
    await tg.press(boss, picker["message_id"], "Done (4)")
    await tg.wait_for_bot_message(boss.id, "How much should each person pay")
    question = await ask(tg, boss, "1500 | Setup fee", "Ask 4 people")
    assert (
        "Jane Wanjiku was asked for KES 1,500 moments ago and will be skipped."
        in (question["text"])
    )
    await tg.press(boss, question["message_id"], "Send")
    summary = await tg.wait_for_bot_message(
        boss.id, "3 paid · 1 skipped", message_id=question["message_id"]
    )
    assert "❌ Jane Wanjiku · skipped: asked for KES 1,500 moments ago (#1)" in summary["text"]
    assert "Collected KES 4,500 of KES 4,500." in summary["text"]
    jane_pushes = [p for p in daraja.pushes if p.body["PhoneNumber"] == "254712345678"]
    assert len(jane_pushes) == 1 and len(daraja.pushes) == 4


async def test_people_skipped_as_asked_moments_ago_can_be_sent_anyway(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    team: tuple[SandboxUser, dict[str, tuple[Person, SandboxUser]], Event],
) -> None:
    boss, _, _ = team
    daraja.default_outcome = Outcome.HOLD  # the first prompts are still on their phones
    picker = await open_picker(tg, boss)
    await tg.press(boss, picker["message_id"], "Done (4)")
    await tg.wait_for_bot_message(boss.id, "How much", message_id=picker["message_id"])
    first = await ask(tg, boss, "1500 | Setup fee", "Ask 4 people")
    await tg.press(boss, first["message_id"], "Send")
    await tg.wait_for_bot_message(boss.id, "4 waiting", message_id=first["message_id"])
    picker = await open_picker(tg, boss)
    await tg.press(boss, picker["message_id"], "Done (4)")
    await tg.wait_for_bot_message(boss.id, "How much", message_id=picker["message_id"])
    question = await ask(tg, boss, "1500 | Setup fee", "Ask 4 people")
    await tg.press(boss, question["message_id"], "Send")
    summary = await tg.wait_for_bot_message(boss.id, "4 skipped", message_id=question["message_id"])
    assert "Nobody was asked. Send anyway asks those asked moments ago." in summary["text"]
    assert "Collected KES 0 of KES 0" not in summary["text"]
    assert len(daraja.pushes) == 4
    # They dismiss the first prompts; the manager sends the second request anyway.
    for push in daraja.pushes:
        assert push.checkout_id is not None
        await daraja.release(push.checkout_id, Outcome.CANCELLED)
    await tg.wait_for_bot_message(boss.id, "4 cancelled", message_id=first["message_id"])
    daraja.default_outcome = Outcome.SUCCESS
    query_id = await tg.press(boss, question["message_id"], "Send anyway (4)")
    answer = await tg.wait_for_callback_answer(query_id)
    assert answer["text"] == "Asking 4 people anyway"
    paid = await tg.wait_for_bot_message(boss.id, "4 paid", message_id=question["message_id"])
    assert "Collected KES 6,000 of KES 6,000." in paid["text"]
    assert "Send anyway" not in str(paid.get("reply_markup"))
    assert len(daraja.pushes) == 8


async def test_a_restart_mid_batch_pushes_the_rest_once_and_nobody_twice(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> None:
    first = await start_app(tg, database_url, smtp_server[1], clock, daraja)
    boss, question = await asked_to_send(first, tg, 5)
    # The third prompt reaches the phone, but Daraja's answer never reaches this process.
    daraja.hold_answers_after = 2
    daraja.next_outcome("254730000003", Outcome.HOLD)
    await tg.press(boss, question["message_id"], "Send")
    await daraja.wait_for_pushes(3)
    await first.stop(grace=0.5)  # dies mid-push: member 3 initiated, 4 and 5 still queued

    daraja.hold_answers_after = None
    second = await start_app(tg, database_url, smtp_server[1], clock, daraja)
    try:
        await daraja.wait_for_pushes(5)
        await tg.wait_for(
            lambda: all(
                f"✅ Crew Member {n} · receipt" in (tg.last_bot_message(boss.id) or {})["text"]
                for n in (4, 5)
            ),
            description="members 4 and 5 paid on the summary",
        )
        # The interrupted one is never pushed again: after the query delay it is unknown,
        # and the summary says to ask before resending.
        assert second.reconciler is not None
        clock.advance(timedelta(minutes=3))
        await second.reconciler.run_due()
        summary = await tg.wait_for_bot_message(
            boss.id, "4 paid · 1 not known", message_id=question["message_id"]
        )
        assert "⏳ Crew Member 3 · the request was interrupted" in summary["text"]
        pushed = [p.body["PhoneNumber"] for p in daraja.pushes if p.checkout_id]
        assert sorted(pushed) == [f"2547{n}000000{n}" for n in range(1, 6)]  # once each
        statuses = [m.status.value for m in await PaymentBatchMember.all().order_by("id")]
        assert statuses == ["asked"] * 5
        assert second.services is not None
        assert await second.services.ledger.audit() == []
    finally:
        await second.stop()


async def test_crew_still_waiting_are_not_asked_once_the_event_is_cancelled(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> None:
    first = await start_app(tg, database_url, smtp_server[1], clock, daraja)
    boss, question = await asked_to_send(first, tg, 3)
    # Member 1 dismisses the prompt; member 2's push hangs, so member 3 is still waiting.
    daraja.next_outcome("254710000001", Outcome.CANCELLED)
    daraja.hold_answers_after = 1
    await tg.press(boss, question["message_id"], "Send")
    await daraja.wait_for_pushes(2)
    # Meanwhile the manager cancels the event from its card.
    card = await ask(tg, boss, "/event 1", "Harusi ya Wanjiru")
    await tg.press(boss, card["message_id"], "Cancel event")
    sure = await tg.wait_for_bot_message(boss.id, "Cancel event #1?", after=card["message_id"])
    await tg.press(boss, sure["message_id"], "Yes, cancel it")
    await tg.wait_for_bot_message(boss.id, "Event cancelled", message_id=sure["message_id"])
    await first.stop(grace=0.5)

    daraja.hold_answers_after = None
    second = await start_app(tg, database_url, smtp_server[1], clock, daraja)
    try:
        summary = await tg.wait_for_bot_message(
            boss.id,
            "Crew Member 3 · not sent: the event was cancelled",
            message_id=question["message_id"],
        )
        assert "❌ Crew Member 1 · cancelled by the payer" in summary["text"]
        # Nor does "Resend failed ones" ask anyone again.
        query_id = await tg.press(boss, question["message_id"], "Resend failed ones (1)")
        answer = await tg.wait_for_callback_answer(query_id)
        assert answer["text"] == "❌ Event #1 was cancelled; nobody was asked again."
        pushed = [p.body["PhoneNumber"] for p in daraja.pushes]
        assert sorted(pushed) == ["254710000001", "254720000002"]
        assert await Payment.filter(batch_id__isnull=False).count() == 2
    finally:
        await second.stop()


async def test_two_senders_on_one_database_push_each_person_once(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    people: People,
) -> None:
    boss, boss_user = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    event = await Event.create(
        **stamp(Event, START),
        title="Gala",
        venue="KICC",
        starts_at=clock.now() + timedelta(days=3),
        ends_at=clock.now() + timedelta(days=3, hours=4),
        call_at=clock.now() + timedelta(days=3),
        manager=boss,
    )
    crew = [
        Person(**stamp(Person, START), name=f"Stagehand {n:02d}", phone=f"+25471000{n:04d}")
        for n in range(1, 13)
    ]
    await Person.bulk_create(crew)
    for person in await Person.filter(name__startswith="Stagehand"):
        await assign(event, person, AssignmentStatus.CONFIRMED)
    assert app.services is not None and app.services.batches is not None
    service = app.services.batches
    _, candidates = await service.crew(boss, event.id)
    draft = await service.prepare(
        boss, event.id, [c.person.id for c in candidates], details(300, "Transport")
    )
    assert app.services.payments is not None
    other = BatchService(app.services.payments, app.services.outbox, clock)
    await service.start(boss, draft)
    # The app's own sender and two more race for the same queue.
    await asyncio.gather(service.send_due(), other.send_due(), other.send_due())
    await tg.wait_for_bot_message(boss_user.id, "12 paid", timeout=15)
    phones = [p.body["PhoneNumber"] for p in daraja.pushes if p.checkout_id]
    assert len(phones) == 12 and len(set(phones)) == 12
    assert await Payment.all().count() == 12


async def test_the_summary_of_a_large_crew_fits_one_message(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    people: People,
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    event = await new_event(tg, boss)
    long = "Wanjiku-Kamau Achieng-Otieno Mwangi-Njoroge Kipchoge-Cheruiyot Odhiambo-Owino"
    crew = [
        Person(**stamp(Person, START), name=f"{long} {n:02d}", phone=f"+25471100{n:04d}")
        for n in range(60)
    ]
    await Person.bulk_create(crew)
    for person in await Person.filter(name__startswith=long):
        await assign(event, person, AssignmentStatus.CONFIRMED)
    for n in range(0, 60, 6):  # every sixth dismisses the prompt
        daraja.next_outcome(f"25471100{n:04d}", Outcome.CANCELLED)
    picker = await open_picker(tg, boss)
    assert len(labels(picker)) == 62
    await tg.press(boss, picker["message_id"], "Done (60)")
    await tg.wait_for_bot_message(boss.id, "How much should each person pay")
    question = await ask(tg, boss, "250 | Lunch", "Ask 60 people for KES 250 each")
    await tg.press(boss, question["message_id"], "Send")
    summary = await tg.wait_for_bot_message(
        boss.id, "50 paid · 10 cancelled", message_id=question["message_id"], timeout=30
    )
    text = summary["text"]
    assert len(text) <= 4096
    assert "KES 250 each · Lunch · 60 people" in text
    # Problems come first; what does not fit is counted, not dropped silently.
    assert text.index("cancelled by the payer") < text.index("✅")
    assert "more (" in text and "/payments lists everyone." in text
    assert labels(summary) == ["Resend failed ones (10)"]
