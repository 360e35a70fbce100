"""Benchmark 2: Daraja callback ingestion, against a bare aiohttp handler.

N pending payments are written straight into a fresh database; `callsheet run` starts in a
child process (payments on, Telegram and Daraja stand-ins in this process, Telegram at its
real limits); a third process posts N distinct success callbacks, 50 in flight. The app
answers once a callback is stored and settles it just after, so the time until the last one
is settled (read from the database) is reported too. The same load then goes to a bare
aiohttp server (its own process) that reads the body and answers 200.
Run: `python -m bench.callbacks --db sqlite` (or `--db postgres`).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench import _load
from bench._common import (
    CREW_TG,
    DARAJA_KEY,
    DARAJA_SECRET,
    MANAGER_TG,
    AppProcess,
    database,
    environment,
    free_port,
    ms,
    opened,
    percentile,
    print_table,
    seed_pending,
    seed_people,
    start_chats,
    success_callback,
    telegram_sandbox,
)
from models import CallbackStatus, DarajaCallback, LedgerEntry, Payment, PaymentStatus
from sandbox.daraja import DarajaSandbox

WARM_UP = 100  # callbacks posted (to their own payments) before the timed run


async def _post(url: str, bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    """In a separate (spawned) process, so the client's CPU is its own."""
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        return await loop.run_in_executor(pool, _load.post_all, url, bodies, concurrency)


async def _bare(bodies: list[bytes], warm: list[bytes], concurrency: int) -> dict[str, Any]:
    port = free_port()
    server = multiprocessing.get_context("spawn").Process(target=_load.serve_bare, args=(port,))
    server.start()
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(200):
                try:
                    await http.get(f"http://127.0.0.1:{port}/healthz")
                    break
                except httpx.HTTPError:
                    await asyncio.sleep(0.05)
        url = f"http://127.0.0.1:{port}/daraja/stk/callback/x"
        await _post(url, warm, concurrency)
        return await _post(url, bodies, concurrency)
    finally:
        server.terminate()
        server.join()


async def _all_settled(expected: int, timeout: float = 600) -> float:
    """Wait until no stored callback is left to settle; the wall-clock time the last one was
    applied (the app records it)."""
    deadline = time.monotonic() + timeout
    while True:
        left = await DarajaCallback.filter(status=CallbackStatus.RECEIVED).count()
        total = await DarajaCallback.all().count()
        if total >= expected and left == 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"{left} callbacks still unsettled after {timeout:.0f} s")
        await asyncio.sleep(0.05)
    last = await DarajaCallback.filter(applied_at__isnull=False).order_by("-applied_at").first()
    assert last is not None and last.applied_at is not None
    return last.applied_at.timestamp()


def _summary(result: dict[str, Any], count: int) -> tuple[float, float, float]:
    lat = result["latencies"]
    return count / result["wall"], percentile(lat, 50), percentile(lat, 99)


