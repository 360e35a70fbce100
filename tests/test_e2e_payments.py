"""M-Pesa payments end to end: the Telegram sandbox, the Daraja sandbox, our callback server."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import Callsheet
from models import (
    CallbackStatus,
    DarajaCallback,
    DarajaExchange,
    LedgerEntry,
    LedgerKind,
    OutboxMessage,
    Payment,
    PaymentStatus,
    Person,
    ServiceToken,
)
from models.stamps import stamp
from sandbox.daraja import SANDBOX_PASSKEY, DarajaSandbox, Fault, Outcome
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.conftest import (
    BOT_TOKEN,
    BOT_USERNAME,
    START,
    Mailbox,
    People,
    app_settings,
    assert_stamped_by,
    free_port,
    text_part,
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
    await running.start()
    return running


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


# --- success -------------------------------------------------------------------------------


async def test_paid_request_updates_both_chats_emails_receipts_and_clears_the_balance(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, jane = crew
    await ask(tg, boss, "/charge Jane | 1,500 | Lost XLR cable", "They now owe KES 1,500")

    started = await ask(tg, boss, "/request Jane | KES 1,500 | Cable damage", "Jane Wanjiku")
    paid = await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500 · receipt QJK", message_id=started["message_id"]
    )
    assert "reply_markup" not in paid  # nothing left to press
    payer = await tg.wait_for_bot_message(jane.id, "✅ Paid KES 1,500 · receipt QJK")
    payment = await only_payment()
    assert payment.status is PaymentStatus.COMPLETED and payment.receipt is not None
    assert payment.receipt in paid["text"] and payment.receipt in payer["text"]
    # One live message each, edited in place: no second status message.
    assert sum("Payment #1" in (m.get("text") or "") for m in tg.bot_messages(boss.id)) == 1

    push = daraja.pushes[0].body
    assert push["PhoneNumber"] == "254712345678" and push["Amount"] == 1500
    assert push["AccountReference"] == "Cable damage" and push["TransactionDesc"] == "Cable damage"
    assert push["CallBackURL"] == callback_url(app)

    for address in ("jane@example.com", "achieng@example.com"):
        receipt = await mail.wait_for(address, payment.receipt)
        assert "KES 1,500" in text_part(receipt) and "Cable damage" in text_part(receipt)

    assert (await Person.get(phone=JANE_PHONE)).balance == 0
    entry = await LedgerEntry.get(payment=payment)
    assert entry.amount == -1500
    await ask(tg, jane, "/balance", "You owe nothing")
    statement = tg.last_bot_message(jane.id)
    assert statement is not None and payment.receipt in statement["text"]

    # Every exchange with Daraja is kept, secrets redacted.
    exchanges = await DarajaExchange.all().order_by("id")
    assert [e.operation for e in exchanges] == ["oauth", "stk_push"]
    stored = json.dumps([e.request_body for e in exchanges]) + "".join(
        e.response_body or "" for e in exchanges
    )
    assert SANDBOX_PASSKEY not in stored and CALLBACK_SECRET not in stored
    assert exchanges[1].payment_id == payment.id  # type: ignore[attr-defined]
    callback = await DarajaCallback.get(checkout_request_id=payment.checkout_request_id)
    assert callback.status is CallbackStatus.APPLIED and "MpesaReceiptNumber" in callback.body


async def test_guided_request_asks_each_field_and_re_asks_bad_ones(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    await ask(tg, boss, "/request", "Who should pay?")
    await ask(tg, boss, "Nobody Here", "Nobody on the crew list is called")
    await ask(tg, boss, "jane", "How much")
    await ask(tg, boss, "1500.50", "has cents")
    await ask(tg, boss, "2000", "What is it for?")
    started = await ask(tg, boss, "Advance", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    assert (await only_payment()).amount == 2000


async def test_crew_cannot_request(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, _, _, jane = crew
    await ask(tg, jane, "/request Jane | 100 | x", "Only managers")
    await ask(tg, jane, "/balances", "Only managers")
    assert daraja.pushes == [] and await Payment.all().count() == 0


# --- failures ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "status", "reason"),
    [
        (Outcome.CANCELLED, PaymentStatus.CANCELLED, "cancelled by the payer"),
        (Outcome.UNREACHABLE, PaymentStatus.TIMEOUT, "the phone could not be reached"),
        (Outcome.WRONG_PIN, PaymentStatus.FAILED, "wrong PIN"),
        (Outcome.INSUFFICIENT, PaymentStatus.FAILED, "insufficient M-Pesa balance"),
    ],
)
async def test_failure_shows_the_reason_with_resend_and_check_status(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
    outcome: Outcome,
    status: PaymentStatus,
    reason: str,
) -> None:
    _, boss, _, jane = crew
    daraja.next_outcome("254712345678", outcome)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    failed = await tg.wait_for_bot_message(
        boss.id,
        f"❌ Jane Wanjiku did not pay KES 1,500: {reason}",
        message_id=started["message_id"],
    )
    buttons = [b["text"] for row in failed["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["Resend", "Check status"]
    await tg.wait_for_bot_message(jane.id, f"❌ Not paid KES 1,500: {reason}")
    payment = await only_payment()
    assert payment.status is status and await LedgerEntry.all().count() == 0

    # Check status asks Daraja and agrees; Resend sends a new prompt that can succeed.
    query_id = await tg.press(boss, started["message_id"], "Check status")
    answer = await tg.wait_for_callback_answer(query_id)
    assert status.value in answer["text"]
    query_id = await tg.press(boss, started["message_id"], "Resend")
    await tg.wait_for_callback_answer(query_id)
    resent = await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", after=started["message_id"]
    )
    assert "Payment #2" in resent["text"]
    second = await Payment.get(id=2)
    assert second.resend_of_id == payment.id  # type: ignore[attr-defined]
    assert len(daraja.pushes) == 2
    # A second press on the old message (or a stale one) does not prompt the payer again.
    query_id = await tg.press(boss, started["message_id"], "Resend")
    again = await tg.wait_for_callback_answer(query_id)
    assert again["text"] == "Payment #1 was already resent as #2."
    assert len(daraja.pushes) == 2


async def test_a_refused_push_fails_with_the_human_reason(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    daraja.spike_limit = 0  # every push: 500.003.02 spike arrest
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss.id, "M-Pesa is busy right now; try again in a minute", message_id=started["message_id"]
    )
    payment = await only_payment()
    assert payment.status is PaymentStatus.FAILED and payment.checkout_request_id is None


# --- refused before anything is sent ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/request 0812 345 678 | 1500 | Deposit", "is not a Kenyan mobile number"),
        ("/request +255 712 345 678 | 1500 | Deposit", "is not a Kenyan number"),
        ("/request 0712 345 67 | 1500 | Deposit", "wrong number of digits"),
        ("/request Jane | 0 | Deposit", "is not a positive amount"),
        ("/request Jane | 1500.50 | Deposit", "has cents"),
        ("/request Jane | 250,001 | Deposit", "is too large"),
        ("/request Jane | -5 | Deposit", "is not a positive amount"),
        ("/request Jane | lots | Deposit", "is not an amount"),
        ("/request Jane | 1500 | !!!", "must contain letters or digits"),
        ("/request Jane | 1500", "needs 3 parts"),
    ],
)
async def test_invalid_phone_amount_or_purpose_is_refused_before_any_request(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
    text: str,
    expected: str,
) -> None:
    _, boss, _, _ = crew
    await ask(tg, boss, text, expected)
    assert daraja.pushes == [] and daraja.stats.tokens_issued == 0
    assert await Payment.all().count() == 0


async def test_a_repeat_within_two_minutes_asks_first(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    first = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=first["message_id"])
    clock.advance(timedelta(seconds=40))
    question = await ask(tg, boss, "/request 0712345678 | 1500 | Deposit", "Send again?")
    assert "40 seconds ago" in question["text"]
    assert len(daraja.pushes) == 1
    query_id = await tg.press(boss, question["message_id"], "Don't send")
    await tg.wait_for_callback_answer(query_id)
    await tg.wait_for_bot_message(boss.id, "Not sent.", message_id=question["message_id"])
    assert len(daraja.pushes) == 1

    question = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Send again?")
    await tg.press(boss, question["message_id"], "Send again")
    # Daraja refuses the same amount to the same phone within 2 minutes (result 17).
    await tg.wait_for_bot_message(boss.id, "wait 2 minutes before resending")
    assert len(daraja.pushes) == 2
    # A different amount is not a repeat.
    await ask(tg, boss, "/request Jane | 1400 | Deposit", "KES 1,400")
    await tg.wait_for(lambda: len(daraja.pushes) == 3)


# --- no callback: reconciliation ------------------------------------------------------------


async def test_no_callback_is_resolved_by_query_after_the_delay(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, jane = crew
    await ask(tg, boss, "/charge Jane | 1500 | Advance", "They now owe")
    daraja.next_outcome(None, Outcome.NO_CALLBACK)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    payment = await only_payment()
    assert payment.checkout_request_id is not None
    await daraja.wait_for_result(payment.checkout_request_id)  # paid, but no callback comes
    assert app.reconciler is not None
    assert await app.reconciler.run_due() == 0  # too early to ask
    clock.advance(timedelta(minutes=3))
    assert await app.reconciler.run_due() == 1
    await tg.wait_for_bot_message(
        boss.id,
        "✅ Jane Wanjiku paid KES 1,500 · receipt not yet known",
        message_id=started["message_id"],
    )
    await tg.wait_for_bot_message(jane.id, "✅ Paid KES 1,500")
    assert (await Person.get(id=jane_person.id)).balance == 0
    assert await app.reconciler.run_due() == 0  # settled: never asked again
    assert daraja.stats.queries == 1
    # The query has no receipt: the audit asks until a manager records where it is.
    assert app.services is not None
    assert [str(m) for m in await app.services.ledger.audit()] == [
        "payment #1: completed without an M-Pesa receipt: find it on the M-Pesa statement, "
        "then /resolve 1 | the receipt"
    ]
    await ask(tg, boss, "/resolve 1 | QJK4JANE01 on the statement", "✅ Payment #1 resolved")
    listing = await ask(tg, boss, "/payments", "Payments (latest)")
    assert "receipt not yet known · QJK4JANE01 on the statement" in listing["text"]


async def test_a_payment_still_processing_is_marked_unknown_for_managers_then_settled_late(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    assert app.reconciler is not None
    clock.advance(timedelta(minutes=4))
    assert await app.reconciler.run_due() == 1
    assert (await only_payment()).status is PaymentStatus.PENDING  # "being processed"
    clock.advance(timedelta(minutes=30))
    assert await app.reconciler.run_due() == 1
    await tg.wait_for_bot_message(
        boss.id, "⏳ Not known yet whether Jane Wanjiku paid", message_id=started["message_id"]
    )
    await tg.wait_for_bot_message(boss.id, "needs a manager: M-Pesa still says")
    await mail.wait_for("achieng@example.com", "needs a manager")
    payment = await only_payment()
    assert payment.status is PaymentStatus.UNKNOWN
    # The payer finally answers: the late callback still settles it.
    assert payment.checkout_request_id is not None
    await daraja.release(payment.checkout_request_id, Outcome.SUCCESS)
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", message_id=started["message_id"]
    )


async def test_a_callback_stored_but_never_applied_is_applied_after_a_crash(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    """The process died between storing a callback and applying it: nothing is lost."""
    _, boss, jane_person, _ = crew
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    payment = await only_payment()
    body = success_body(payment, "QJK9CRASH1")
    await DarajaCallback.create(
        **stamp(DarajaCallback, START),
        body=json.dumps(body),
        checkout_request_id=payment.checkout_request_id,
    )
    assert app.reconciler is not None
    clock.advance(timedelta(minutes=1))
    await app.reconciler.run_due()
    await tg.wait_for_bot_message(
        boss.id,
        "✅ Jane Wanjiku paid KES 1,500 · receipt QJK9CRASH1",
        message_id=started["message_id"],
    )
    await app.reconciler.run_due()  # a second sweep changes nothing
    assert await LedgerEntry.filter(kind=LedgerKind.PAYMENT).count() == 1
    assert (
        await Person.get(id=jane_person.id)
    ).balance == 0  # credited, and charged with the request
    assert [c.status for c in await DarajaCallback.all()] == [CallbackStatus.APPLIED]


# --- callbacks: duplicates, races, mismatches ------------------------------------------------


async def test_a_duplicate_callback_credits_once(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    daraja.next_outcome(None, Outcome.DUPLICATE)
    await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    payment = await tg.wait_for(lambda: daraja.pushes and daraja.pushes[0].checkout_id)
    delivered = await daraja.wait_for_callback(payment, count=2)
    assert [d.status for d in delivered] == [200, 200]
    await settled(app)
    statuses = sorted(c.status.value for c in await DarajaCallback.all())
    assert statuses == ["applied", "duplicate"]
    assert await LedgerEntry.filter(kind=LedgerKind.PAYMENT).count() == 1
    assert (
        await Person.get(id=jane_person.id)
    ).balance == 0  # credited, and charged with the request


async def test_twenty_identical_callbacks_at_once_change_the_payment_once(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, jane = crew
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    prompt = await tg.wait_for_bot_message(jane.id, "Enter your M-Pesa PIN")
    query_id = await tg.press(jane, prompt["message_id"], "Check status")
    assert (await tg.wait_for_callback_answer(query_id))["text"] == "Payment #1: pending"
    payment = await only_payment()
    body = success_body(payment, "QJK3ABCDEF")
    async with httpx.AsyncClient() as http:
        replies = await asyncio.gather(
            *(http.post(callback_url(app), json=body) for _ in range(20))
        )
    assert [r.status_code for r in replies] == [200] * 20
    await settled(app)
    statuses = [c.status for c in await DarajaCallback.all()]
    assert statuses.count(CallbackStatus.APPLIED) == 1
    assert statuses.count(CallbackStatus.DUPLICATE) == 19
    assert await LedgerEntry.filter(kind=LedgerKind.PAYMENT).count() == 1
    assert (
        await Person.get(id=jane_person.id)
    ).balance == 0  # credited, and charged with the request
    await tg.wait_for_bot_message(boss.id, "receipt QJK3ABCDEF", message_id=started["message_id"])
    await mail.wait_for("jane@example.com", "QJK3ABCDEF")
    receipts = [m for m in mail.to("jane@example.com") if "receipt" in str(m["Subject"])]
    assert len(receipts) == 1  # one receipt, not twenty


async def test_a_burst_of_callbacks_settles_each_payment_once(
    app: Callsheet,
    tg: TelegramSandbox,
    mail: Mailbox,
    people: People,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    """Callbacks for many payments at once (stored together, settled in batches), with a
    redelivery and another payment's receipt among them; a payer without an email gets the
    receipt number in chat and no email row at all."""
    boss, boss_user, jane, _ = crew
    otieno, otieno_user = await people.add("Otieno Kamau", "0722 111 222")  # no email
    payers = [jane, otieno]
    payments = [
        await Payment.create(
            **stamp(Payment, START),
            person=payers[n % 2],
            requested_by=boss,
            phone=payers[n % 2].phone,
            amount=100 + n,
            purpose=f"Load {n}",
            account_reference="Load",
            transaction_desc="Load",
            status=PaymentStatus.PENDING,
            checkout_request_id=f"ws_CO_burst_{n}",
            merchant_request_id=f"burst-{n}",
        )
        for n in range(12)
    ]

    def body(payment: Payment, receipt: str) -> dict[str, Any]:
        callback = success_body(payment, receipt, amount=float(payment.amount))
        items = callback["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
        items[-1]["Value"] = int(payment.phone.lstrip("+"))
        return callback

    async with httpx.AsyncClient() as http:
        first = await http.post(callback_url(app), json=body(payments[0], "QBU0000000"))
        assert first.status_code == 200
        bodies = [body(p, f"QBU{n:07d}") for n, p in enumerate(payments[1:11], 1)]
        bodies += [body(payments[0], "QBU0000000"), body(payments[11], "QBU0000000")]
        replies = await asyncio.gather(*(http.post(callback_url(app), json=b) for b in bodies))
    assert [r.status_code for r in replies] == [200] * len(bodies)
    await settled(app)

    settled_payments = {p.id: p for p in await Payment.all()}
    assert {settled_payments[p.id].status for p in payments} == {PaymentStatus.COMPLETED}
    replayed = settled_payments[payments[11].id]
    assert replayed.receipt is None and replayed.flag_reason is not None
    assert f"already used for payment #{payments[0].id}" in replayed.flag_reason
    statuses = [c.status for c in await DarajaCallback.all()]
    assert statuses.count(CallbackStatus.APPLIED) == 11
    assert statuses.count(CallbackStatus.DUPLICATE) == 1
    assert statuses.count(CallbackStatus.FLAGGED) == 1
    assert await LedgerEntry.filter(kind=LedgerKind.PAYMENT).count() == 11
    for payer in payers:
        credited = sum(p.amount for p in payments[:11] if p.person_id == payer.id)  # type: ignore[attr-defined]
        credits = LedgerEntry.filter(kind=LedgerKind.PAYMENT, person_id=payer.id)
        assert -sum(e.amount for e in await credits) == credited
        assert (await Person.get(id=payer.id)).balance == 0  # each charged with its request

    await tg.wait_for_bot_message(otieno_user.id, "✅ Paid KES 101 · receipt QBU0000001")
    await tg.wait_for_bot_message(boss_user.id, "Otieno Kamau paid, but it was not credited")
    await mail.wait_for("jane@example.com", "QBU0000000")
    receipts = await OutboxMessage.filter(kind="payment_receipt").values_list(
        "person_id", flat=True
    )
    assert otieno.id not in receipts and jane.id in receipts and boss.id in receipts
    assert app.services is not None
    await app.services.ledger.resolve_flag(boss, payments[11].id, "A replay: nothing was paid")


async def test_a_callback_that_beats_the_push_response_is_applied(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    daraja.next_outcome(None, Outcome.BEFORE_RESPONSE)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500 · receipt QJK", message_id=started["message_id"]
    )
    callback = await DarajaCallback.get()
    assert callback.status is CallbackStatus.APPLIED
    assert (
        await Person.get(id=jane_person.id)
    ).balance == 0  # credited, and charged with the request


async def test_an_amount_mismatch_is_flagged_not_credited_and_managers_told(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    daraja.next_outcome(None, Outcome.AMOUNT_MISMATCH)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss.id,
        "it was not credited: M-Pesa reports KES 1,499 paid, but KES 1,500 was asked",
        message_id=started["message_id"],
    )
    await tg.wait_for_bot_message(boss.id, "needs a manager")
    alert = await mail.wait_for("achieng@example.com", "needs a manager")
    assert "KES 1,499" in text_part(alert)
    payment = await only_payment()
    assert payment.flag_reason and payment.paid_amount == 1499
    assert (await DarajaCallback.get()).status is CallbackStatus.FLAGGED
    assert await LedgerEntry.all().count() == 0
    assert (await Person.get(id=jane_person.id)).balance == 0
    await ask(tg, boss, "/payments flagged", "flagged: M-Pesa reports KES 1,499")
    await ask(tg, boss, "/resolve 1 | Jane topped up KES 1 in cash", "✅ Payment #1 resolved")
    await ask(tg, boss, "/payments flagged", "resolved: Jane topped up KES 1 in cash")


async def test_unknown_and_malformed_callbacks_are_stored(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox
) -> None:
    unknown = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "1-2-3",
                "CheckoutRequestID": "ws_CO_nobody",
                "ResultCode": 1032,
                "ResultDesc": "Request cancelled by user",
            }
        }
    }
    async with httpx.AsyncClient() as http:
        ok = await http.post(callback_url(app), json=unknown)
        bad = await http.post(callback_url(app), content=b'{"Body": {}}')
        not_json = await http.post(callback_url(app), content=b"<xml/>")
    assert (ok.status_code, bad.status_code, not_json.status_code) == (200, 400, 400)
    await settled(app)
    rows = await DarajaCallback.all().order_by("id")
    assert [r.status for r in rows] == [
        CallbackStatus.UNMATCHED,
        CallbackStatus.RECEIVED,
        CallbackStatus.RECEIVED,
    ]
    assert rows[2].body == "<xml/>"


async def test_a_wrong_secret_is_404_and_nothing_is_stored(
    app: Callsheet, daraja: DarajaSandbox
) -> None:
    async with httpx.AsyncClient() as http:
        wrong = await http.post(callback_url(app, "0f1e2d3c4b5a69788796a5b4c3d2e1f1"), json={})
        empty = await http.post(f"http://127.0.0.1:{app.port}/daraja/stk/callback/", json={})
    assert (wrong.status_code, empty.status_code) == (404, 404)
    assert await DarajaCallback.all().count() == 0


@pytest.mark.app_settings(daraja_allowed_ips="196.201.214.200,196.201.214.206")
async def test_a_callback_from_outside_the_allowlist_is_refused(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    checkout = await tg.wait_for(lambda: daraja.pushes and daraja.pushes[0].checkout_id)
    delivered = await daraja.wait_for_callback(checkout)
    assert delivered[0].status == 403  # the sandbox posts from 127.0.0.1
    assert await DarajaCallback.all().count() == 0
    assert (await only_payment()).status is PaymentStatus.PENDING
    # X-Forwarded-For is not believed from an untrusted peer.
    async with httpx.AsyncClient() as http:
        spoofed = await http.post(
            callback_url(app),
            json=delivered[0].body,
            headers={"X-Forwarded-For": "196.201.214.200"},
        )
    assert spoofed.status_code == 403


@pytest.mark.app_settings(daraja_allowed_ips="196.201.214.200", daraja_trusted_proxies="127.0.0.1")
async def test_a_trusted_proxy_passes_on_safaricoms_address(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    checkout = await tg.wait_for(lambda: daraja.pushes and daraja.pushes[0].checkout_id)
    delivered = await daraja.wait_for_callback(checkout)
    assert delivered[0].status == 403  # no X-Forwarded-For from the proxy: refused
    async with httpx.AsyncClient() as http:
        forwarded = await http.post(
            callback_url(app),
            json=delivered[0].body,
            headers={"X-Forwarded-For": "10.9.8.7, 196.201.214.200"},
        )
    assert forwarded.status_code == 200
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    assert (await DarajaCallback.get()).remote_ip == "196.201.214.200"


# --- tokens --------------------------------------------------------------------------------


async def test_an_expired_token_is_refreshed_once_and_shared_through_the_database(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    first = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=first["message_id"])
    token = await ServiceToken.get(name="daraja")
    daraja.expire_tokens()  # Daraja forgets it before our expiry time says so
    second = await ask(tg, boss, "/request Jane | 900 | Transport", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=second["message_id"])
    assert daraja.stats.tokens_issued == 2
    assert [p.error_code for p in daraja.pushes] == [None, "404.001.03", None]
    assert (await ServiceToken.get(name="daraja")).token != token.token


# --- balances --------------------------------------------------------------------------------


async def test_a_long_list_of_balances_fits_one_message(
    app: Callsheet, tg: TelegramSandbox, crew: tuple[Person, SandboxUser, Person, SandboxUser]
) -> None:
    _, boss, _, _ = crew
    owing = [
        Person(
            **stamp(Person, START),
            name=f"Stagehand Number {i:03d}",
            phone=f"+2547100{i:05d}",
            balance=100 + i,
        )
        for i in range(120)
    ]
    await Person.bulk_create(owing)
    people = await Person.filter(name__startswith="Stagehand")
    await LedgerEntry.bulk_create(
        [
            LedgerEntry(
                **stamp(LedgerEntry, START),
                person=p,
                kind=LedgerKind.CHARGE,
                amount=p.balance,
                description="Fuel",
            )
            for p in people
        ]
    )
    listing = await ask(tg, boss, "/balances", "Outstanding balances")
    total = sum(100 + i for i in range(120))
    assert f"KES {total:,} in all, 120 people" in listing["text"]
    assert "Stagehand Number 119" in listing["text"]  # the largest first
    assert "Stagehand Number 000" not in listing["text"]
    assert "…and 70 more with smaller balances" in listing["text"]
    assert len(listing["text"]) <= 4096


async def test_charges_balances_and_payment_lists(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    people: People,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, jane = crew
    await people.add("Otieno Kamau", "0722 111 222")
    await ask(tg, boss, "/balances", "Nobody owes anything")
    await ask(tg, boss, "/charge", "Who owes it?")
    await ask(tg, boss, "Otieno", "matches several people: Achieng Otieno (#1), Otieno Kamau")
    await ask(tg, boss, "otieno kamau", "How much")
    await ask(tg, boss, "800", "What is it for?")
    await ask(tg, boss, "Lost clamp", "They now owe KES 800")
    await ask(tg, boss, "/charge Jane | 1500 | Cable", "They now owe KES 1,500")
    await ask(tg, boss, "/charge Nobody | 1500 | Cable", "Nobody on the crew list")
    await ask(tg, boss, "/charge Jane | 0 | Cable", "not a positive amount")
    balances = await ask(tg, boss, "/balances", "Outstanding balances")
    assert balances["text"].index("Jane Wanjiku") < balances["text"].index("Otieno Kamau")
    assert "KES 2,300 in all" in balances["text"]

    daraja.next_outcome(None, Outcome.CANCELLED)
    started = await ask(tg, boss, "/request Jane | 1500 | Cable", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "❌", message_id=started["message_id"])
    second = await ask(tg, boss, "/request Jane | 1000 | Cable part", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=second["message_id"])
    listing = await ask(tg, boss, "/payments Jane", "Payments (Jane Wanjiku)")
    assert "cancelled: cancelled by the payer" in listing["text"]
    assert "paid · receipt QJK" in listing["text"]
    await ask(tg, boss, "/payments cancelled", "#1")
    mine = await ask(tg, jane, "/balance", "You owe KES 500")
    assert "charge +KES 1,500 · Cable" in mine["text"]
    assert "payment −KES 1,000" in mine["text"]
    await ask(tg, jane, "/payments", "Only managers")


# --- callsheet audit -------------------------------------------------------------------------


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


async def test_callsheet_audit_is_clean_after_payments_and_reports_tampering(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    database_url: str,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    await ask(tg, boss, "/charge Jane | 2500 | Lost mic", "They now owe")
    started = await ask(tg, boss, "/request Jane | 1500 | Mic", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    clean = await asyncio.to_thread(run_audit, database_url)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "every balance matches" in clean.stdout

    # Someone edits a balance by hand and deletes a payment's ledger entry.
    await Person.filter(id=jane_person.id).update(balance=5)
    entry = await LedgerEntry.get(payment_id=1)
    await entry.delete()
    found = await asyncio.to_thread(run_audit, database_url)
    assert found.returncode == 1
    assert "person #2 Jane Wanjiku: balance KES 5 but ledger sums to KES 2,500" in found.stdout
    assert "payment #1: completed but has 0 ledger entries" in found.stdout
    # Put it back so the fixture's own audit passes.
    await LedgerEntry.create(
        **stamp(LedgerEntry, START),
        person_id=jane_person.id,
        kind=entry.kind,
        amount=entry.amount,
        description=entry.description,
        payment_id=1,
    )
    await Person.filter(id=jane_person.id).update(balance=1000)


# --- no answer to the push ---------------------------------------------------------------


@pytest.mark.app_settings(daraja_timeout_seconds=0.5)
async def test_a_push_without_an_answer_is_never_resent_and_is_settled_by_its_callback(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    await daraja.set_fault(Fault.SLOW)  # Daraja takes the push but answers too late
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    unknown = await tg.wait_for_bot_message(
        boss.id,
        "⏳ Not known yet whether Jane Wanjiku paid KES 1,500: no answer from M-Pesa",
        message_id=started["message_id"],
    )
    assert [b["text"] for b in unknown["reply_markup"]["inline_keyboard"][0]] == ["Resend"]
    await mail.wait_for("achieng@example.com", "needs a manager")
    payment = await only_payment()
    assert payment.status is PaymentStatus.UNKNOWN and payment.checkout_request_id is None
    assert len(daraja.pushes) == 1  # one prompt on Jane's phone, not two

    # Jane pays; the callback carries a CheckoutRequestID we never saw, but its phone and
    # amount match the one unknown payment.
    checkout = daraja.pushes[0].checkout_id
    assert checkout is not None
    await daraja.release(checkout, Outcome.SUCCESS)
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", message_id=started["message_id"]
    )
    assert (await only_payment()).checkout_request_id == checkout
    assert (
        await Person.get(id=jane_person.id)
    ).balance == 0  # credited, and charged with the request


@pytest.mark.app_settings(daraja_timeout_seconds=0.5)
async def test_a_callback_that_came_while_the_push_was_in_flight_is_applied_when_it_times_out(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    """Jane pays before Daraja answers the push, and the answer never comes: her callback
    waited (unmatched) while the push was in flight; once the push is given up as unknown
    it is the one payment it can be, and the manager sees her paid, not 'ask before
    resending' (a Resend there would make her pay twice)."""
    _, boss, jane_person, _ = crew
    await daraja.set_fault(Fault.SLOW)  # the answer to the push comes too late
    daraja.next_outcome(None, Outcome.BEFORE_RESPONSE)  # she pays while we wait for it
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", message_id=started["message_id"]
    )
    payment = await only_payment()
    assert payment.status is PaymentStatus.COMPLETED
    assert payment.checkout_request_id == daraja.pushes[0].checkout_id
    assert len(daraja.pushes) == 1
    assert (await Person.get(id=jane_person.id)).balance == 0  # credited, and charged


