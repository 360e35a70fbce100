"""Benchmark 1: inviting 1,000 crew in 1,000 chats to one event, against Telegram's limit.

1,000 linked crew (each with an email address, and each has started the bot) and one event
are written straight into a fresh database; `callsheet run` starts in a child process,
against the Telegram stand-in ENFORCING Telegram's limits (30 messages a second overall,
1 a second per chat with a burst of 5) and an aiosmtpd server for email. Before the app
starts, a separate process invites everyone through `AssignmentService.assign`, the service
the `/assign` handler calls, one invitation after another (each in its own transaction, as
one `/assign` each): the real Notifier writes a chat row and an email row per person. (Not
while the app runs, so that the time is of delivery alone. It once had to be so on SQLite
too, where a second writing process made the app's outbox claims fail with "database is
locked"; write transactions now begin IMMEDIATE and wait instead, see bot/sqlite.py and
tests/test_sqlite_writers.py.)
Timed: from the app being ready (its dispatchers running; or its first invitation sent, if
earlier) to the last invitation reaching its chat in the stand-in, and to the last email
reaching the SMTP server.
By default the run is made twice, with a fresh database each: crew with email addresses
(chat and email together) and crew without (chat only), so that the two chat times can be
compared. Run: `python -m bench.fanout --db sqlite`.

`--instances N` (PostgreSQL only) starts N `callsheet run` processes in webhook mode on the
one database, as a deployment behind a load balancer would run: they share the outbox and
Telegram's budget (`services/outbox/budget.py`), so together they should keep Telegram's
30 a second, meet no 429 and finish in the time one alone would take. Timed from the first
of them being ready. Each one's share of the invitations is read from its log.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

from bench._common import (
    CREW_TG,
    AppProcess,
    database,
    environment,
    free_port,
    opened,
    print_table,
    telegram_sandbox,
)
from bench._crew import (
    SmtpServer,
    create_event,
    crew_users,
    invite_elsewhere,
    manager_user,
    open_chats,
    seed_crew,
)
from sandbox.telegram import TelegramSandbox

LIMIT = 30.0  # Telegram's messages a second overall
WEBHOOK_SECRET = "bench-fanout-webhook-secret"


@dataclass
class Phase:
    email: bool
    count: int
    instances: int = 1
    shares: list[int] = field(default_factory=list)  # invitations each instance sent
    made_first: float = 0.0  # monotonic: the first assign() started
    made_last: float = 0.0  # the last assign() committed
    ready: float = 0.0  # the app answered /readyz (its dispatchers are running)
    chat_times: list[float] = field(default_factory=list)  # each invitation's arrival
    duplicates: int = 0
    email_times: list[float] = field(default_factory=list)
    email_recipients: int = 0
    too_many: Counter[str] = field(default_factory=Counter)  # 429s by method
    too_many_at: list[float] = field(default_factory=list)  # when each 429 was answered
    other_requests: Counter[str] = field(default_factory=Counter)
    cpu: float = 0.0
    errors: list[str] = field(default_factory=list)
    pg_version: str | None = None

    @property
    def start(self) -> float:
        """The app ready, or its first invitation sent if that came first."""
        return min(self.ready, *self.chat_times)

    @property
    def last_chat(self) -> float:
        return max(self.chat_times) - self.start

    def chat_rate(self) -> float:
        """Deliveries a second between the first and the last invitation."""
        span = max(self.chat_times) - min(self.chat_times)
        return (len(self.chat_times) - 1) / span if span > 0 else float("nan")


def instance(url: str, tg: TelegramSandbox, smtp: SmtpServer, instances: int) -> AppProcess:
    """One `callsheet run`; with several, each in webhook mode (one poller per bot only)."""
    app = AppProcess(url, tg, None, extra_env=smtp.app_env())
    if instances > 1:
        app.extra_env.update(
            TELEGRAM_MODE="webhook",
            TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
            PUBLIC_BASE_URL=app.base_url,
        )
    return app


def invitations_sent(app: AppProcess) -> int:
    """Chat rows the instance logged as sent (`outbox N sent: telegram invitation`)."""
    text = app.log_path.read_text(errors="replace")
    return text.count("sent: telegram invitation")


async def phase(db_kind: str, count: int, *, email: bool, instances: int = 1) -> Phase:
    result = Phase(email=email, count=count, instances=instances)
    async with database(db_kind) as (url, pg_version):
        result.pg_version = pg_version
        tg = telegram_sandbox(relaxed=False)
        async with tg, SmtpServer(free_port()) as smtp:
            users = crew_users(tg, count)
            await open_chats(tg, [manager_user(tg), *users])
            async with opened(url):
                manager, crew = await seed_crew(count, emails=email)
                event = await create_event(manager)
            _, result.made_first, result.made_last = await invite_elsewhere(
                url, event, manager, crew
            )
            first_request = len(tg.requests)
            crew_chats = {CREW_TG + i for i in range(count)}

            def invitations() -> list[tuple[int, float]]:
                return [
                    (int(r.params["chat_id"]), r.at)
                    for r in tg.requests[first_request:]
                    if r.method.lower() == "sendmessage"
                    and r.ok
                    and int(r.params.get("chat_id", 0) or 0) in crew_chats
                ]

            apps = [instance(url, tg, smtp, instances) for _ in range(instances)]
            ready: list[float] = []

            async def start(app: AppProcess) -> None:
                await app.start()
                ready.append(time.monotonic())

            try:
                await asyncio.gather(*(start(app) for app in apps))
                result.ready = min(ready)
                await tg.wait_for(
                    lambda: len({c for c, _ in invitations()}) >= count,
                    timeout=600,
                    description=f"{count} invitations in their chats",
                )
                if email:
                    await smtp.wait_count(count, timeout=600)
                await asyncio.sleep(1.0)  # anything sent twice would show up by now
                result.cpu = sum(app.cpu_seconds() for app in apps)
            finally:
                await asyncio.gather(*(app.stop() for app in apps))
            result.errors = [line for app in apps for line in app.errors_logged()]
            if instances > 1:
                result.shares = [invitations_sent(app) for app in apps]
            delivered = invitations()
            per_chat = Counter(chat for chat, _ in delivered)
            result.duplicates = sum(n - 1 for n in per_chat.values())
            result.chat_times = [at for _, at in delivered]
            result.email_times = [at for at, _ in smtp.mailbox.arrivals]
            result.email_recipients = len({r for _, rcpt in smtp.mailbox.arrivals for r in rcpt})
            for record in tg.requests[first_request:]:
                if record.status == 429:
                    result.too_many[record.method] += 1
                    result.too_many_at.append(record.at)
                elif not (record.method.lower() == "sendmessage" and record.ok):
                    result.other_requests[record.method] += 1
    return result


def rows_for(p: Phase) -> list[tuple[str, str]]:
    label = "with email" if p.email else "chat only"
    if p.instances > 1:
        label += f", {p.instances} instances"
    made = p.made_last - p.made_first
    rows = [
        (
            f"{label}: invitations made (assign(), one by one; app not running)",
            f"{p.count:,} in {made:.1f} s ({p.count / made:.0f}/s)",
        ),
        (
            f"{label}: app ready → last invitation in its chat",
            f"{p.last_chat:.1f} s (ratio to {p.count:,}/30 = {p.count / LIMIT:.1f} s: "
            f"{p.last_chat / (p.count / LIMIT):.2f})",
        ),
        (f"{label}: chat pace, first → last delivery", f"{p.chat_rate():.1f} messages/s"),
        (
            f"{label}: chats with the invitation / sent twice",
            f"{len(p.chat_times) - p.duplicates:,} / {p.duplicates}",
        ),
        (
            f"{label}: 429s received",
            str(sum(p.too_many.values()))
            + (
                f" ({', '.join(f'{m} {n}' for m, n in p.too_many.items())}; at "
                if p.too_many
                else ""
            )
            + (
                ", ".join(f"{at - p.start:.2f} s" for at in p.too_many_at[:5]) + ")"
                if p.too_many
                else ""
            ),
        ),
    ]
    if p.email:
        last_email = max(p.email_times) - p.start if p.email_times else float("nan")
        rows += [
            (
                f"{label}: emails received / distinct recipients",
                f"{len(p.email_times):,} / {p.email_recipients:,}",
            ),
            (f"{label}: app ready → last email", f"{last_email:.1f} s"),
        ]
    if p.shares:
        rows.append(
            (f"{label}: invitations sent by each instance", " / ".join(f"{n:,}" for n in p.shares))
        )
    others = ", ".join(f"{m} {n}" for m, n in sorted(p.other_requests.items())) or "none"
    rows += [
        (f"{label}: other Telegram requests meanwhile", others),
        (f"{label}: app CPU, start-up included (all instances)", f"{p.cpu:.1f} s"),
        (f"{label}: errors in the app's log", str(len(p.errors))),
    ]
    return rows


async def run(db_kind: str, count: int, email: str, instances: int) -> None:
    phases = []
    for with_email in {"both": (True, False), "on": (True,), "off": (False,)}[email]:
        phases.append(await phase(db_kind, count, email=with_email, instances=instances))
        await asyncio.sleep(1.0)
    rows: list[tuple[str, str]] = []
    for p in phases:
        rows += rows_for(p)
    if len(phases) == 2:
        slowdown = phases[0].last_chat / phases[1].last_chat - 1
        rows.append(("chat: with email vs chat only", f"{slowdown:+.1%}"))
    rows += [
        ("Telegram limits", "enforced: 30/s overall (burst 30), 1/s per chat (burst 5)"),
        (
            "instances",
            f"{instances} `callsheet run` processes, webhook mode, one shared budget"
            if instances > 1
            else "1 `callsheet run` process, polling",
        ),
        ("target", "within 10 % of 33.3 s, no 429, email not slowing chat"),
    ]
    env = environment(db_kind, phases[0].pg_version)
    print_table("Benchmark 1: invitation fan-out", env, rows)
    for p in phases:
        for line in p.errors[:5]:
            print("app error:", line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("-n", "--crew", type=int, default=1000, help="crew invited (1000)")
    parser.add_argument(
        "--email",
        choices=["both", "on", "off"],
        default="both",
        help="crew with email addresses (on), without (off), or one run of each (both)",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="`callsheet run` processes sharing the database (1; more need --db postgres)",
    )
    args = parser.parse_args()
    if args.instances < 1:
        parser.error("--instances must be 1 or more")
    if args.instances > 1 and args.db != "postgres":
        parser.error(
            "--instances above 1 needs --db postgres: several processes share one "
            "database only on PostgreSQL"
        )
    started = time.monotonic()
    asyncio.run(run(args.db, args.crew, args.email, args.instances))
    print(f"(whole run: {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