async def run(
    db_kind: str, count: int, concurrency: int, crew: int, profile: Path | None, py_spy: Path | None
) -> None:
    async with database(db_kind) as (url, pg_version):
        async with opened(url):
            manager, people = await seed_people(crew, linked_crew=crew)
            payments = await seed_pending(manager, people, count + WARM_UP)
        bodies = [success_callback(p, n) for n, p in enumerate(payments)]
        warm, timed = bodies[:WARM_UP], bodies[WARM_UP:]
        tg = telegram_sandbox(relaxed=False)
        async with (
            tg,
            DarajaSandbox(DARAJA_KEY, DARAJA_SECRET) as daraja,
        ):
            users = [tg.user(MANAGER_TG, "Achieng")]
            users += [tg.user(CREW_TG + i, f"Crew{i}") for i in range(crew)]
            await start_chats(tg, users)
            app = AppProcess(url, tg, daraja, profile=profile)
            await app.start()
            try:
                for user in users:  # every "hello" answered: start-up work is over
                    await tg.wait_for_bot_message(user.id, timeout=30)
                rss_before = app.rss_mb()
                await _post(app.callback_url, warm, concurrency)
                spy = app.spy(py_spy) if py_spy else None
                cpu_before = app.cpu_seconds()
                ours = await _post(app.callback_url, timed, concurrency)
                cpu_answered = app.cpu_seconds() - cpu_before
                async with opened(url):
                    last_settled = await _all_settled(count + WARM_UP)
                cpu = app.cpu_seconds() - cpu_before
                if spy is not None:
                    spy.send_signal(signal.SIGINT)
                    spy.wait()
                rss_after = app.rss_mb()
            finally:
                await app.stop()
            errors = app.errors_logged()
            telegram_429 = tg.stats.too_many_requests
        async with opened(url):
            completed = await Payment.filter(status=PaymentStatus.COMPLETED).count()
            applied = await DarajaCallback.filter(status=CallbackStatus.APPLIED).count()
            credited = await LedgerEntry.all().count()
    bare = await _bare(timed, warm, concurrency)

    rate, p50, p99 = _summary(ours, count)
    settle_seconds = last_settled - ours["started_at"]
    bare_rate, bare_p50, bare_p99 = _summary(bare, count)
    ok = ours["statuses"].get(200, 0)
    rows = [
        ("callbacks posted (timed, after 100 warm-up)", f"{count}, {concurrency} in flight"),
        ("Callsheet: callbacks/s", f"{rate:,.0f}"),
        ("Callsheet: p50 / p99 latency", f"{ms(p50)} / {ms(p99)}"),
        ("bare aiohttp: requests/s", f"{bare_rate:,.0f}"),
        ("bare aiohttp: p50 / p99 latency", f"{ms(bare_p50)} / {ms(bare_p99)}"),
        ("ratio Callsheet / bare aiohttp", f"{rate / bare_rate:.3f} (1 : {bare_rate / rate:.0f})"),
        ("Callsheet: first POST → last callback settled", f"{settle_seconds:.2f} s"),
        ("Callsheet: settled/s (N ÷ that time)", f"{count / settle_seconds:,.0f}"),
        (
            "Callsheet CPU per callback, answered / settled",
            f"{ms(cpu_answered / count)} / {ms(cpu / count)}",
        ),
        (
            "Callsheet CPU busy while answering",
            f"{cpu_answered / ours['wall'] * 100:.0f} % of one core",
        ),
        ("HTTP answers", ", ".join(f"{k}: {v}" for k, v in sorted(ours["statuses"].items()))),
        ("client errors", str(ours["errors"] or "none")),
        ("payments completed / callbacks applied", f"{completed} / {applied}"),
        ("ledger entries written", str(credited)),
        ("RSS before → after", f"{rss_before:.0f} MB → {rss_after:.0f} MB"),
        ("Telegram 429s (status edits, real limits)", str(telegram_429)),
        ("errors in the app's log", str(len(errors))),
        ("target", "≥ 1,000/s on SQLite, p99 < 100 ms"),
    ]
    print_table("Benchmark 2: callback ingestion", environment(db_kind, pg_version), rows)
    expected = count + WARM_UP
    if ok != count or not completed == applied == credited == expected:
        print(
            f"WARNING: {ok} of {count} answered 200; of {expected}: {completed} payments "
            f"completed, {applied} callbacks applied, {credited} ledger entries"
        )
    for line in errors[:5]:
        print("app error:", line)
    if profile is not None:
        print(f"cProfile of the app written to {profile}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("-n", "--count", type=int, default=2000, help="callbacks (default 2000)")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--crew", type=int, default=50, help="linked payers (default 50)")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the app process here")
    parser.add_argument("--py-spy", type=Path, help="py-spy the app during the timed run")
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(run(args.db, args.count, args.concurrency, args.crew, args.profile, args.py_spy))
    print(f"(whole run: {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
