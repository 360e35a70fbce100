"""Benchmark 5 (the part that needs no events): a large database.

10,000 people and 100,000 payments with their ledger (a charge and a payment entry for each
completed payment, and an unpaid charge for every `--owing-every`-th person) are written
straight into a fresh database; `callsheet run` starts in a child process. Measured: the
process's RSS after start-up, and the time from the manager's `/balances` and `/payments`
update to the bot's reply in the Telegram stand-in (limits lifted so that repeated commands
are not throttled). Run: `python -m bench.size --db sqlite`.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from bench._common import (
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
from models import LedgerEntry, Payment, Person
from sandbox.daraja import DarajaSandbox


async def run(db_kind: str, people: int, payments: int, owing_every: int, repeat: int) -> None:
    async with database(db_kind) as (url, pg_version):
        seeding = time.monotonic()
        async with opened(url):
            manager, crew = await seed_people(people - 1)
            owing = await seed_history(manager, crew, payments, owing_every=owing_every)
            counts = (
                await Person.all().count(),
                await Payment.all().count(),
                await LedgerEntry.all().count(),
            )
        seeding = time.monotonic() - seeding
        tg = telegram_sandbox(relaxed=True)
        async with tg, DarajaSandbox(DARAJA_KEY, DARAJA_SECRET) as daraja:
            user = tg.user(MANAGER_TG, "Achieng")
            app = AppProcess(url, tg, daraja)
            started = time.monotonic()
            await app.start()
            ready = time.monotonic() - started
            try:
                await asyncio.sleep(1.0)  # let start-up work (setMyCommands, first poll) settle
                rss_start = app.rss_mb()
                timed = await time_commands(tg, {"/balances": user, "/payments": user}, repeat)
                rss_end = app.rss_mb()
            finally:
                await app.stop()
            errors = app.errors_logged()
    rows = [
        ("people / payments / ledger entries", " / ".join(f"{c:,}" for c in counts)),
        ("people who owe something", f"{owing:,}"),
        ("seeding (direct inserts, not measured)", f"{seeding:.0f} s"),
        ("start-up to /readyz", f"{ready:.1f} s"),
        ("RSS after start-up", f"{rss_start:.0f} MB"),
        ("RSS after the commands", f"{rss_end:.0f} MB"),
    ]
    rows += timed
    rows += [
        ("errors in the app's log", str(len(errors))),
        ("Telegram limits", "lifted in the stand-in"),
        ("target", "RSS < 150 MB, each command < 100 ms"),
    ]
    print_table("Benchmark 5: size", environment(db_kind, pg_version), rows)
    for line in errors[:5]:
        print("app error:", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument(
        "--owing-every", type=int, default=20, help="every n-th person owes (default 20)"
    )
    parser.add_argument("--repeat", type=int, default=10, help="runs of each command")
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(run(args.db, args.people, args.payments, args.owing_every, args.repeat))
    print(f"(whole run: {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
