# ruff: noqa: F811  (the sandbox fixtures are imported from payments_helpers, then used)
"""Payment workers that one bad callback cannot jam: a stranded callback with a receipt that
is not a receipt, and bad callbacks stored in the same INSERT as thirty good ones."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from bot.app import Callsheet
from models import (
    CallbackStatus,
    DarajaCallback,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Person,
)
from models.stamps import stamp
from sandbox.daraja import DarajaSandbox, Outcome
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.conftest import START, Mailbox, People
from tests.payments_helpers import (  # noqa: F401  (tg and daraja are fixtures)
    ask,
    callback_url,
    daraja,
    only_payment,
    settled,
    start_app,
    success_body,
    tg,
)


@pytest.fixture
async def app(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> AsyncIterator[Callsheet]:
    running = await start_app(tg, database_url, smtp_server[1], clock, daraja)
    yield running
    await running.stop()


async def test_a_stranded_callback_with_a_bad_receipt_does_not_stop_the_queries(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, clock: ManualClock
) -> None:
    people = People(app, tg)
    boss, boss_tg = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    jane, _ = await people.add("Jane Wanjiku", "0712 345 678")
    # Payment one: paid, but no callback comes; only a query can settle it.
    daraja.next_outcome(None, Outcome.NO_CALLBACK)
    started = await ask(tg, boss_tg, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss_tg.id, "Waiting for Jane", message_id=started["message_id"])
    queried = await only_payment()
    assert queried.checkout_request_id is not None
    await daraja.wait_for_result(queried.checkout_request_id)
    # Payment two: its callback was stored, then the process died; its receipt has 21
    # characters (no receipt has).
    stranded = await Payment.create(
        **stamp(Payment, START),
        person=jane,
        requested_by=boss,
        phone=jane.phone,
        amount=700,
        purpose="Cable",
        account_reference="Cable",
        transaction_desc="Cable",
        status=PaymentStatus.PENDING,
        checkout_request_id="ws_CO_stranded_1",
        merchant_request_id="stranded-1",
    )
    body = success_body(stranded, "QJK3" + "X" * 17, amount=700.0)
    await DarajaCallback.create(
        **stamp(DarajaCallback, START),
        body=json.dumps(body),
        checkout_request_id=stranded.checkout_request_id,
    )

    clock.advance(timedelta(minutes=3))
    assert app.reconciler is not None
    assert await app.reconciler.run_due() == 1  # payment one was asked about
    assert daraja.stats.queries == 1
    await tg.wait_for_bot_message(
        boss_tg.id,
        "✅ Jane Wanjiku paid KES 1,500 · receipt not yet known",
        message_id=started["message_id"],
    )
    # Payment two is settled, flagged for a manager, and the odd receipt is kept out.
    await tg.wait_for_bot_message(boss_tg.id, "Jane Wanjiku paid, but it was not credited")
    flagged = await Payment.get(id=stranded.id)
    assert flagged.receipt is None and flagged.flag_reason is not None
    assert "is not a receipt number" in flagged.flag_reason
    callback = await DarajaCallback.get(checkout_request_id=stranded.checkout_request_id)
    assert callback.status is CallbackStatus.FLAGGED
    # Only the clean one is credited.
    assert await LedgerEntry.filter(kind=LedgerKind.PAYMENT).count() == 1
    assert await app.reconciler.run_due() == 0  # nothing left to ask about
    # What a manager does next, so the teardown's audit is clean: the receipt of payment one
    # found on the statement, and payment two looked into.
    assert app.services is not None
    await app.services.ledger.resolve_flag(boss, queried.id, "QJK4JANE01 on the statement")
    await app.services.ledger.resolve_flag(boss, stranded.id, "Receipt checked on the statement")


async def test_bad_callbacks_among_thirty_good_ones_leave_the_thirty_answered_and_settled(
    app: Callsheet, tg: TelegramSandbox
) -> None:
    """On PostgreSQL a NUL or an over-long id failed the INSERT the callbacks shared."""
    people = People(app, tg)
    boss, _ = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    jane, _ = await people.add("Jane Wanjiku", "0712 345 678")
    payments = [
        await Payment.create(
            **stamp(Payment, START),
            person=jane,
            requested_by=boss,
            phone=jane.phone,
            amount=100 + n,
            purpose=f"Load {n}",
            account_reference="Load",
            transaction_desc="Load",
            status=PaymentStatus.PENDING,
            checkout_request_id=f"ws_CO_good_{n}",
            merchant_request_id=f"good-{n}",
        )
        for n in range(30)
    ]
    good = [
        json.dumps(success_body(p, f"QGD{n:07d}", amount=float(p.amount))).encode()
        for n, p in enumerate(payments)
    ]
    long_id = success_body(payments[0], "QBAD000001")
    long_id["Body"]["stkCallback"]["CheckoutRequestID"] = "ws_CO_" + "9" * 100
    nul_id = success_body(payments[1], "QBAD000002")
    nul_id["Body"]["stkCallback"]["CheckoutRequestID"] = "ws_CO_good_1\u0000"
    bad = [
        json.dumps(long_id).encode(),
        json.dumps(nul_id).encode(),
        b'{"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_\x00"}}}',
    ]
    async with httpx.AsyncClient() as http:
        replies = await asyncio.gather(
            *(
                http.post(
                    callback_url(app),
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                for body in [*good[:15], *bad, *good[15:]]
            )
        )
    statuses = [r.status_code for r in replies]
    assert statuses[:15] + statuses[18:] == [200] * 30
    assert statuses[15:18] == [400] * 3  # refused, and stored for a person to read
    await settled(app)

    assert {p.status for p in await Payment.all()} == {PaymentStatus.COMPLETED}
    assert await LedgerEntry.filter(kind=LedgerKind.PAYMENT).count() == 30
    # Each payment settled what it asked for: nothing owed, and no credit nobody has.
    assert (await Person.get(id=jane.id)).balance == 0
    kept = await DarajaCallback.filter(checkout_request_id__isnull=True)
    assert len(kept) == 3
    assert all("\x00" not in row.body for row in kept)


@pytest.mark.parametrize("checkout_id", ["ws_CO_" + "7" * 80, "ws_CO_12\u0000"])
async def test_a_push_answered_with_an_unusable_checkout_id_waits_as_not_known(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, checkout_id: str
) -> None:
    """The id cannot be stored or looked up, but a prompt may be on the phone: the payment
    is not known yet, for a manager, and is not resent."""
    people = People(app, tg)
    _, boss_tg = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await people.add("Jane Wanjiku", "0712 345 678")
    daraja.next_checkout_ids.append(checkout_id)
    started = await ask(tg, boss_tg, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss_tg.id, "⏳ Not known yet whether Jane Wanjiku paid", message_id=started["message_id"]
    )
    payment = await only_payment()
    assert payment.status is PaymentStatus.UNKNOWN and payment.checkout_request_id is None
    assert daraja.stats.pushes_accepted == 1  # never resent