async def test_cancel_leaves_nothing_behind(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    await ask(tg, boss, "/request", "Who should pay?")
    prompt = await ask(tg, boss, "Jane", "How much")
    query_id = await tg.press(boss, prompt["message_id"], "Cancel")
    await tg.wait_for_callback_answer(query_id)
    await tg.wait_for_bot_message(boss.id, "Cancelled. Nothing was saved.")
    await ask(tg, boss, "/charge", "Who owes it?")
    await ask(tg, boss, "/cancel", "Cancelled. Nothing was saved.")
    await ask(tg, boss, "1500", "Send /help")  # the conversation is over
    assert daraja.pushes == [] and await Payment.all().count() == 0


# --- money goes to the right payment, once (issue 10) -----------------------------------------


@pytest.mark.app_settings(daraja_timeout_seconds=0.5)
async def test_a_resends_early_callback_is_credited_to_the_resend_never_the_old_payment(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    await daraja.set_fault(Fault.SLOW)  # the first push's answer never reaches us
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "⏳ Not known yet", message_id=started["message_id"])
    first_checkout = daraja.pushes[0].checkout_id
    assert first_checkout is not None
    await daraja.release(first_checkout, Outcome.CANCELLED)  # Jane dismissed that prompt
    await daraja.wait_for_callback(first_checkout)
    await settled(app)
    await daraja.set_fault(Fault.NONE)
    # The resend's success callback arrives before Daraja's answer to the push.
    daraja.next_outcome(None, Outcome.BEFORE_RESPONSE)
    query_id = await tg.press(boss, started["message_id"], "Resend")
    assert (await tg.wait_for_callback_answer(query_id))["text"] == "Sent again as payment #2"
    resent = await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", after=started["message_id"]
    )
    assert "Payment #2" in resent["text"]
    first, second = await Payment.all().order_by("id")
    assert first.status is PaymentStatus.UNKNOWN and first.checkout_request_id is None
    assert second.status is PaymentStatus.COMPLETED
    assert second.checkout_request_id == daraja.pushes[1].checkout_id
    credit = await LedgerEntry.get(kind=LedgerKind.PAYMENT)
    assert credit.payment_id == second.id  # type: ignore[attr-defined]
    assert credit.person_id == jane_person.id  # type: ignore[attr-defined]


