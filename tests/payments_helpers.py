"""What the payments tests share: the Telegram and Daraja sandboxes, a running Callsheet with
payments on, its people, and the callbacks Daraja would post."""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import Callsheet
from models import (
    Payment,
    Person,
)
from sandbox.daraja import SANDBOX_PASSKEY, DarajaSandbox
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.conftest import (
    BOT_TOKEN,
    BOT_USERNAME,
    Mailbox,
    People,
    app_settings,
    assert_stamped_by,
    free_port,
)

KEY, SECRET = "consumer-key-123", "consumer-secret-456"


CALLBACK_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


JANE_PHONE = "+254712345678"


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    """Telegram's 1 message/s per chat still holds, but a test types faster than a person:
    a larger burst keeps the long conversations here from waiting on Retry-After."""
    sandbox = TelegramSandbox(chat_burst=40)
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


@pytest.fixture
async def daraja(clock: ManualClock) -> AsyncIterator[DarajaSandbox]:
    async with DarajaSandbox(KEY, SECRET, callback_delay=0.05, clock=clock.now) as sandbox:
        yield sandbox


async def start_app(
    tg: TelegramSandbox,
    database_url: str,
    smtp_port: int,
    clock: ManualClock,
    daraja: DarajaSandbox,
    **overrides: Any,
) -> Callsheet:
    # The port is chosen before the app binds it (its callback URL names it), so another
    # process (the other suites, a browser) may take it meanwhile: then another port.
    for attempt in range(5):
        port = free_port()
        settings = app_settings(
            tg,
            database_url,
            smtp_port,
            http_port=port,
            public_base_url=f"http://127.0.0.1:{port}",
            daraja_base_url=daraja.base_url,
            daraja_consumer_key=KEY,
            daraja_consumer_secret=SECRET,
            daraja_shortcode="174379",
            daraja_passkey=SANDBOX_PASSKEY,
            daraja_callback_secret=CALLBACK_SECRET,
            **overrides,
        )
        running = Callsheet(settings, clock=clock)
        try:
            await running.start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or attempt == 4:
                raise
            continue
        return running
    raise AssertionError("unreachable")


@pytest.fixture
async def app(
    request: pytest.FixtureRequest,
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> AsyncIterator[Callsheet]:
    """A running Callsheet with payments on, its callback URL on its own port."""
    marker = request.node.get_closest_marker("app_settings")
    overrides = marker.kwargs if marker else {}
    running = await start_app(tg, database_url, smtp_server[1], clock, daraja, **overrides)
    yield running
    # Whatever a test did, every shilling must still be accounted for, and every time
    # stored came from the app's clock.
    try:
        assert running.services is not None
        assert await running.services.ledger.audit() == []
        await assert_stamped_by(clock)
    finally:
        await running.stop()


@pytest.fixture
async def crew(people: People) -> tuple[Person, SandboxUser, Person, SandboxUser]:
    boss, boss_user = await people.add(
        "Achieng Otieno", "0700 000 001", email="achieng@example.com", manager=True
    )
    jane, jane_user = await people.add("Jane Wanjiku", "0712 345 678", email="jane@example.com")
    return boss, boss_user, jane, jane_user


def callback_url(app: Callsheet, secret: str = CALLBACK_SECRET) -> str:
    return f"http://127.0.0.1:{app.port}/daraja/stk/callback/{secret}"


async def ask(tg: TelegramSandbox, user: SandboxUser, text: str, expect: str) -> dict[str, Any]:
    """Send a command and wait for the bot's message containing `expect`."""
    before = tg.last_bot_message(user.id)
    await tg.send_text(user, text)
    return await tg.wait_for_bot_message(
        user.id, expect, after=before["message_id"] if before else None
    )


def success_body(payment: Payment, receipt: str, amount: float = 1500.0) -> dict[str, Any]:
    """A success callback for `payment`, in Daraja's exact shape (a `Balance` item with no
    value, as Daraja sends it)."""
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": payment.merchant_request_id,
                "CheckoutRequestID": payment.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": amount},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "Balance"},
                        {"Name": "TransactionDate", "Value": 20261123100501},
                        {"Name": "PhoneNumber", "Value": 254712345678},
                    ]
                },
            }
        }
    }


async def settled(app: Callsheet, timeout: float = 30) -> None:
    """Until every callback the app has answered is settled (it answers once it is stored).
    Bounded, so that a worker that stops settling fails the test with its state instead of
    hanging the suite."""
    assert app.services is not None and app.services.callbacks is not None
    try:
        async with asyncio.timeout(timeout):
            await app.services.callbacks.settled()
    except TimeoutError:
        worker = [t for t in app._tasks if t.get_name() == "settle-callbacks"]
        state = [
            "running" if not t.done() else repr(t.exception()) if not t.cancelled() else "cancelled"
            for t in worker
        ]
        pending = len(app.services.callbacks._pending)
        raise AssertionError(
            f"callbacks not settled after {timeout:.0f} s: {pending} pending, worker {state}"
        ) from None


async def only_payment() -> Payment:
    payments = await Payment.all()
    assert len(payments) == 1
    return payments[0]


def run_audit(database_url: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "audit"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )
