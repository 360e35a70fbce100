# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""Instalments (each later one pushed once on its date, whatever the instances), missed
instalments, refusals, limits and expired links on the client checkout."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.app import Callsheet
from models import (
    Deposit,
    Instalment,
    NotificationKind,
    OutboxMessage,
    Payment,
)
from sandbox.daraja import DarajaSandbox, Outcome
from sandbox.telegram import TelegramSandbox
from services.checkout import PUSHES_PER_HOUR, CheckoutWorker
from services.clock import ManualClock
from tests.checkout_helpers import browser, events, office, path, press_pay, visible
from tests.conftest import People
from tests.event_setup import said
from tests.payments_helpers import app, daraja, tg  # noqa: F401  (fixtures)

CLIENT = "254712345678"


async def test_an_instalment_plan_pushes_the_second_once_on_its_date_across_instances(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    daraja: DarajaSandbox,
    clock: ManualClock,
) -> None:
    desk = await office(tg, people)
    reply = await said(
        tg, desk.boss, "/deposit 1 | Tamu Weddings | 0712 345 678 | 100000 | 3", "Send this link"
    )
    text = reply["text"]
    assert "in 3 monthly instalments" in text
    # One instalment a line.
    assert "\n1. KES 33,334 · now\n" in text
    assert "\n2. KES 33,333 · Wed 23 Dec, 10:00\n" in text
    assert "\n3. KES 33,333 · Sat 23 Jan 2027, 10:00\n" in text
    link = text[text.index("http://") :].split()[0]
    async with browser(app) as client, events(client, link) as stream:
        first = await stream.next()
        assert "Due now: KES 33,334 (instalment 1 of 3)" in visible(first["html"])
        await press_pay(client, link)
        paid = await stream.until("paid")
        shown = visible(paid["html"])
        assert "Paid KES 33,334" in shown and "Paid so far: KES 33,334 of KES 100,000" in shown
        assert "Next: KES 33,333 , due Wed 23 Dec, 10:00" in shown.replace("33,333,", "33,333 ,")

        # Not yet: the day before, nothing goes out.
        assert app.services is not None and app.services.checkout is not None
        checkout = app.services.checkout
        clock.set(datetime(2026, 12, 23, 6, 59, tzinfo=UTC))
        assert await checkout.push_due() == 0
        # 10:00 in Nairobi on the 23rd: two instances' workers race; one prompt goes out.
        clock.set(datetime(2026, 12, 23, 7, 0, tzinfo=UTC))
        pushed = await asyncio.gather(
            CheckoutWorker(checkout).round(), CheckoutWorker(checkout).round()
        )
        assert sum(pushed) == 1
        await daraja.wait_for_pushes(2)
        assert len(daraja.pushes) == 2 and daraja.pushes[1].body["Amount"] == 33333
        second = await stream.until("paid")
        shown = visible(second["html"])
        assert "Paid so far: KES 66,667 of KES 100,000" in shown
        assert "Due now" not in shown and "Next: KES 33,333" in shown
        assert await CheckoutWorker(checkout).round() == 0
    told = await tg.wait_for_bot_message(desk.boss.id, "Instalment 2 of 3 from Tamu Weddings")
    assert "is due today" in told["text"] and "KES 33,333" in told["text"]
    due = OutboxMessage.filter(kind=NotificationKind.DEPOSIT, dedupe_key__startswith="deposit-due")
    assert await due.count() == 2  # one chat message, one email: once
    assert len(daraja.pushes) == 2


async def test_a_missed_instalment_alerts_the_manager_once(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    desk = await office(tg, people)
    await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000 | 2")
    assert app.services is not None and app.services.checkout is not None
    checkout = app.services.checkout
    clock.advance(timedelta(days=2, hours=23))
    assert await checkout.alert_missed() == 0
    clock.advance(timedelta(hours=1))
    told = await asyncio.gather(checkout.alert_missed(), checkout.alert_missed())
    assert sum(told) == 1
    alert = await tg.wait_for_bot_message(desk.boss.id, "has not paid")
    assert "Tamu Weddings has not paid instalment 1 of 2" in alert["text"]
    assert "KES 0 of KES 60,000 paid" in alert["text"]
    assert await checkout.alert_missed() == 0
    missed = OutboxMessage.filter(
        kind=NotificationKind.DEPOSIT, dedupe_key__startswith="deposit-missed"
    )
    assert await missed.count() == 2  # chat and email, once


async def test_bad_deposits_are_refused_field_by_field_and_nothing_is_saved(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    desk = await office(tg, people)
    _, crew = await people.add("Jane Wanjiku", "0712 000 111")
    boss = desk.boss
    for typed, expect in [
        ("99 | Tamu | 0712345678 | 5000", "There is no event #99"),
        ("x | Tamu | 0712345678 | 5000", "“x” is not an event number"),
        ("1 |  | 0712345678 | 5000", "Say who the client is"),
        ("1 | Tamu | 12345 | 5000", "“12345” has the wrong number of digits"),
        ("1 | Tamu | 0712345678 | 50.50", "has cents"),
        ("1 | Tamu | 0712345678 | 5000 | 13", "“13” is not a number of instalments"),
        ("1 | Tamu | 0712345678 | 2 | 3", "KES 2 cannot be split into 3 instalments"),
        ("1 | Tamu | 0712345678 | 600000 | 2", "Each M-Pesa payment is at most KES 250,000"),
        ("1 | Tamu", "/deposit needs 5 parts"),
    ]:
        await said(tg, boss, f"/deposit {typed}", expect)
    await said(tg, crew, "/deposit 1 | Tamu | 0712345678 | 5000", "Only managers")
    # Guided: each answer checked as it comes, a bad one asked again.
    await said(tg, boss, "/deposit", "Which event is the deposit for?")
    await said(tg, boss, "7", "There is no event #7")
    await said(tg, boss, "1", "Who is the client?")
    await said(tg, boss, "Tamu Weddings", "M-Pesa number")
    await said(tg, boss, "0712 345 678", "How much")
    await said(tg, boss, "9", "In how many monthly instalments?")
    await said(tg, boss, "10", "KES 9 cannot be split into 10 instalments")
    assert await Deposit.all().count() == 0
    await said(tg, boss, "3", "Send this link")
    assert [i.amount for i in await Instalment.all().order_by("number")] == [3, 3, 3]


async def test_a_bad_phone_on_the_page_is_refused_and_sends_nothing(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    async with browser(app) as client:
        answer = await press_pay(client, link, phone="0812 345")
        assert answer.status_code == 400
        assert "“0812 345” has the wrong number of digits" in answer.json()["error"]
        # Without JS: the form posts, the page comes back with the message and the phone.
        page = await client.post(path(link), data={"phone": "hello"})
        assert page.status_code == 400
        assert "“hello” is not a Kenyan mobile number" in visible(page.text)
        assert 'value="hello"' in page.text
    assert daraja.pushes == [] and await Payment.all().count() == 0


async def test_prompts_and_requests_are_limited_per_link_and_per_address(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    daraja: DarajaSandbox,
    clock: ManualClock,
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    async with browser(app) as client, events(client, link) as stream:
        await stream.next()
        for _ in range(PUSHES_PER_HOUR):
            daraja.next_outcome(CLIENT, Outcome.CANCELLED)
            assert (await press_pay(client, link)).status_code == 200
            await stream.until("failed")
        refused = await press_pay(client, link)
        assert refused.status_code == 429
        assert "Too many payment prompts" in refused.json()["error"]
        assert len(daraja.pushes) == PUSHES_PER_HOUR
        clock.advance(timedelta(hours=1))
        again = await press_pay(client, link)
        assert again.status_code == 200, again.text
        await stream.until("done")

        # Every request counts against the address: 60 a minute.
        clock.advance(timedelta(minutes=1))
        answers = [(await client.get(path(link) + "/status")).status_code for _ in range(61)]
        assert answers[:60] == [200] * 60 and answers[60] == 429
        assert "Too many requests" in (await client.get(path(link))).text
        clock.advance(timedelta(minutes=1))
        assert (await client.get(path(link))).status_code == 200


async def test_an_expired_or_unknown_link_shows_nothing(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    deposit = await Deposit.get(id=1)
    assert deposit.expires_at == deposit.created_at + timedelta(days=30)
    async with browser(app) as client:
        unknown = await client.get("/pay/" + "A" * 32)
        assert unknown.status_code == 404
        assert "This link has expired or is not valid." in visible(unknown.text)
        clock.set(deposit.expires_at)
        for suffix in ("", "/status", "/events", "/receipt/1.pdf"):
            gone = await client.get(path(link) + suffix)
            assert gone.status_code == 410, suffix
        page = await client.get(path(link))
        assert "This link has expired or is not valid." in visible(page.text)
        assert "Tamu" not in page.text and "60,000" not in page.text
        posted = await press_pay(client, link)
        assert posted.status_code == 410 and "Tamu" not in posted.text


async def test_without_javascript_pay_posts_and_comes_back_to_the_page(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000 | 2")
    daraja.next_outcome(CLIENT, Outcome.HOLD)
    async with browser(app) as client:
        posted = await client.post(path(link), data={"phone": "0712 345 678"})
        assert posted.status_code == 303 and posted.headers["Location"] == path(link)
        page = visible((await client.get(path(link))).text)
        assert "Check your phone and enter your M-Pesa PIN" in page and "Refresh" in page


async def test_a_cancelled_events_deposit_asks_nothing_more(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, clock: ManualClock
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000 | 2")
    await said(tg, desk.boss, "/deposit 1 | Baraka | 0722 111 222 | 5000", "Send this link")
    card = await said(tg, desk.boss, "/event 1", "Harusi ya Wanjiru")
    await tg.press(desk.boss, card["message_id"], "Cancel event")
    sure = await tg.wait_for_bot_message(desk.boss.id, "Cancel event #1?", after=card["message_id"])
    await tg.press(desk.boss, sure["message_id"], "Yes, cancel it")
    await tg.wait_for_bot_message(desk.boss.id, "Event cancelled", message_id=sure["message_id"])
    async with browser(app) as client:
        refused = await press_pay(client, link)
        assert refused.status_code == 409
        assert "This event was cancelled" in refused.json()["error"]
        page = visible((await client.get(path(link))).text)
        assert "This event was cancelled" in page and "Pay KES" not in page
    assert app.services is not None and app.services.checkout is not None
    clock.advance(timedelta(days=40))
    assert await app.services.checkout.push_due() == 0
    assert await app.services.checkout.alert_missed() == 0
    assert daraja.pushes == []
    await said(tg, desk.boss, "/deposit 1 | Tamu | 0712 345 678 | 500", "is cancelled")