async def settled_by_query(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    boss: SandboxUser,
    request: str,
) -> tuple[dict[str, Any], Payment]:
    """`request` is paid, but its callback does not come: the STK query settles it, without
    a receipt. Returns the manager's live message and the payment."""
    daraja.next_outcome(None, Outcome.NO_CALLBACK)
    started = await ask(tg, boss, request, "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    payment = await only_payment()
    assert payment.checkout_request_id is not None
    await daraja.wait_for_result(payment.checkout_request_id)
    clock.advance(timedelta(minutes=3))
    assert await app.services.payments.reconciliation.reconcile_due() == 1  # type: ignore[union-attr]
    await tg.wait_for_bot_message(
        boss.id, "receipt not yet known", message_id=started["message_id"]
    )
    return started, payment


async def test_a_callback_after_the_query_settled_fills_in_the_receipt(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    await ask(tg, boss, "/charge Jane | 1500 | Advance", "They now owe")
    started, payment = await settled_by_query(
        app, tg, daraja, clock, boss, "/request Jane | 1500 | Deposit"
    )
    async with httpx.AsyncClient() as http:
        answer = await http.post(callback_url(app), json=success_body(payment, "QJK7LATE01"))
    assert answer.status_code == 200
    await settled(app)
    await tg.wait_for_bot_message(
        boss.id,
        "✅ Jane Wanjiku paid KES 1,500 · receipt QJK7LATE01",
        message_id=started["message_id"],
    )
    assert (await DarajaCallback.get()).status is CallbackStatus.APPLIED
    assert (await only_payment()).receipt == "QJK7LATE01"
    assert (await Person.get(id=jane_person.id)).balance == 0


async def test_a_late_callback_that_disagrees_with_the_query_is_flagged_and_uncredited(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    await ask(tg, boss, "/charge Jane | 1500 | Advance", "They now owe")
    started, payment = await settled_by_query(
        app, tg, daraja, clock, boss, "/request Jane | 1500 | Deposit"
    )
    assert (await Person.get(id=jane_person.id)).balance == 0
    body = success_body(payment, "QJK7LATE02", amount=1000.0)
    async with httpx.AsyncClient() as http:
        assert (await http.post(callback_url(app), json=body)).status_code == 200
    await settled(app)
    await tg.wait_for_bot_message(
        boss.id,
        "it was not credited: M-Pesa reports KES 1,000 paid, but KES 1,500 was asked",
        message_id=started["message_id"],
    )
    await tg.wait_for_bot_message(boss.id, "needs a manager")
    assert (await DarajaCallback.get()).status is CallbackStatus.FLAGGED
    flagged = await only_payment()
    assert flagged.receipt == "QJK7LATE02" and flagged.paid_amount == 1000
    assert (await Person.get(id=jane_person.id)).balance == 1500  # the credit is withdrawn
    await ask(tg, boss, "/payments flagged", "flagged: M-Pesa reports KES 1,000")
    assert [str(m) for m in await app.services.ledger.audit()] == [  # type: ignore[union-attr]
        "payment #1: flagged and not resolved (M-Pesa reports KES 1,000 paid, but KES 1,500 "
        "was asked): /resolve 1 | what was done"
    ]
    await ask(tg, boss, "/resolve 1 | Jane will pay the rest in cash", "✅ Payment #1 resolved")


async def test_a_late_mismatch_after_a_resolve_undoes_the_request_s_charge_and_flags_again(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    """Jane owed nothing and was asked for a KES 500 tip. The query settled it (credit, and
    a charge for the tip so she shows no credit); a manager resolved the missing receipt.
    Then the callback says KES 300: the payment is flagged again, the credit and the tip's
    charge are both undone, as if the callback had come first."""
    _, boss, jane_person, _ = crew
    started, payment = await settled_by_query(
        app, tg, daraja, clock, boss, "/request Jane | 500 | Tip"
    )
    assert (await Person.get(id=jane_person.id)).balance == 0
    await ask(tg, boss, "/resolve 1 | Receipt on the statement", "✅ Payment #1 resolved")

    body = success_body(payment, "QJK7LATE03", amount=300.0)
    async with httpx.AsyncClient() as http:
        assert (await http.post(callback_url(app), json=body)).status_code == 200
    await settled(app)
    await tg.wait_for_bot_message(
        boss.id,
        "it was not credited: M-Pesa reports KES 300 paid, but KES 500 was asked",
        message_id=started["message_id"],
    )
    assert (await Person.get(id=jane_person.id)).balance == 0  # neither credit nor tip stays
    assert [str(m) for m in await app.services.ledger.audit()] == [  # type: ignore[union-attr]
        "payment #1: flagged and not resolved (M-Pesa reports KES 300 paid, but KES 500 "
        "was asked): /resolve 1 | what was done"
    ]
    await ask(tg, boss, "/resolve 1 | Jane paid KES 300 of the tip", "✅ Payment #1 resolved")


@pytest.mark.app_settings(daraja_timeout_seconds=10)
async def test_a_push_answered_after_it_was_marked_unknown_keeps_its_id(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    daraja.slow_seconds = 2.0
    await daraja.set_fault(Fault.SLOW)
    daraja.next_outcome(None, Outcome.HOLD)
    before = tg.last_bot_message(boss.id)
    await tg.send_text(boss, "/request Jane | 1500 | Deposit")
    await daraja.wait_for_pushes(1)
    # The push is still waiting for Daraja's answer when the reconciler's turn comes.
    clock.advance(timedelta(minutes=4))
    assert app.services is not None and app.services.payments is not None
    await app.services.payments.reconciliation.reconcile_due()
    assert (await only_payment()).status is PaymentStatus.UNKNOWN
    waiting = await tg.wait_for_bot_message(
        boss.id, "Waiting for Jane", after=before["message_id"] if before else None
    )
    payment = await only_payment()
    assert payment.status is PaymentStatus.PENDING
    assert payment.checkout_request_id == daraja.pushes[0].checkout_id
    await daraja.release(payment.checkout_request_id, Outcome.CANCELLED)
    await tg.wait_for_bot_message(
        boss.id, "❌ Jane Wanjiku did not pay KES 1,500", message_id=waiting["message_id"]
    )


async def test_check_status_asks_mpesa_at_most_every_30_seconds(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    answers = []
    for _ in range(5):
        query_id = await tg.press(boss, started["message_id"], "Check status")
        answers.append((await tg.wait_for_callback_answer(query_id))["text"])
    assert answers[0] == "Payment #1: pending"
    assert (
        answers[1:]
        == ["M-Pesa was just asked about payment #1. You can check again in 30 seconds."] * 4
    )
    assert daraja.stats.queries == 1
    clock.advance(timedelta(seconds=31))
    query_id = await tg.press(boss, started["message_id"], "Check status")
    assert (await tg.wait_for_callback_answer(query_id))["text"] == "Payment #1: pending"
    assert daraja.stats.queries == 2


# --- what a request means for a balance ---------------------------------------------------


async def test_a_request_settles_what_is_owed_and_charges_the_rest_so_nobody_shows_credit(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, jane = crew
    started = await ask(tg, boss, "/request Jane | 500 | Tip", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    assert (await Person.get(id=jane_person.id)).balance == 0
    await ask(tg, jane, "/balance", "✅ You owe nothing.")
    statement = tg.last_bot_message(jane.id)
    assert (
        statement is not None
        and "charge +KES 500 · Tip · asked with payment #1" in (statement["text"])
    )

    await ask(tg, boss, "/charge Jane | 1000 | Lost mic", "They now owe KES 1,000")
    started = await ask(tg, boss, "/request Jane | 1500 | Mic and transport", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    assert (await Person.get(id=jane_person.id)).balance == 0
    extra = await LedgerEntry.filter(kind=LedgerKind.CHARGE).order_by("id")
    assert [(e.amount, e.description) for e in extra] == [
        (500, "Tip · asked with payment #1"),
        (1000, "Lost mic"),
        (500, "Mic and transport · asked with payment #2"),
    ]
    await ask(tg, boss, "/balances", "Nobody owes anything, and nobody is in credit")


async def test_a_charge_can_be_undone_once_and_balances_show_credit(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    await ask(
        tg, boss, "/charge Jane | 1500 | Lost XLR cable", "(entry #1). They now owe KES 1,500"
    )
    started = await ask(tg, boss, "/request Jane | 1500 | Cable", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    await ask(
        tg,
        boss,
        "/uncharge 1 | The cable was found",
        "✅ Charge #1 undone (KES 1,500) for Jane Wanjiku. They are now KES 1,500 in credit.",
    )
    undo = await LedgerEntry.get(reverses_id=1)
    assert undo.amount == -1500 and undo.created_by_id == crew[0].id  # type: ignore[attr-defined]
    assert "The cable was found" in undo.description
    listing = await ask(tg, boss, "/balances", "In credit")
    assert "Nobody owes anything" in listing["text"]
    assert "Jane Wanjiku (#2) · KES 1,500" in listing["text"]
    await ask(tg, boss, "/uncharge 1 | again", "❌ Charge #1 was already undone (entry #3).")
    await ask(tg, boss, "/uncharge 2 | no", "❌ Entry #2 is not a charge (payment)")
    await ask(tg, boss, "/uncharge 99 | no", "❌ There is no ledger entry #99.")
    assert (
        await Person.get(id=jane_person.id)
    ).balance == -1500  # in credit: the charge was undone


async def test_a_deactivated_person_who_owes_can_be_charged_and_asked_to_pay(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    boss_person, boss, jane_person, _ = crew
    await ask(tg, boss, "/charge Jane | 1500 | Lost XLR cable", "They now owe KES 1,500")
    assert app.services is not None
    await app.services.people.set_active(boss_person, jane_person.id, False)
    await ask(tg, boss, "/charge #2 | 500 | Late return", "They now owe KES 2,000")
    started = await ask(tg, boss, "/request #2 | 2000 | Settle up", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 2,000", message_id=started["message_id"]
    )
    assert (await Person.get(id=jane_person.id)).balance == 0


# --- the audit sees what went wrong -----------------------------------------------------------


async def test_callsheet_audit_reports_each_money_mismatch(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    database_url: str,
    people: People,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    bob, _ = await people.add("Bob Otieno", "0722 000 003")
    assert app.services is not None
    # 1 and 2: two payments whose entries are then tampered with.
    for amount in (1500, 1200):
        await ask(tg, boss, f"/charge Jane | {amount} | Gear", "They now owe")
        started = await ask(tg, boss, f"/request Jane | {amount} | Gear", "Jane Wanjiku")
        await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    first = await LedgerEntry.get(payment_id=1)
    await LedgerEntry.filter(id=first.id).update(amount=-1000)
    await Person.filter(id=jane_person.id).update(balance=500)
    second = await LedgerEntry.get(payment_id=2)
    await LedgerEntry.filter(id=second.id).update(person_id=bob.id)
    await Person.filter(id=jane_person.id).update(balance=1700)
    await Person.filter(id=bob.id).update(balance=-1200)
    # 3: a completed payment whose receipt never came.
    daraja.next_outcome(None, Outcome.NO_CALLBACK)
    started = await ask(tg, boss, "/request Jane | 300 | Gear", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    third = await Payment.get(id=3)
    assert third.checkout_request_id is not None
    await daraja.wait_for_result(third.checkout_request_id)
    clock.advance(timedelta(minutes=3))
    await app.services.payments.reconciliation.reconcile_due()  # type: ignore[union-attr]
    await tg.wait_for_bot_message(boss.id, "receipt not yet known")
    # 4: a flagged payment nobody resolved.
    daraja.next_outcome(None, Outcome.AMOUNT_MISMATCH)
    started = await ask(tg, boss, "/request Jane | 800 | Gear", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "not credited", message_id=started["message_id"])
    # 5: money in that matched no payment.
    orphan = success_body(third, "QJK5ORPHAN", amount=700.0)
    orphan["Body"]["stkCallback"]["CheckoutRequestID"] = "ws_CO_NOBODY"
    async with httpx.AsyncClient() as http:
        assert (await http.post(callback_url(app), json=orphan)).status_code == 200
    await settled(app)
    orphan_row = await DarajaCallback.get(checkout_request_id="ws_CO_NOBODY")
    clock.advance(timedelta(minutes=11))  # the orphan had its time to match

    found = await asyncio.to_thread(run_audit, database_url)
    assert found.returncode == 1, found.stdout + found.stderr
    for line in (
        f"payment #1: KES 1,500 paid but ledger entry #{first.id} credits KES 1,000",
        f"payment #2: paid by #2 Jane Wanjiku but ledger entry #{second.id} credits #3 Bob Otieno",
        "payment #3: completed without an M-Pesa receipt",
        "payment #4: flagged and not resolved (M-Pesa reports KES 799 paid",
        f"callback #{orphan_row.id}: M-Pesa reports KES 700 paid from +254 712 345 678 (receipt QJK5ORPHAN), "
        "but no payment matched it: nobody was credited",
    ):
        assert line in found.stdout, found.stdout
    assert "audit: 5 mismatch(es)" in found.stdout

    # Put it right, so that the fixture's own audit passes.
    await LedgerEntry.filter(id=first.id).update(amount=-1500)
    await LedgerEntry.filter(id=second.id).update(person_id=jane_person.id)
    owed = sum(e.amount for e in await LedgerEntry.filter(person_id=jane_person.id))
    await Person.filter(id=jane_person.id).update(balance=owed)
    await Person.filter(id=bob.id).update(balance=0)
    async with httpx.AsyncClient() as http:
        late = success_body(third, "QJK5LATE03", amount=300.0)
        assert (await http.post(callback_url(app), json=late)).status_code == 200
    await settled(app)
    await ask(tg, boss, "/resolve 4 | Refunded by hand", "✅ Payment #4 resolved")
    await DarajaCallback.filter(checkout_request_id="ws_CO_NOBODY").delete()
    assert await app.services.ledger.audit() == []


async def test_receipts_are_escaped_in_payments_and_balance(
    app: Callsheet,
    tg: TelegramSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    boss_person, boss, jane_person, jane = crew
    payment = await Payment.create(
        **stamp(Payment, START),
        person_id=jane_person.id,
        phone=JANE_PHONE,
        amount=100,
        purpose="Test",
        account_reference="Test",
        transaction_desc="Test",
        requested_by_id=boss_person.id,
        status=PaymentStatus.COMPLETED,
        receipt="<QJK&1>",
        paid_amount=100,
    )
    await LedgerEntry.create(
        **stamp(LedgerEntry, START),
        person_id=jane_person.id,
        kind=LedgerKind.PAYMENT,
        amount=-100,
        description="M-Pesa <QJK&1>",
        payment_id=payment.id,
    )
    await Person.filter(id=jane_person.id).update(balance=-100)
    listing = await ask(tg, boss, "/payments", "Payments (latest)")
    assert "receipt <QJK&1>" in listing["text"]
    statement = await ask(tg, jane, "/balance", "M-Pesa requests")
    assert "receipt <QJK&1>" in statement["text"]
