"""Benchmark 3: from a Daraja callback's arrival to the edit of the manager's status message.

N pending payments, each with the manager's live status message already in the chat (sent
through the Bot API, as the outbox does when the push is accepted), are written straight
into a fresh database; `callsheet run` starts in a child process. This process posts one
success callback at a time at a steady rate and the Telegram stand-in records when each
`editMessageText` reached it; both clocks are this process's monotonic clock. The stand-in's
rate limits are lifted (Telegram allows about 1 edit a second in one chat) so that what is
measured is our own latency. Run: `python -m bench.callback_to_chat --db sqlite`.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp

from bench._common import (
    CREW_TG,
    DARAJA_KEY,
    DARAJA_SECRET,
    MANAGER_TG,
    AppProcess,
    database,
    environment,
    ms,
    opened,
    percentile,
    print_table,
    seed_live_messages,
    seed_pending,
    seed_people,
    start_chats,
    success_callback,
    telegram_sandbox,
)
from sandbox.daraja import DarajaSandbox

HEADERS = {"Content-Type": "application/json"}


async def run(db_kind: str, count: int, rate: float, crew: int) -> None:
    async with database(db_kind) as (url, pg_version):
        tg = telegram_sandbox(relaxed=True)
        async with tg, DarajaSandbox(DARAJA_KEY, DARAJA_SECRET) as daraja:
            users = [tg.user(MANAGER_TG, "Achieng")]
            users += [tg.user(CREW_TG + i, f"Crew{i}") for i in range(crew)]
            await start_chats(tg, users)
            async with opened(url):
                manager, people = await seed_people(crew, linked_crew=crew)
                payments = await seed_pending(manager, people, count)
                by_message = await seed_live_messages(tg, payments, MANAGER_TG)
            app = AppProcess(url, tg, daraja)
            await app.start()
            try:
                # Every "hello" answered (after the seeded status messages): start-up is over.
                await tg.wait_for_bot_message(MANAGER_TG, after=count + 1, timeout=30)
                for user in users[1:]:
                    await tg.wait_for_bot_message(user.id, after=1, timeout=30)
                first_request = len(tg.requests)
                sent: dict[int, float] = {}
                statuses: dict[int, int] = {}
                async with aiohttp.ClientSession() as http:

                    async def post(index: int) -> None:
                        payment = payments[index]
                        body = success_callback(payment, index)
                        sent[payment.id] = time.monotonic()
                        async with http.post(app.callback_url, data=body, headers=HEADERS) as r:
                            await r.read()
                            statuses[r.status] = statuses.get(r.status, 0) + 1

                    started = time.monotonic()
                    tasks = []
                    for index in range(count):
                        due = started + index / rate
                        await asyncio.sleep(max(0.0, due - time.monotonic()))
                        tasks.append(asyncio.create_task(post(index)))
                    await asyncio.gather(*tasks)

                def edits() -> dict[int, float]:
                    seen: dict[int, float] = {}
                    for record in tg.requests[first_request:]:
                        if record.method.lower() != "editmessagetext" or not record.ok:
                            continue
                        if int(record.params.get("chat_id", 0)) != MANAGER_TG:
                            continue
                        payment_id = by_message.get(int(record.params["message_id"]))
                        if payment_id is not None and payment_id not in seen:
                            seen[payment_id] = record.at
                    return seen

                await tg.wait_for(lambda: len(edits()) >= count, timeout=120)
                done = edits()
                rss = app.rss_mb()
            finally:
                await app.stop()
            errors = app.errors_logged()
            payer_edits = sum(
                1
                for r in tg.requests[first_request:]
                if r.ok and int(r.params.get("chat_id", 0) or 0) != MANAGER_TG
            )
    latencies = [done[pid] - sent[pid] for pid in done]
    rows = [
        ("payments (callbacks posted)", f"{count}, paced at {rate:g}/s"),
        ("manager's message edited", f"{len(done)} of {count}"),
        ("callback → edit p50", ms(percentile(latencies, 50))),
        ("callback → edit p99", ms(percentile(latencies, 99))),
        ("callback → edit max", ms(max(latencies))),
        ("Telegram requests to payers' chats", str(payer_edits)),
        ("HTTP answers", ", ".join(f"{k}: {v}" for k, v in sorted(statuses.items()))),
        ("RSS at the end", f"{rss:.0f} MB"),
        ("errors in the app's log", str(len(errors))),
        ("Telegram limits", "lifted in the stand-in (our latency only)"),
        ("target", "p99 < 300 ms"),
    ]
    print_table("Benchmark 3: callback to chat", environment(db_kind, pg_version), rows)
    for line in errors[:5]:
        print("app error:", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("-n", "--count", type=int, default=1000, help="payments (default 1000)")
    parser.add_argument("--rate", type=float, default=10.0, help="callbacks a second (default 10)")
    parser.add_argument("--crew", type=int, default=20, help="linked payers (default 20)")
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(run(args.db, args.count, args.rate, args.crew))
    print(f"(whole run: {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
