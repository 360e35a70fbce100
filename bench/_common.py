"""What every benchmark shares: a throw-away database, seeding, a real `callsheet run`
child process against the sandbox servers, the environment, percentiles and tables.

The process under test is always a separate `python -m bot.cli run` (the same code path as
production), so its RSS and its CPU are its own. The Telegram and Daraja stand-ins live in
the benchmark's own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import secrets
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from tortoise import Tortoise, connections

from bot import db
from models import (
    Access,
    LedgerEntry,
    LedgerKind,
    LiveMessage,
    Payment,
    PaymentStatus,
    Person,
)
from models.stamps import stamp
from sandbox.daraja import SANDBOX_PASSKEY, DarajaSandbox
from sandbox.telegram import SandboxUser, TelegramSandbox

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("CALLSHEET_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432/test")
BOT_TOKEN = "123456789:BENCHtokenBENCHtokenBENCHtoken00"
BOT_USERNAME = "callsheet_bench_bot"
DARAJA_KEY, DARAJA_SECRET = "bench-consumer-key", "bench-consumer-secret"
CALLBACK_SECRET = "b3nchb3nchb3nchb3nchb3nchb3nch00"
SHORTCODE = "174379"
MANAGER_TG = 500_000
CREW_TG = 600_000


# --- environment and output ---------------------------------------------------------------


def environment(db_kind: str, pg_version: str | None) -> dict[str, str]:
    env = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": str(os.cpu_count()),
        "python": platform.python_version(),
        "database": db_kind,
        # This machine is shared: other sessions' test suites may be running.
        "load avg (1 min)": f"{os.getloadavg()[0]:.2f}",
    }
    if db_kind == "sqlite":
        env["sqlite"] = sqlite3.sqlite_version
    else:
        env["postgresql"] = pg_version or "?"
    return env


def print_table(title: str, env: dict[str, str], rows: Sequence[tuple[str, str]]) -> None:
    print()
    print(f"## {title}")
    print("  " + " · ".join(f"{k} {v}" for k, v in env.items()))
    print(f"  command: {' '.join(['python', *sys.orig_argv[1:]])}")
    width = max(len(name) for name, _ in rows)
    print()
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"| {'-' * width} | ----- |")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    print()


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def command_time(tg: TelegramSandbox, user: SandboxUser, text: str) -> tuple[float, str]:
    """Seconds from the update to the bot's first reply in that chat, and what it was."""
    sent = await tg.send_text(user, text)
    first = len(tg.requests)
    started = time.monotonic()
    try:
        reply = await tg.wait_for_bot_message(user.id, after=sent["message_id"], timeout=10)
        shown = str(reply.get("text", ""))
        elapsed = time.monotonic() - started
        note = f"{len(shown)} chars: {shown.splitlines()[0][:50]}"
    except TimeoutError:
        elapsed = time.monotonic() - started
        note = "NO REPLY within 10 s"
    refused = [
        r.description
        for r in tg.requests[first:]
        if not r.ok and int(r.params.get("chat_id", 0) or 0) == user.id
    ]
    if refused:
        note += f" (after Telegram refused: {refused[0]})"
    return elapsed, note


async def time_commands(
    tg: TelegramSandbox, users: dict[str, SandboxUser], repeat: int
) -> list[tuple[str, str]]:
    """Send each command `repeat` times from its user; table rows of the times and replies."""
    rows: list[tuple[str, str]] = []
    for command, user in users.items():
        times = []
        note = ""
        for _ in range(repeat):
            elapsed, note = await command_time(tg, user, command)
            times.append(elapsed)
        rows.append(
            (
                f"{command}: first / p50 / max of {repeat}",
                f"{ms(times[0])} / {ms(percentile(times, 50))} / {ms(max(times))}",
            )
        )
        rows.append((f"{command}: reply", note))
    return rows


# --- databases ----------------------------------------------------------------------------


def _with_db(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + name))


async def _pg_admin(sql: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgres://", "postgresql://", 1))
    try:
        await conn.execute(sql)
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()


@contextlib.asynccontextmanager
async def database(kind: str) -> AsyncIterator[tuple[str, str | None]]:
    """A new, migrated database (SQLite file or PostgreSQL database), dropped afterwards.
    Yields (url, PostgreSQL server version or None)."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="callsheet-bench-") as folder:
            url = f"sqlite://{folder}/bench.sqlite3"
            await db.migrate(url)
            yield url, None
        return
    if kind != "postgres":
        raise SystemExit(f"--db must be sqlite or postgres, not {kind!r}")
    name = f"callsheet_bench_{os.getpid()}_{secrets.token_hex(3)}"
    version = await _pg_admin(f'CREATE DATABASE "{name}"')
    url = _with_db(PG_ADMIN_URL, name)
    try:
        await db.migrate(url)
        yield url, version
    finally:
        await Tortoise.close_connections()
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def opened(url: str) -> AsyncIterator[None]:
    await db.open_db(url)
    try:
        yield
    finally:
        await db.close_db()


# --- seeding (direct inserts: set-up, not what is measured) --------------------------------


def phone_of(i: int) -> str:
    return f"+2547{i:08d}"


async def seed_people(crew: int, *, linked_crew: int = 0) -> tuple[Person, list[Person]]:
    """One linked manager and `crew` crew members, the first `linked_crew` linked."""
    manager = await Person.create(
        **stamp(Person, datetime.now(UTC)),
        name="Achieng Otieno",
        phone=phone_of(99_999_999),
        access=Access.MANAGER,
        telegram_id=MANAGER_TG,
        linked_at=datetime.now(UTC),
    )
    now = datetime.now(UTC)
    rows = [
        Person(
            **stamp(Person, datetime.now(UTC)),
            name=f"Crew Member {i:05d}",
            phone=phone_of(i),
            access=Access.CREW,
            telegram_id=CREW_TG + i if i < linked_crew else None,
            linked_at=now if i < linked_crew else None,
        )
        for i in range(crew)
    ]
    await Person.bulk_create(rows, batch_size=1000)
    people = await Person.filter(access=Access.CREW).order_by("id")
    return manager, list(people)


def checkout_id(n: int) -> str:
    return f"ws_CO_BENCH{n:010d}"


async def seed_pending(manager: Person, payers: Sequence[Person], count: int) -> list[Payment]:
    """`count` payments Daraja has accepted (PENDING, with a CheckoutRequestID)."""
    now = datetime.now(UTC)
    rows = [
        Payment(
            person_id=payers[i % len(payers)].id,
            phone=payers[i % len(payers)].phone,
            amount=100 + i % 900,
            purpose="Bench deposit",
            account_reference="BENCH",
            transaction_desc="Deposit",
            status=PaymentStatus.PENDING,
            requested_by_id=manager.id,
            checkout_request_id=checkout_id(i),
            merchant_request_id=f"29115-{i}-1",
            created_at=now,
            updated_at=now,
        )
        for i in range(count)
    ]
    await Payment.bulk_create(rows, batch_size=1000)
    return list(await Payment.filter(status=PaymentStatus.PENDING).order_by("id"))


def success_callback(payment: Payment, n: int) -> bytes:
    """A success callback exactly as Daraja sends it (shared/DARAJA.md)."""
    body = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": payment.merchant_request_id,
                "CheckoutRequestID": payment.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": float(payment.amount)},
                        {"Name": "MpesaReceiptNumber", "Value": f"BEN{n:07d}"},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20261123101500},
                        {"Name": "PhoneNumber", "Value": int(payment.phone.lstrip("+"))},
                    ]
                },
            }
        }
    }
    return json.dumps(body).encode()


async def seed_history(
    manager: Person, crew: Sequence[Person], payments: int, *, owing_every: int
) -> int:
    """`payments` settled payments over the crew with their ledger: each payment is matched
    by a charge, and every `owing_every`-th person also has one charge left unpaid. Balances
    are set to the ledger's sums (as `callsheet audit` checks). Returns how many owe."""
    now = datetime.now(UTC)
    start = now - timedelta(days=365)
    statuses = [PaymentStatus.COMPLETED] * 8 + [PaymentStatus.CANCELLED, PaymentStatus.FAILED]
    batch: list[Payment] = []
    for i in range(payments):
        person = crew[i % len(crew)]
        status = statuses[i % len(statuses)]
        batch.append(
            Payment(
                person_id=person.id,
                phone=person.phone,
                amount=500 + (i * 37) % 4500,
                purpose=f"Deposit {i % 97}",
                account_reference="DEPOSIT",
                transaction_desc="Deposit",
                status=status,
                requested_by_id=manager.id,
                checkout_request_id=f"ws_CO_HIST{i:010d}",
                merchant_request_id=f"hist-{i}",
                receipt=f"HST{i:07d}" if status is PaymentStatus.COMPLETED else None,
                paid_amount=500 + (i * 37) % 4500 if status is PaymentStatus.COMPLETED else None,
                created_at=start + timedelta(seconds=i * 300),
                updated_at=start + timedelta(seconds=i * 300),
                resolved_at=start + timedelta(seconds=i * 300 + 30),
            )
        )
        if len(batch) == 5000:
            await Payment.bulk_create(batch)
            batch = []
    if batch:
        await Payment.bulk_create(batch)
    entries: list[LedgerEntry] = []
    balance: dict[int, int] = {}

    async def flush() -> None:
        nonlocal entries
        await LedgerEntry.bulk_create(entries)
        entries = []

    completed = Payment.filter(status=PaymentStatus.COMPLETED).order_by("id")
    for payment in await completed.values("id", "person_id", "amount", "receipt", "created_at"):
        pid, amount = payment["person_id"], payment["amount"]
        entries.append(
            LedgerEntry(
                person_id=pid,
                kind=LedgerKind.CHARGE,
                amount=amount,
                description="Cable damage",
                created_by_id=manager.id,
                created_at=payment["created_at"],
            )
        )
        entries.append(
            LedgerEntry(
                person_id=pid,
                kind=LedgerKind.PAYMENT,
                amount=-amount,
                description=f"M-Pesa {payment['receipt']} · Deposit",
                payment_id=payment["id"],
                created_at=payment["created_at"],
            )
        )
        if len(entries) >= 5000:
            await flush()
    owing = 0
    for index, person in enumerate(crew):
        if index % owing_every == 0:
            owing += 1
            amount = 200 + (index * 13) % 3000
            balance[person.id] = amount
            entries.append(
                LedgerEntry(
                    person_id=person.id,
                    kind=LedgerKind.CHARGE,
                    amount=amount,
                    description="Lost radio",
                    created_by_id=manager.id,
                    created_at=now,
                )
            )
    await flush()
    conn = connections.get("default")
    for pid, amount in balance.items():
        await conn.execute_query(f"UPDATE person SET balance = {int(amount)} WHERE id = {int(pid)}")
    return owing


async def seed_live_messages(
    tg: TelegramSandbox, payments: Sequence[Payment], chat_id: int
) -> dict[int, int]:
    """The manager's status message for each payment: sent through the Bot API (as the
    outbox does) and recorded as the live message to edit. Returns message_id → payment id."""
    by_message: dict[int, int] = {}
    rows: list[LiveMessage] = []
    async with httpx.AsyncClient(base_url=f"{tg.base_url}{BOT_TOKEN}/") as http:
        for payment in payments:
            reply = await http.post(
                "sendMessage",
                json={"chat_id": chat_id, "text": f"⏳ Payment #{payment.id}: waiting for PIN"},
            )
            reply.raise_for_status()
            message_id = int(reply.json()["result"]["message_id"])
            by_message[message_id] = payment.id
            rows.append(
                LiveMessage(
                    **stamp(LiveMessage, datetime.now(UTC)),
                    key=f"pay:{payment.id}:mgr",
                    chat_id=chat_id,
                    message_id=message_id,
                )
            )
    await LiveMessage.bulk_create(rows, batch_size=1000)
    return by_message


# --- sandboxes and the process under test -------------------------------------------------


def telegram_sandbox(*, relaxed: bool) -> TelegramSandbox:
    """Telegram's limits (30/s overall, 1/s per chat) or, `relaxed`, none to speak of, so
    that what is measured is our latency, not Telegram's pacing."""
    if relaxed:
        sandbox = TelegramSandbox(overall_rate=1_000_000, chat_rate=1_000_000, chat_burst=1_000_000)
    else:
        sandbox = TelegramSandbox()
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    return sandbox


async def start_chats(tg: TelegramSandbox, users: Sequence[SandboxUser]) -> None:
    """Each person has talked to the bot (Telegram lets a bot write only to those)."""
    for user in users:
        await tg.send_text(user, "hello")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class AppProcess:
    """`python -m bot.cli run` in a child process, configured through its environment."""

    database_url: str
    tg: TelegramSandbox
    daraja: DarajaSandbox | None
    profile: Path | None = None
    port: int = field(default_factory=free_port)
    log_path: Path = field(
        default_factory=lambda: Path(tempfile.mkstemp(prefix="callsheet-bench-", suffix=".log")[1])
    )
    process: subprocess.Popen[bytes] | None = None
    extra_env: dict[str, str] = field(default_factory=dict)  # e.g. SMTP settings

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def callback_url(self) -> str:
        return f"{self.base_url}/daraja/stk/callback/{CALLBACK_SECRET}"

    def environ(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DARAJA_", "SMTP_"))}
        env.update(
            PYTHONPATH=str(ROOT),
            PTB_TIMEDELTA="true",
            TELEGRAM_BOT_TOKEN=BOT_TOKEN,
            TELEGRAM_API_BASE_URL=self.tg.base_url,
            TELEGRAM_MODE="polling",
            HTTP_HOST="127.0.0.1",
            HTTP_PORT=str(self.port),
            DATABASE_URL=self.database_url,
            TIMEZONE="Africa/Nairobi",
            COMPANY_NAME="Sauti Sound",
            EMAIL_BACKEND="folder",
            EMAIL_FOLDER=str(Path(tempfile.gettempdir()) / "callsheet-bench-mail"),
            # No STK query while the benchmark runs: callbacks alone settle the payments.
            PAYMENT_QUERY_AFTER="1d",
            PAYMENT_GIVE_UP_AFTER="2d",
        )
        if self.daraja is not None:
            env.update(
                DARAJA_BASE_URL=self.daraja.base_url,
                DARAJA_CONSUMER_KEY=DARAJA_KEY,
                DARAJA_CONSUMER_SECRET=DARAJA_SECRET,
                DARAJA_SHORTCODE=SHORTCODE,
                DARAJA_PASSKEY=SANDBOX_PASSKEY,
                DARAJA_CALLBACK_SECRET=CALLBACK_SECRET,
                PUBLIC_BASE_URL=self.base_url,
            )
        env.update(self.extra_env)
        return env

    async def start(self) -> None:
        command = [sys.executable]
        if self.profile is not None:
            command += ["-m", "cProfile", "-o", str(self.profile)]
        command += ["-m", "bot.cli", "run"]
        cwd = tempfile.mkdtemp(prefix="callsheet-bench-cwd-")  # no .env is read there
        with self.log_path.open("wb") as log:
            # Popen returns at once; the child's readiness is awaited below.
            self.process = subprocess.Popen(  # noqa: ASYNC220
                command, env=self.environ(), cwd=cwd, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        async with httpx.AsyncClient() as http:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"callsheet exited: see {self.log_path}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.base_url + "/readyz")).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"callsheet did not get ready: see {self.log_path}")
                await asyncio.sleep(0.05)

    def rss_mb(self) -> float:
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def cpu_seconds(self) -> float:
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    async def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        for _ in range(300):
            if self.process.poll() is not None:
                return
            await asyncio.sleep(0.05)
        self.process.kill()
        self.process.wait()

    def spy(self, output: Path) -> subprocess.Popen[bytes]:
        """Sample the app with py-spy (collapsed stacks, idle excluded) until SIGINT."""
        assert self.process is not None
        spy = Path(sys.executable).parent / "py-spy"
        return subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(self.process.pid),
                "--format",
                "raw",
                "--threads",
                "--rate",
                "200",
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def errors_logged(self) -> list[str]:
        text = self.log_path.read_text(errors="replace")
        return [line for line in text.splitlines() if " ERROR " in line or "Traceback" in line]


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


def any_json(value: Any) -> str:
    return json.dumps(value, default=str)
