"""Benchmark 5, the event commands: `/my` and `/events` on the issue's whole dataset.

10,000 people, 1,000 events, 50,000 assignments and 100,000 payments with their ledger are
written straight into a fresh database; `callsheet run` starts in a child process. The
events run from a year ago to a year ahead, one every 0.73 days: those before now are
completed, the rest scheduled (about 500 upcoming). One linked crew member is on every one
of the 1,000 events (past ones completed; upcoming ones confirmed, invited or declined in
turn); each event has 49 more crew drawn from the other people. Measured: the time from the
`/my` update (that crew member) and the `/events` update (the manager) to the bot's first
reply in the Telegram stand-in (limits lifted, so that repeats are not throttled), and
whether Telegram accepted it. Run: `python -m bench.size_events --db sqlite`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime, timedelta

from bench._common import (
    CREW_TG,
    DARAJA_KEY,
    DARAJA_SECRET,
    MANAGER_TG,
    AppProcess,
    database,
    environment,
    opened,
    print_table,
    seed_history,
    seed_people,
    telegram_sandbox,
    time_commands,
)
from models import Assignment, AssignmentStatus, Event, EventStatus, Payment, Person
from models.stamps import stamp
from sandbox.daraja import DarajaSandbox

PER_EVENT = 50


async def seed_events(manager: Person, crew: list[Person], events: int) -> tuple[int, int]:
    """`events` events and `PER_EVENT` assignments each, crew[0] on all of them. Returns
    (upcoming events, assignments made)."""
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(days=365)
    step = timedelta(days=730) / events
    rows = []
    for i in range(events):
        call = first + step * i
        rows.append(
            Event(
                **stamp(Event, datetime.now(UTC)),
                title=f"Event {i:04d} at the {['Arena', 'Gardens', 'Hall', 'Grounds'][i % 4]}",
                venue=["KICC", "Uhuru Gardens", "Carnivore", "Ngong Racecourse"][i % 4],
                call_at=call,
                starts_at=call + timedelta(hours=2),
                ends_at=call + timedelta(hours=10),
                crew_target=40 + i % 20,
                status=EventStatus.COMPLETED
                if call + timedelta(hours=10) < now
                else (EventStatus.SCHEDULED),
                manager_id=manager.id,
            )
        )
    await Event.bulk_create(rows, batch_size=1000)
    saved = list(await Event.all().order_by("id"))
    upcoming = sum(1 for e in saved if e.status is EventStatus.SCHEDULED)
    answers = [AssignmentStatus.CONFIRMED, AssignmentStatus.INVITED, AssignmentStatus.DECLINED]
    others = crew[1:]
    batch: list[Assignment] = []
    made = 0
    for i, event in enumerate(saved):
        people = [crew[0]] + [others[(i * 49 + k) % len(others)] for k in range(PER_EVENT - 1)]
        for k, person in enumerate(people):
            if event.status is EventStatus.COMPLETED:
                status = AssignmentStatus.COMPLETED
            else:
                status = answers[(i + k) % 3]
            batch.append(
                Assignment(
                    event_id=event.id,
                    person_id=person.id,
                    role=["stagehand", "rigger", "sound engineer", "usher"][k % 4],
                    status=status,
                    invited_at=event.call_at - timedelta(days=14),
                    updated_at=event.call_at - timedelta(days=14),
                    responded_at=None
                    if status is AssignmentStatus.INVITED
                    else event.call_at - timedelta(days=13),
                )
            )
        if len(batch) >= 5000:
            await Assignment.bulk_create(batch)
            made += len(batch)
            batch = []
    if batch:
        await Assignment.bulk_create(batch)
        made += len(batch)
    return upcoming, made


async def run(db_kind: str, people: int, events: int, payments: int, repeat: int) -> None:
    async with database(db_kind) as (url, pg_version):
        seeding = time.monotonic()
        async with opened(url):
            manager, crew = await seed_people(people - 1, linked_crew=1)
            upcoming, _ = await seed_events(manager, crew, events)
            await seed_history(manager, crew, payments, owing_every=20)
            counts = (
                await Person.all().count(),
                await Event.all().count(),
                await Assignment.all().count(),
                await Payment.all().count(),
                await Assignment.filter(person_id=crew[0].id).count(),
            )
        seeding = time.monotonic() - seeding
        tg = telegram_sandbox(relaxed=True)
        async with tg, DarajaSandbox(DARAJA_KEY, DARAJA_SECRET) as daraja:
            users = {"/my": tg.user(CREW_TG, "Crew0"), "/events": tg.user(MANAGER_TG, "Achieng")}
            app = AppProcess(url, tg, daraja)
            await app.start()
            try:
                await asyncio.sleep(1.0)  # start-up requests (setMyCommands, first poll) done
                rss_start = app.rss_mb()
                timed = await time_commands(tg, users, repeat)
                rss_end = app.rss_mb()
            finally:
                await app.stop()
            errors = app.errors_logged()
    rows = [
        (
            "people / events / assignments / payments",
            " / ".join(f"{c:,}" for c in counts[:4]),
        ),
        ("upcoming events / the /my member's assignments", f"{upcoming:,} / {counts[4]:,}"),
        ("seeding (direct inserts, not measured)", f"{seeding:.0f} s"),
        ("RSS after start-up → after the commands", f"{rss_start:.0f} → {rss_end:.0f} MB"),
    ]
    rows += timed
    rows += [
        ("errors in the app's log", str(len(errors))),
        ("Telegram limits", "lifted in the stand-in"),
        ("target", "each command < 100 ms"),
    ]
    print_table("Benchmark 5: size, /my and /events", environment(db_kind, pg_version), rows)
    for line in errors[:5]:
        print("app error:", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=10, help="runs of each command")
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(run(args.db, args.people, args.events, args.payments, args.repeat))
    print(f"(whole run: {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
