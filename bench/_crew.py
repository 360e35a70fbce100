"""Crew, an event and invitations for benchmarks 1 and 4, and an SMTP server that counts.

Invitations are made by `AssignmentService.assign`, the service the `/assign` handler calls
(Callsheet has no "assign many at once"): the real Notifier renders them and writes their
outbox rows, and the `callsheet run` child process delivers them. Only the people and the
event are direct inserts.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from tortoise import connections

from bench._common import BOT_TOKEN, BOT_USERNAME, CREW_TG, MANAGER_TG, seed_people
from bot.container import Services, build_services
from bot.settings import Settings, load_settings
from models import Assignment, Event, Person
from models.stamps import stamp
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import SystemClock

EMAIL_DOMAIN = "crew.bench.example"


def bench_settings(database_url: str) -> Settings:
    """The settings the benchmark process uses to build the app's services. Build it before
    the first database open (Tortoise.init overwrites os.environ["TIMEZONE"])."""
    return load_settings(
        _env_file=None,
        telegram_bot_token=SecretStr(BOT_TOKEN),
        database_url=database_url,
        timezone="Africa/Nairobi",
        company_name="Sauti Sound",
    )


def bench_services(settings: Settings) -> Services:
    return build_services(settings, SystemClock(), bot_username=BOT_USERNAME)


def crew_email(index: int) -> str:
    return f"crew{index:05d}@{EMAIL_DOMAIN}"


async def seed_crew(count: int, *, emails: bool) -> tuple[Person, list[Person]]:
    """One linked manager and `count` linked crew, each with an email address if `emails`."""
    manager, crew = await seed_people(count, linked_crew=count)
    if emails:
        conn = connections.get("default")
        for index, person in enumerate(crew):
            person.email = crew_email(index)
        # One statement per 500 people: a CASE over the ids.
        for start in range(0, len(crew), 500):
            chunk = crew[start : start + 500]
            cases = " ".join(f"WHEN {int(p.id)} THEN '{p.email}'" for p in chunk)
            ids = ",".join(str(int(p.id)) for p in chunk)
            await conn.execute_query(
                f"UPDATE person SET email = CASE id {cases} END WHERE id IN ({ids})"
            )
    return manager, crew


async def create_event(
    manager: Person, *, days_ahead: int = 7, title: str = "Bench Festival"
) -> Event:
    call = datetime.now(UTC).replace(microsecond=0) + timedelta(days=days_ahead)
    return await Event.create(
        **stamp(Event, datetime.now(UTC)),
        title=title,
        venue="Uhuru Gardens",
        call_at=call,
        starts_at=call + timedelta(hours=2),
        ends_at=call + timedelta(hours=10),
        crew_target=None,
        manager=manager,
    )


async def invite_all(
    services: Services, event: Event, manager: Person, crew: Sequence[Person]
) -> tuple[list[Assignment], float, float]:
    """Each crew member invited by `AssignmentService.assign`, one after another, each in its
    own transaction (as one `/assign` each). Returns the assignments and the monotonic times
    of the first call and of the last commit."""
    started = time.monotonic()
    assignments = [
        await services.assignments.assign(
            event.id, person.id, "stagehand", actor=manager, chat_id=MANAGER_TG
        )
        for person in crew
    ]
    return assignments, started, time.monotonic()


def crew_users(tg: TelegramSandbox, count: int) -> list[SandboxUser]:
    return [tg.user(CREW_TG + i, f"Crew{i:05d}") for i in range(count)]


async def open_chats(tg: TelegramSandbox, users: Sequence[SandboxUser]) -> None:
    """Each person has started the bot (Telegram lets a bot write only to those). Their
    "hello" updates are then dropped, as `deleteWebhook(drop_pending_updates)` does, so that
    the app does not spend the benchmark answering them."""
    for user in users:
        await tg.send_text(user, "hello")
    async with httpx.AsyncClient(base_url=f"{tg.base_url}{BOT_TOKEN}/") as http:
        reply = await http.post("deleteWebhook", json={"drop_pending_updates": True})
        reply.raise_for_status()


def manager_user(tg: TelegramSandbox) -> SandboxUser:
    return tg.user(MANAGER_TG, "Achieng")


class CountingMailbox:
    """An aiosmtpd handler that keeps each message's recipients and arrival time."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, tuple[str, ...]]] = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self.arrivals.append((time.monotonic(), tuple(envelope.rcpt_tos)))
        return "250 OK"

    def count(self) -> int:
        with self._lock:
            return len(self.arrivals)


class SmtpServer:
    """`async with SmtpServer() as smtp:` an aiosmtpd server on a free port, in its thread."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.mailbox = CountingMailbox()
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=port)

    async def __aenter__(self) -> SmtpServer:
        await asyncio.to_thread(self._controller.start)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.to_thread(self._controller.stop)

    def app_env(self) -> dict[str, str]:
        return {
            "EMAIL_BACKEND": "smtp",
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.port),
            "SMTP_TLS": "none",
            "EMAIL_FROM": "Sauti Sound <crew@sauti.example>",
        }

    async def wait_count(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.mailbox.count() < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.mailbox.count()} of {count} emails arrived")
            await asyncio.sleep(0.05)


def _invite_process(url: str, event_id: int, manager_id: int, person_ids: list[int]) -> Any:
    return asyncio.run(_invite_async(url, event_id, manager_id, person_ids))


async def _invite_async(
    url: str, event_id: int, manager_id: int, person_ids: list[int]
) -> tuple[list[int], float, float]:
    from bot import db

    settings = bench_settings(url)
    await db.open_db(url)
    try:
        services = bench_services(settings)
        event = await Event.get(id=event_id)
        manager = await Person.get(id=manager_id)
        people = {p.id: p for p in await Person.filter(id__in=person_ids)}
        assignments, started, finished = await invite_all(
            services, event, manager, [people[i] for i in person_ids]
        )
    finally:
        await db.close_db()
    return [a.id for a in assignments], started, finished


async def invite_elsewhere(
    url: str, event: Event, manager: Person, crew: Sequence[Person]
) -> tuple[list[int], float, float]:
    """`invite_all` in a separate process (spawned), so that making the invitations costs
    neither the app's CPU nor the stand-ins' event loop. Times are CLOCK_MONOTONIC, which is
    the same for every process on the machine."""
    import concurrent.futures
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        result: tuple[list[int], float, float] = await asyncio.get_running_loop().run_in_executor(
            pool, _invite_process, url, event.id, manager.id, [p.id for p in crew]
        )
    return result
