# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""Due-date prompts that must wait: a prompt already on the phone, a client's long name."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.app import Callsheet
from models import Instalment, Payment, PaymentStatus
from sandbox.daraja import DarajaSandbox, Outcome
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.checkout_helpers import browser, events, office, press_pay, visible
from tests.conftest import People
from tests.payments_helpers import app, daraja, tg  # noqa: F401  (fixtures)

CLIENT = "254712345678"


async def test_a_due_date_with_a_prompt_waiting_is_kept_for_after_it_fails(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, clock: ManualClock
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 100000 | 3")
    assert app.services is not None and app.services.checkout is not None
    checkout = app.services.checkout
    # The client is late with the first and pays it on the second's date: that prompt waits.
    clock.set(datetime(2026, 12, 23, 6, 55, tzinfo=UTC))
    daraja.next_outcome(CLIENT, Outcome.HOLD)
    async with browser(app) as client:
        assert (await press_pay(client, link)).json()["state"] == "waiting"
    clock.set(datetime(2026, 12, 23, 7, 0, tzinfo=UTC))  # 10:00 in Nairobi: the second is due
    assert await checkout.push_due() == 0
    second = await Instalment.get(number=2)
    assert second.pushed_at is None  # not given up: looked at again next round
    held = await Payment.get(id=1)
    assert held.checkout_request_id is not None
    await daraja.release(held.checkout_request_id, Outcome.CANCELLED)
    async with browser(app) as client, events(client, link) as stream:
        failed = await stream.until("failed")
        assert "Try again" in visible(failed["html"])
        # Now the second's prompt goes out (the first stays owed, as the page shows).
        assert await checkout.push_due() == 1
        await daraja.wait_for_pushes(2)
        paid = await stream.until("paid")
        assert "Paid so far: KES 33,333 of KES 100,000" in visible(paid["html"])
    assert [p.body["Amount"] for p in daraja.pushes] == [33334, 33333]
    assert (await Instalment.get(number=2)).pushed_at is not None


async def test_a_client_with_a_long_name_can_pay(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox
) -> None:
    desk = await office(tg, people)
    name = "Wanjiku and Kamau Family Wedding Committee of Saint Andrews Church Nairobi West 2026"
    assert 80 < len(name) < 100
    link = await desk.deposit(f"1 | {name} | 0712 345 678 | 60000")
    async with browser(app) as client, events(client, link) as stream:
        await stream.next()
        answer = await press_pay(client, link)
        assert answer.status_code == 200, answer.text
        paid = await stream.until("done")
        assert "Receipt R-2026-000001" in visible(paid["html"])
    payment = await Payment.get(id=1)
    assert payment.status is PaymentStatus.COMPLETED
    assert payment.purpose.startswith(f"Deposit · {name[:40]}")
    assert len(payment.purpose) <= 100


async def test_a_prompt_left_waiting_does_not_hide_the_due_dates_behind_it(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, clock: ManualClock
) -> None:
    desk = await office(tg, people)
    first = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 100000 | 2")
    await desk.deposit("1 | Baraka Events | 0722 111 222 | 50000 | 2")
    assert app.services is not None and app.services.checkout is not None
    clock.set(datetime(2026, 12, 23, 7, 0, tzinfo=UTC))  # both second instalments due
    daraja.next_outcome(CLIENT, Outcome.HOLD)
    async with browser(app) as client:
        assert (await press_pay(client, first)).json()["state"] == "waiting"
    # Read one at a time: Tamu's, whose prompt waits, is left for later; Baraka's goes out.
    assert await app.services.checkout.push_due(limit=1) == 1
    await daraja.wait_for_pushes(2)
    assert [str(p.body["PhoneNumber"]) for p in daraja.pushes] == [CLIENT, "254722111222"]
    assert [i.pushed_at is not None for i in await Instalment.filter(number=2).order_by("id")] == [
        False,
        True,
    ]
