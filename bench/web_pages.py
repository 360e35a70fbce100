"""Benchmark 9, the Mini App's pages on the issue's whole dataset, against bare aiohttp.

10,000 people, 1,000 events (50 crew each), 100,000 payments with their ledger are written
straight into a fresh database (bench/size_events.py's seeding); `callsheet run` starts in a
child process. Each page of the board (as the manager) and of the crew page (as a crew member
on all 1,000 events) is fetched `--repeat` times, one request at a time, with a freshly signed
initData header, as the Mini App sends it. Measured per page: the server's own time (the
`Server-Timing: app;dur=` header every page answer carries) and the time at the client over
loopback, p50 and p99. The reference, in the same run: a bare aiohttp server (its own
process, the same Server-Timing middleware) returning the Mini App's shell as a static page.
Ratios are against the reference, since the machine is shared and noisy.
Run: `python -m bench.web_pages --db sqlite` (or `--db postgres`).
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

import httpx
from aiohttp import web

from bench._common import (
    BOT_TOKEN,
    CREW_TG,
    DARAJA_KEY,
    DARAJA_SECRET,
    MANAGER_TG,
    AppProcess,
    database,
    environment,
    free_port,
    opened,
    percentile,
    print_table,
    seed_history,
    seed_people,
    telegram_sandbox,
)
from bench.size_events import seed_events
from models import Event, EventStatus, Payment, Person
from sandbox.daraja import DarajaSandbox
from services.webapp.initdata import sign_init_data

# (label, path, who): {event} is an upcoming event; who is "manager" or "crew".
PAGES: list[tuple[str, str, str]] = [
    ("board: this week", "/app/view/home", "manager"),
    ("board: an event (50 crew)", "/app/view/event/{event}", "manager"),
    ("board: money (balances)", "/app/view/money", "manager"),
    ("board: payments, completed", "/app/view/payments?status=completed", "manager"),
    ("board: payments of one person", "/app/view/payments?person=Crew%20Member%2000007", "manager"),
    ("board: pay sheets", "/app/view/sheets", "manager"),
    ("board: refunds", "/app/view/refunds", "manager"),
    ("board: reconciliations", "/app/view/reconciliations", "manager"),
    ("board: charts", "/app/view/charts", "manager"),
    ("crew: my gigs (1,000 assignments)", "/app/view/home", "crew"),
]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def _timing(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.3f}"
    return response


def serve_static_page(port: int, html: str) -> None:
    """The reference: aiohttp answering one static page, with the same timing header."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=html, content_type="text/html")

    app = web.Application(middlewares=[_timing])
    app.router.add_get("/app/", page)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def time_page(
    http: httpx.AsyncClient, url: str, user_id: int | None, repeat: int
) -> tuple[list[float], list[float], int, int]:
    """(server seconds, client seconds, last status, last size) over `repeat` requests."""
    server: list[float] = []
    client: list[float] = []
    status = size = 0
    for _ in range(repeat):
        headers = {}
        if user_id is not None:
            signed = sign_init_data(
                BOT_TOKEN, user_id=user_id, first_name="Bench", auth_date=datetime.now(UTC)
            )
            headers["Authorization"] = f"tma {signed}"
        started = time.perf_counter()
        answer = await http.get(url, headers=headers)
        client.append(time.perf_counter() - started)
        timing = answer.headers.get("Server-Timing", "app;dur=nan")
        server.append(float(timing.split("dur=", 1)[1]) / 1000)
        status, size = answer.status_code, len(answer.content)
    return server, client, status, size


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def row(server: Sequence[float], client: Sequence[float], ref: tuple[float, float]) -> str:
    """Server time p50 and p99, then the time at the client; each p50 with its ratio to the
    bare page's (the server's own time there is mere microseconds: the client's ratio says
    more about what a phone waits)."""
    p50, p99, seen = percentile(server, 50), percentile(server, 99), percentile(client, 50)
    return (
        f"server p50 {ms(p50)} ({p50 / ref[0]:,.0f}×) · p99 {ms(p99)}"
        f" · client p50 {ms(seen)} ({seen / ref[1]:.1f}×)"
    )


async def run(db_kind: str, people: int, events: int, payments: int, repeat: int) -> None:
    async with database(db_kind) as (url, pg_version):
        seeding = time.monotonic()
        async with opened(url):
            manager, crew = await seed_people(people - 1, linked_crew=1)
            await seed_events(manager, crew, events)
            await seed_history(manager, crew, payments, owing_every=20)
            upcoming = await Event.filter(status=EventStatus.SCHEDULED).order_by("call_at").first()
            assert upcoming is not None
            counts = (
                await Person.all().count(),
                await Event.all().count(),
                await Payment.all().count(),
            )
        seeding = time.monotonic() - seeding
        tg = telegram_sandbox(relaxed=True)
        async with tg, DarajaSandbox(DARAJA_KEY, DARAJA_SECRET) as daraja:
            app = AppProcess(url, tg, daraja)
            await app.start()
            try:
                async with httpx.AsyncClient(base_url=app.base_url, timeout=60) as http:
                    shell = (await http.get("/app/")).text
                    rows = await measure(http, shell, upcoming.id, repeat)
            finally:
                await app.stop()
            errors = app.errors_logged()
    head = [
        ("people / events / payments", " / ".join(f"{c:,}" for c in counts)),
        ("seeding (direct inserts, not measured)", f"{seeding:.0f} s"),
        ("requests per page", str(repeat)),
    ]
    tail = [("errors in the app's log", str(len(errors)))]
    title = "Benchmark 9: the Mini App's pages vs bare aiohttp"
    print_table(title, environment(db_kind, pg_version), head + rows + tail)
    for line in errors[:5]:
        print("app error:", line)


async def measure(
    http: httpx.AsyncClient, shell: str, event_id: int, repeat: int
) -> list[tuple[str, str]]:
    port = free_port()
    bare = multiprocessing.get_context("spawn").Process(
        target=serve_static_page, args=(port, shell), daemon=True
    )
    bare.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as ref:
            for _ in range(200):
                try:
                    await ref.get("/app/")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            ref_server, ref_client, _, _ = await time_page(ref, "/app/", None, repeat)
    finally:
        bare.terminate()
        bare.join()
    reference = (percentile(ref_server, 50), percentile(ref_client, 50))
    rows = [
        (
            "reference: bare aiohttp, static page",
            f"server p50 {ms(reference[0])} · p99 {ms(percentile(ref_server, 99))}"
            f" · client p50 {ms(reference[1])}",
        )
    ]
    users = {"manager": MANAGER_TG, "crew": CREW_TG}
    for label, path, who in PAGES:
        server, client, status, size = await time_page(
            http, path.format(event=event_id), users[who], repeat
        )
        verdict = "" if status == 200 else f" ❌ HTTP {status}"
        rows.append((f"{label} ({size / 1024:.0f} KB){verdict}", row(server, client, reference)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--payments", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=50, help="requests per page")
    args = parser.parse_args()
    started = time.monotonic()
    asyncio.run(run(args.db, args.people, args.events, args.payments, args.repeat))
    print(f"(whole run: {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
