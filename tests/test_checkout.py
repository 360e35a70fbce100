# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""The client checkout: /deposit and its link, the page over real HTTP, paying through the
Daraja sandbox (its callbacks drive the page), and what the manager is told."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

import pytest

from bot.app import Callsheet
from models import Deposit, DepositStatus, InstalmentPayment, Payment, PaymentStatus
from sandbox.daraja import DarajaSandbox, Outcome
from sandbox.telegram import TelegramSandbox
from services.checkout import STILL_WAITING_AFTER
from services.clock import ManualClock
from tests.checkout_helpers import browser, events, office, path, press_pay, visible
from tests.conftest import People
from tests.documents_helpers import pdf_text
from tests.event_setup import said
from tests.payments_helpers import app, daraja, tg  # noqa: F401  (fixtures)

CLIENT = "254712345678"


async def test_a_deposit_gives_a_link_whose_page_shows_the_deposit_and_nothing_else(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    other = await desk.deposit("1 | Baraka Events | 0722 111 222 | 15000")
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 32  # 192 bits, URL-safe
    stored = await Deposit.get(id=1)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(await Deposit.all().values())  # only its hash is kept

    async with browser(app) as client:
        page = await client.get(path(link))
        assert page.status_code == 200
        text = visible(page.text)
        assert "Sauti Sound" in text and "Harusi ya Wanjiru" in text
        assert "Sat 5 Dec, 18:00" in text and "Tamu Weddings" in text
        assert "Due now: KES 60,000" in text and "Pay KES 60,000" in text
        assert 'value="+254 712 345 678"' in page.text
        assert "Baraka" not in text and "15,000" not in text  # the other deposit's
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp
        assert "<script>" not in page.text and "style=" not in page.text
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        assert page.headers["Referrer-Policy"] == "no-referrer"
        assert "Tamu" not in visible((await client.get(path(other))).text)


async def test_pay_waits_for_the_pin_then_shows_the_receipt_and_its_pdf(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    daraja.next_outcome(CLIENT, Outcome.HOLD)
    async with browser(app) as client, events(client, link) as stream:
        assert (await stream.next())["state"] == "ready"
        answer = await press_pay(client, link)
        assert answer.status_code == 200
        assert answer.json()["state"] == "waiting"
        assert "Check your phone and enter your M-Pesa PIN" in visible(answer.json()["html"])
        await stream.until("waiting")
        # A second press while the prompt waits shows the waiting state: no second prompt.
        again = await press_pay(client, link)
        assert again.json()["state"] == "waiting"
        assert len(daraja.pushes) == 1
        payment = await Payment.get(id=1)
        assert payment.status is PaymentStatus.PENDING and payment.person_id is None  # type: ignore[attr-defined]
        assert payment.event_id == 1 and payment.amount == 60000  # type: ignore[attr-defined]
        assert payment.purpose.startswith("Deposit · Tamu Weddings · #1 Harusi")

        assert payment.checkout_request_id is not None
        await daraja.release(payment.checkout_request_id, Outcome.SUCCESS)
        paid = await stream.until("done")
        text = visible(paid["html"])
        assert "Paid in full: KES 60,000. Thank you!" in text
        assert "Receipt R-2026-000001" in text
        pdf = await client.get(path(link) + "/receipt/1.pdf")
        assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
        receipt = pdf_text(pdf.content)
        assert "R-2026-000001" in receipt and "60,000" in receipt
        assert "Tamu Weddings" in receipt and "Deposit · Tamu Weddings" in receipt
        assert (await client.get(path(link) + "/receipt/2.pdf")).status_code == 404
    # The manager's live message names the deposit.
    await tg.wait_for_bot_message(desk.boss.id, "paid KES 60,000")
    told = tg.last_bot_message(desk.boss.id)
    assert told is not None and "Deposit · Tamu Weddings" in told["text"]
    assert (await Deposit.get(id=1)).status is DepositStatus.PAID
    activity = (await said(tg, desk.boss, "/activity", "asked Tamu Weddings"))["text"]
    assert "asked Tamu Weddings for a deposit of KES 60,000 (deposit #1, event #1)" in activity
    listed = (await said(tg, desk.boss, "/deposits", "Latest deposits"))["text"]
    assert "✅ #1 · Tamu Weddings · #1 Harusi ya Wanjiru · KES 60,000 of KES 60,000 paid" in listed


async def test_a_cancelled_prompt_says_why_and_try_again_pays(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    daraja.next_outcome(CLIENT, Outcome.CANCELLED)
    async with browser(app) as client, events(client, link) as stream:
        await press_pay(client, link)
        failed = await stream.until("failed")
        text = visible(failed["html"])
        assert "Not paid. You cancelled the prompt." in text and "Try again" in text
        answer = await press_pay(client, link)
        assert answer.json()["state"] in ("waiting", "done")
        paid = await stream.until("done")
        assert "Receipt R-2026-000001" in visible(paid["html"])
    assert len(daraja.pushes) == 2
    links = await InstalmentPayment.all().order_by("id")
    assert [x.payment_id for x in links] == [1, 2]  # type: ignore[attr-defined]


async def test_no_answer_for_90_seconds_is_still_waiting_never_failed(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    daraja: DarajaSandbox,
    clock: ManualClock,
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    daraja.next_outcome(CLIENT, Outcome.HOLD)
    async with browser(app) as client:
        assert (await press_pay(client, link)).json()["state"] == "waiting"
        clock.advance(STILL_WAITING_AFTER - timedelta(seconds=1))
        assert (await client.get(path(link) + "/status")).json()["state"] == "waiting"
        clock.advance(timedelta(seconds=2))
        status = (await client.get(path(link) + "/status")).json()
        assert status["state"] == "still_waiting"
        text = visible(status["html"])
        assert "Still waiting for M-Pesa" in text
        assert "Not paid" not in text and "failed" not in text.lower()
        assert "Try again" not in text and "Pay KES" not in text  # no second prompt offered
        page = visible((await client.get(path(link))).text)
        assert "Still waiting for M-Pesa" in page and "Refresh" in page  # without JS too
        payment = await Payment.get(id=1)
        assert payment.checkout_request_id is not None
        async with events(client, link) as stream:
            assert (await stream.next())["state"] == "still_waiting"
            await daraja.release(payment.checkout_request_id, Outcome.SUCCESS)
            await stream.until("done")


async def test_two_presses_at_once_send_one_prompt(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    daraja.next_outcome(CLIENT, Outcome.HOLD)
    async with browser(app) as client:
        answers = await asyncio.gather(*(press_pay(client, link) for _ in range(4)))
        assert {a.status_code for a in answers} == {200}
        assert {a.json()["state"] for a in answers} == {"waiting"}
    assert len(daraja.pushes) == 1 and await Payment.all().count() == 1


async def test_an_open_page_does_not_hold_up_a_stop(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    async with browser(app) as client, events(client, link) as stream:
        assert (await stream.next())["state"] == "ready"
        loop = asyncio.get_running_loop()
        started = loop.time()
        await app.stop()  # the stream ends with the worker's stop, before the server waits
        assert loop.time() - started < 5
        with pytest.raises(AssertionError, match="the event stream ended"):
            await stream.next()
    await app.start()  # the fixture stops it again


async def test_an_unknown_prompt_lets_the_client_try_again_and_a_late_success_still_counts(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    daraja: DarajaSandbox,
    clock: ManualClock,
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    daraja.next_outcome(CLIENT, Outcome.HOLD)
    assert app.services is not None and app.services.payments is not None
    async with browser(app) as client:
        await press_pay(client, link)
        first = await Payment.get(id=1)
        assert first.checkout_request_id is not None
        clock.advance(
            timedelta(minutes=31)
        )  # past PAYMENT_GIVE_UP_AFTER: M-Pesa still says nothing
        await app.services.payments.reconciliation.reconcile_due()
        status = (await client.get(path(link) + "/status")).json()
        assert status["state"] == "unconfirmed"
        text = visible(status["html"])
        assert "We have not heard back from M-Pesa" in text and "do not pay again" in text
        assert "Try again" in text
        async with events(client, link) as stream:
            daraja.next_outcome(CLIENT, Outcome.CANCELLED)
            await press_pay(client, link)
            await stream.until("failed")
            await daraja.release(first.checkout_request_id, Outcome.SUCCESS)  # the late callback
            paid = visible((await stream.until("done"))["html"])
    assert "Paid in full: KES 60,000. Thank you!" in paid
    assert "Receipt R-2026-000001" in paid
