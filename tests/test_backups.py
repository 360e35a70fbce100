"""End to end through the sandbox: needs per role, and a spot offered to backups when someone
declines or does not answer by the deadline; the first to confirm takes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import Callsheet
from models import (
    Assignment,
    AssignmentStatus,
    AuditAction,
    AuditLog,
    BackupSpot,
    Channel,
    DayOff,
    Event,
    EventNeed,
    EventStatus,
    JobKind,
    JobStatus,
    NotificationKind,
    OutboxMessage,
    Person,
    ScheduledJob,
    SpotStatus,
)
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.assignments import Answer, AnswerRefused, is_free
from services.clock import ManualClock
from services.scheduler import Scheduler
from tests.conftest import START, Mailbox, People, app_settings
from tests.event_setup import fast_sandbox, labels, said

NEEDS_EVENT = (
    "/newevent Harusi ya Wanjiru | 2026-12-05 18:00 | 23:00 | KICC, Nairobi | call 15:00 "
    "| rigger 1, sound engineer 1"
)
DEADLINE = timedelta(hours=24, minutes=1)  # OFFER_RESPONSE_HOURS (24) and a minute


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


async def crew(
    tg: TelegramSandbox, people: People, event: str = NEEDS_EVENT
) -> dict[str, SandboxUser]:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    _, jane = await people.add("Jane Wanjiku", "0712345678", skills="sound engineer, rigger")
    _, wanjiru = await people.add("Wanjiru Muthoni", "0733444555", skills="rigger")
    _, kamau = await people.add("Kamau Njoroge", "0744555666", skills="rigger, lights")
    _, otieno = await people.add("Otieno Kamau", "0722111222", skills="lights")
    await said(tg, boss, event, "Event #1 created")
    return {"boss": boss, "jane": jane, "wanjiru": wanjiru, "kamau": kamau, "otieno": otieno}


async def invite_and_decline(tg: TelegramSandbox, u: dict[str, SandboxUser]) -> None:
    await said(tg, u["boss"], "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(u["jane"].id, "Invitation")
    query = await tg.press(u["jane"], invitation["message_id"], "Decline")
    await tg.wait_for_callback_answer(query)


async def test_needs_per_role_a_decline_is_offered_and_taken(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    u = await crew(tg, people)
    created = next(m for m in tg.bot_messages(u["boss"].id) if "Event #1 created" in m["text"])
    assert "Needs: rigger 1, sound engineer 1." in created["text"]
    event = await Event.get(id=1)
    assert event.crew_target == 2 and event.auto_backups
    needs = await EventNeed.filter(event_id=1).order_by("id").values_list("role", "count")
    assert needs == [("rigger", 1), ("sound engineer", 1)]
    card = await said(tg, u["boss"], "/event 1", "Call time")
    assert "Needs: rigger 0/1 · sound engineer 0/1" in card["text"]
    assert "Auto backups: on" in labels(card)

    await invite_and_decline(tg, u)
    # Nobody has a record yet: the riggers not asked go by name; Jane is on the event.
    offer = await tg.wait_for_bot_message(u["kamau"].id, "A spot is open")
    assert "on Harusi ya Wanjiru, as rigger" in offer["text"]
    assert "please answer by Tue 24 Nov, 10:00" in offer["text"]
    assert labels(offer) == ["✅ Confirm", "❌ Decline"]
    tally = await tg.wait_for_bot_message(
        u["boss"].id,
        "❌ Jane Wanjiku declined → offered to Kamau Njoroge (until Tue 24 Nov, 10:00)",
    )
    assert not tg.bot_messages(u["wanjiru"].id)[1:], "one person at a time"

    query = await tg.press(u["kamau"], offer["message_id"], "Confirm")
    assert "Confirmed" in (await tg.wait_for_callback_answer(query))["text"]
    await tg.wait_for_bot_message(
        u["boss"].id, "✅ Kamau Njoroge took the rigger spot", message_id=tally["message_id"]
    )
    card = await said(tg, u["boss"], "/event 1", "Call time")
    assert "Needs: rigger 1/1 · sound engineer 0/1" in card["text"]
    spot = await BackupSpot.get(event_id=1)
    assert spot.status is SpotStatus.FILLED


async def test_no_answer_by_the_deadline_and_two_confirm_at_once(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    assert app.services is not None
    u = await crew(tg, people)
    await said(tg, u["boss"], "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(u["jane"].id, "Invitation")
    assert await ScheduledJob.filter(kind=JobKind.ANSWER_DEADLINE).count() == 1

    clock.advance(DEADLINE)
    await app.services.scheduler.run_due()
    kamau_offer = await tg.wait_for_bot_message(u["kamau"].id, "A spot is open")
    await tg.wait_for_bot_message(
        u["boss"].id, "⏳ Jane Wanjiku did not answer → offered to Kamau Njoroge (until"
    )
    await app.services.scheduler.run_due()  # done once: nothing more
    assert await Assignment.filter(event_id=1).count() == 2

    clock.advance(DEADLINE)  # Kamau's offer runs out too: Wanjiru is asked as well
    await app.services.scheduler.run_due()
    wanjiru_offer = await tg.wait_for_bot_message(u["wanjiru"].id, "A spot is open")
    await tg.wait_for_bot_message(u["boss"].id, "then Wanjiru Muthoni (until")

    # Kamau and Wanjiru press Confirm at the same moment; Jane could still answer too.
    presses = await asyncio.gather(
        tg.press(u["kamau"], kamau_offer["message_id"], "Confirm"),
        tg.press(u["wanjiru"], wanjiru_offer["message_id"], "Confirm"),
    )
    answers = [(await tg.wait_for_callback_answer(q))["text"] for q in presses]
    assert sum("Confirmed" in a for a in answers) == 1, answers
    assert sum("This spot was filled" in a for a in answers) == 1, answers
    statuses = sorted(a.status.value for a in await Assignment.filter(event_id=1))
    assert statuses == ["cancelled", "cancelled", "confirmed"]  # Jane's, the loser's, winner
    winner = await Assignment.get(event_id=1, status=AssignmentStatus.CONFIRMED).prefetch_related(
        "person"
    )
    await tg.wait_for_bot_message(u["boss"].id, f"✅ {winner.person.name} took the rigger spot")
    await tg.wait_for_bot_message(
        u["jane"].id, "This spot was filled", message_id=invitation["message_id"]
    )
    # Jane's old button now says so.
    late = await tg.press_forged(u["jane"], invitation["message_id"], "asg:yes:1")
    assert "This spot was filled" in (await tg.wait_for_callback_answer(late))["text"]
    assert await Assignment.filter(event_id=1, status=AssignmentStatus.CONFIRMED).count() == 1


async def test_the_invited_one_confirming_late_takes_the_spot_and_closes_the_offer(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    assert app.services is not None
    u = await crew(tg, people)
    await said(tg, u["boss"], "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(u["jane"].id, "Invitation")
    clock.advance(DEADLINE)
    await app.services.scheduler.run_due()
    offer = await tg.wait_for_bot_message(u["kamau"].id, "A spot is open")
    query = await tg.press(u["jane"], invitation["message_id"], "Confirm")
    assert "Confirmed" in (await tg.wait_for_callback_answer(query))["text"]
    await tg.wait_for_bot_message(
        u["kamau"].id, "This spot was filled", message_id=offer["message_id"]
    )
    press = await tg.press_forged(u["kamau"], offer["message_id"], "asg:yes:2")
    assert "This spot was filled" in (await tg.wait_for_callback_answer(press))["text"]
    await tg.wait_for_bot_message(u["boss"].id, "✅ Jane Wanjiku took the rigger spot")


async def test_after_the_event_is_cancelled_nothing_is_offered(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    assert app.services is not None
    u = await crew(tg, people)
    await invite_and_decline(tg, u)
    offer = await tg.wait_for_bot_message(u["kamau"].id, "A spot is open")
    card = await said(tg, u["boss"], "/event 1", "Call time")
    await tg.press(u["boss"], card["message_id"], "Cancel event")
    confirm = await tg.wait_for_bot_message(u["boss"].id, "Everyone invited or confirmed")
    await tg.press(u["boss"], confirm["message_id"], "Yes, cancel it")
    await tg.wait_for_bot_message(u["boss"].id, "Event cancelled")
    query = await tg.press(u["kamau"], offer["message_id"], "Confirm")
    assert "was cancelled" in (await tg.wait_for_callback_answer(query))["text"]
    clock.advance(DEADLINE)
    assert await app.services.scheduler.run_due() == 0
    assert await Assignment.filter(event_id=1).count() == 2  # Jane and Kamau, nobody more
    assert await Assignment.filter(status=AssignmentStatus.CONFIRMED).count() == 0


async def test_auto_backups_off_offers_nothing(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    assert app.services is not None
    u = await crew(tg, people)
    await said(tg, u["boss"], "/assign 1 | 0712345678 | rigger", "invited to")
    card = await said(tg, u["boss"], "/event 1", "Call time")
    await tg.press(u["boss"], card["message_id"], "Auto backups: on")
    edited = await tg.wait_for_bot_message(
        u["boss"].id, "Auto backups: off", message_id=card["message_id"]
    )
    assert "Auto backups: off" in labels(edited)
    assert not (await Event.get(id=1)).auto_backups
    assert (
        await ScheduledJob.filter(kind=JobKind.ANSWER_DEADLINE, status=JobStatus.PENDING).count()
        == 0
    )
    clock.advance(DEADLINE)
    await app.services.scheduler.run_due()
    invitation = await tg.wait_for_bot_message(u["jane"].id, "Invitation")
    query = await tg.press(u["jane"], invitation["message_id"], "Decline")
    await tg.wait_for_callback_answer(query)
    await tg.wait_for_bot_message(u["boss"].id, "❌ Jane Wanjiku declined")
    assert await Assignment.filter(event_id=1).count() == 1
    assert await BackupSpot.all().count() == 0


async def test_crew_4_means_any_role_and_a_full_event_offers_nothing(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    u = await crew(
        tg,
        people,
        "/newevent Harusi | 2026-12-05 18:00 | 23:00 | KICC | call 15:00 | crew 1",
    )
    assert await EventNeed.all().count() == 0
    await invite_and_decline(tg, u)
    await tg.wait_for_bot_message(u["kamau"].id, "A spot is open")
    await tg.wait_for_bot_message(u["boss"].id, "offered to Kamau Njoroge")
    # Kamau declines too: Wanjiru is next; Otieno (lights) never is.
    offer = tg.last_bot_message(u["kamau"].id)
    assert offer is not None
    query = await tg.press(u["kamau"], offer["message_id"], "Decline")
    await tg.wait_for_callback_answer(query)
    await tg.wait_for_bot_message(u["wanjiru"].id, "A spot is open")
    await tg.wait_for_bot_message(
        u["boss"].id, "offered to Kamau Njoroge (declined), then Wanjiru Muthoni (until"
    )
    assert len(tg.bot_messages(u["otieno"].id)) == 1  # only "linked"

    # The event is full: a decline elsewhere leaves nothing to fill.
    await said(tg, u["boss"], "/editevent 1 | crew | sound engineer 1", "sound engineer 1")
    card = await said(tg, u["boss"], "/event 1", "Call time")
    assert "Needs: sound engineer 0/1" in card["text"]


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("crew 4, rigger 2", "either a number of crew (any role) or roles with numbers"),
        ("rigger 3, rigger 1", "rigger is given twice"),
        ("rigger 0", "rigger 0 is out of range: type 1 to 500"),
        ("rigger three, mc 1", "“rigger three” is not a crew need"),
    ],
)
async def test_needs_refused_with_the_reason_and_nothing_saved(
    app: Callsheet, tg: TelegramSandbox, people: People, typed: str, error: str
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    reply = await said(
        tg,
        boss,
        f"/newevent Harusi | 2026-12-05 18:00 | 23:00 | KICC | call 15:00 | notes | {typed}",
        "",
    )
    assert error in reply["text"], reply["text"]
    assert await Event.all().count() == 0 and await EventNeed.all().count() == 0


async def test_the_most_reliable_free_person_is_offered_first(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    assert app.services is not None
    u = await crew(tg, people)  # Jane, Wanjiru, Kamau: riggers
    mwangi, _ = await people.add("Mwangi Baraka", "0755666777", skills="rigger", linked=False)
    busy, _ = await people.add("Akinyi Odhiambo", "0766777888", skills="rigger", linked=False)
    gone, _ = await people.add("Abdi Hassan", "0777888999", skills="rigger", linked=False)
    await Person.filter(id=gone.id).update(active=False)
    boss = await Person.get(name="Achieng Otieno")
    wanjiru = await Person.get(name="Wanjiru Muthoni")
    kamau = await Person.get(name="Kamau Njoroge")
    event = await Event.get(id=1)

    async def worked(person: Person, status: AssignmentStatus, days_ago: int) -> Assignment:
        at = START - timedelta(days=days_ago)
        past = await Event.create(
            title=f"Past {days_ago}",
            venue="Ngong Racecourse",
            starts_at=at,
            ends_at=at + timedelta(hours=5),
            call_at=at - timedelta(hours=2),
            status=EventStatus.COMPLETED,
            manager=boss,
            created_at=at - timedelta(days=7),
            updated_at=at,
        )
        return await Assignment.create(
            event=past,
            person=person,
            role="rigger",
            status=status,
            invited_at=at - timedelta(days=6),
            responded_at=at - timedelta(days=5),
            updated_at=at,
        )

    await worked(wanjiru, AssignmentStatus.COMPLETED, 20)
    await worked(wanjiru, AssignmentStatus.COMPLETED, 10)
    await worked(kamau, AssignmentStatus.COMPLETED, 20)
    await worked(kamau, AssignmentStatus.DECLINED, 10)
    dropped = await worked(mwangi, AssignmentStatus.DECLINED, 10)
    dropped_event = await Event.get(id=dropped.event_id)  # type: ignore[attr-defined]
    await AuditLog.create(  # confirmed, then declined 10 hours before the call: late
        at=dropped_event.call_at - timedelta(hours=10),
        actor=mwangi,
        actor_label=mwangi.name,
        action=AuditAction.ASSIGNMENT_DECLINED,
        subject_type="assignment",
        subject_id=dropped.id,
        details={"from": "confirmed"},
    )
    # Akinyi is confirmed on an overlapping event: not free.
    other = await Event.create(
        title="Other wedding",
        venue="Karen",
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        call_at=event.call_at,
        manager=boss,
        created_at=START,
        updated_at=START,
    )
    await Assignment.create(
        event=other,
        person=busy,
        role="rigger",
        status=AssignmentStatus.CONFIRMED,
        invited_at=START,
        updated_at=START,
    )

    # Otieno marked the event's day off: not offered either.
    away, _ = await people.add("Otieno Kamau", "0788999000", skills="rigger", linked=False)
    day = event.starts_at.astimezone(app.settings.tz).date()
    await DayOff.create(person=away, first_day=day, last_day=day, reason="family", created_at=START)

    order = await app.services.assignments.candidates_for(event, "rigger")
    assert [p.name for p in order] == [
        "Wanjiru Muthoni",  # 2 of 2 worked
        "Kamau Njoroge",  # 1 of 2
        "Jane Wanjiku",  # no record yet
        "Mwangi Baraka",  # dropped out late
    ]
    assert not await is_free(busy, event) and await is_free(mwangi, event)

    await said(tg, u["boss"], "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(u["jane"].id, "Invitation")
    await tg.press(u["jane"], invitation["message_id"], "Decline")
    await tg.wait_for_bot_message(u["wanjiru"].id, "A spot is open")
    await tg.wait_for_bot_message(u["boss"].id, "offered to Wanjiru Muthoni")


async def test_three_confirming_at_once_in_the_service_one_takes_the_spot(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    """Straight into the service, each on its own connection (PostgreSQL: truly at once)."""
    assert app.services is not None
    u = await crew(tg, people)
    await said(tg, u["boss"], "/assign 1 | 0712345678 | rigger", "invited to")
    for _ in range(2):  # Jane does not answer, nor Kamau: Wanjiru is asked as well
        clock.advance(DEADLINE)
        await app.services.scheduler.run_due()
    invited = await Assignment.filter(event_id=1, status=AssignmentStatus.INVITED).prefetch_related(
        "person"
    )
    assert len(invited) == 3
    results = await asyncio.gather(
        *(
            app.services.assignments.respond(a.id, Answer.CONFIRM, person=a.person, chat_id=None)
            for a in invited
        ),
        return_exceptions=True,
    )
    won = [r for r in results if not isinstance(r, BaseException)]
    lost = [r for r in results if isinstance(r, AnswerRefused)]
    assert len(won) == 1 and len(lost) == 2, results
    assert all("This spot was filled" in str(e) for e in lost)
    assert await Assignment.filter(event_id=1, status=AssignmentStatus.CONFIRMED).count() == 1
    assert await Assignment.filter(event_id=1, status=AssignmentStatus.CANCELLED).count() == 2
    spot = await BackupSpot.get(event_id=1)
    assert spot.status is SpotStatus.FILLED and spot.filled_by_id == won[0].assignment.id  # type: ignore[attr-defined]
    assert await app.services.ledger.audit() == []  # `callsheet audit` stays clean


async def test_a_deadline_across_a_restart_and_two_instances_offers_once(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
) -> None:
    u = await crew(tg, people)
    await said(tg, u["boss"], "/assign 1 | 0712345678 | rigger", "invited to")
    await app.stop()  # down when the deadline passes
    clock.advance(DEADLINE)
    again = Callsheet(app_settings(tg, database_url, smtp_server[1]), clock=clock)
    await again.start()
    try:
        services = again.services
        assert services is not None

        def instance() -> Scheduler:  # another process's scheduler on the same database
            other = Scheduler(
                services.notifier,
                services.outbox,
                clock,
                reminder_offsets=(),
                nudge_after=timedelta(hours=12),
                alert_window=timedelta(hours=48),
                answer_within=timedelta(hours=24),
            )
            other.deadlines = services.assignments
            return other

        await asyncio.gather(services.scheduler.run_due(), instance().run_due())
        await tg.wait_for_bot_message(u["kamau"].id, "A spot is open")
        assert await Assignment.filter(event_id=1).count() == 2
        assert await BackupSpot.all().count() == 1
        offers = OutboxMessage.filter(kind=NotificationKind.BACKUP_OFFER, channel=Channel.TELEGRAM)
        assert await offers.count() == 1
        assert await instance().run_due() == 0
    finally:
        await again.stop()
        await app.start()  # the fixture stops it again


async def test_a_deactivated_persons_spot_goes_to_a_backup(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    assert app.services is not None
    u = await crew(tg, people)
    await said(tg, u["boss"], "/assign 1 | 0712345678 | rigger", "invited to")
    invitation = await tg.wait_for_bot_message(u["jane"].id, "Invitation")
    query = await tg.press(u["jane"], invitation["message_id"], "Confirm")
    await tg.wait_for_callback_answer(query)
    boss = await Person.get(phone="+254700000001")
    jane = await Person.get(phone="+254712345678")
    # Another manager deactivates Jane: the event's manager is told, and the spot is offered.
    baraka, _ = await people.add("Baraka Mwangi", "0755 000 002", manager=True)
    done = await app.services.people.deactivate(baraka, jane.id)
    assert [(line.role, line.status) for line in done.cancelled] == [
        ("rigger", AssignmentStatus.CONFIRMED)
    ]
    offer = await tg.wait_for_bot_message(u["kamau"].id, "A spot is open")
    assert "on Harusi ya Wanjiru, as rigger" in offer["text"]
    spot = await BackupSpot.get(event_id=1)
    assert spot.status is SpotStatus.OPEN
    await tg.wait_for_bot_message(
        u["boss"].id, "❌ Jane Wanjiku was taken off (deactivated) → offered to Kamau Njoroge"
    )
    query = await tg.press(u["kamau"], offer["message_id"], "Confirm")
    assert "Confirmed" in (await tg.wait_for_callback_answer(query))["text"]
    assert (await BackupSpot.get(event_id=1)).status is SpotStatus.FILLED
    # Deactivating someone already gone offers nothing more.
    assert (await app.services.people.deactivate(boss, jane.id)).cancelled == []
    assert await Assignment.filter(event_id=1).count() == 2
