# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""Invoices paid through the checkout (SPEC §9): /invoice gives a link, in the caption and in
the client's email; the client types their number and pays on the page; once every part is
paid the invoice is PAID, the manager told and the client thanked, once."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta

import pytest

from bot.app import Callsheet
from models import (
    AuditAction,
    AuditLog,
    Deposit,
    Instalment,
    Invoice,
    InvoiceStatus,
    OutboxMessage,
    Payment,
    Person,
)
from sandbox.daraja import DarajaSandbox, Outcome
from sandbox.telegram import TelegramSandbox
from services.checkout._errors import LinkChanged
from services.checkout._invoices import ONLINE_MAX, close_paid, parts
from services.checkout._links import NewLink, relink
from services.clock import ManualClock
from services.money import MAX_AMOUNT
from tests.checkout_helpers import LINK, browser, events, office, path, press_pay, visible
from tests.conftest import Mailbox, People, text_part
from tests.documents_helpers import pdf_attachment, pdf_text, sent_pdf
from tests.event_setup import said
from tests.payments_helpers import app, daraja, tg  # noqa: F401  (fixtures)
from tests.test_export import _export

CLIENT = "254712345678"
INVOICE = "/invoice 1 | Tamu Weddings | accounts@tamu.example | Sound system 45000; Lighting 30,000"


def test_an_invoice_is_split_into_as_few_payments_as_m_pesa_takes() -> None:
    assert parts(75_000) == [75_000]
    assert parts(MAX_AMOUNT) == [MAX_AMOUNT]
    assert parts(600_000) == [200_000] * 3
    assert parts(500_001) == [166_667, 166_667, 166_667]
    # Just under three full prompts: the remainder spread, no part above the limit.
    assert parts(3 * MAX_AMOUNT - 1) == [MAX_AMOUNT, MAX_AMOUNT, MAX_AMOUNT - 1]
    assert max(parts(ONLINE_MAX)) == MAX_AMOUNT and len(parts(ONLINE_MAX)) == 12
    for total in (1, 2, 249_999, 250_001, 499_999, 1_234_567, ONLINE_MAX):
        split = parts(total)
        assert sum(split) == total and max(split) <= MAX_AMOUNT and min(split) >= 1


async def test_a_client_pays_an_invoice_from_its_link_and_it_becomes_paid_once(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, mail: Mailbox
) -> None:
    desk = await office(tg, people)
    reply = await said(tg, desk.boss, INVOICE, "Invoice INV-2026-000001")
    caption = reply["caption"]
    assert "and the link to pay it" in caption and "The client can pay it by M-Pesa" in caption
    found = LINK.search(caption)
    assert found, caption
    link = found.group(1)
    email = await mail.wait_for("accounts@tamu.example", "INV-2026-000001")
    assert f"Pay it by M-Pesa on this page: {link}" in text_part(email)

    async with browser(app) as client, events(client, link) as stream:
        page = await client.get(path(link))
        text = visible(page.text)
        assert "Invoice INV-2026-000001 for Tamu Weddings : KES 75,000" in text
        assert "Due now: KES 75,000" in text and "Pay KES 75,000" in text
        assert 'value=""' in page.text  # no number yet: the client types theirs
        # Pay without a number: said plainly, and no prompt sent.
        empty = await press_pay(client, link, phone="")
        assert empty.status_code == 400
        assert empty.json()["error"] == "Enter the M-Pesa number to pay from, like 0712 345 678."
        assert daraja.pushes == [] and await Payment.all().count() == 0

        assert (await stream.next())["state"] == "ready"
        daraja.next_outcome(CLIENT, Outcome.HOLD)
        assert (await press_pay(client, link)).json()["state"] == "waiting"
        payment = await Payment.get()
        assert payment.purpose.startswith("Invoice INV-2026-000001 · Tamu Weddings · #1")
        assert payment.account_reference == "INV26-000001" and payment.person_id is None  # type: ignore[attr-defined]
        assert payment.checkout_request_id is not None
        await daraja.release(payment.checkout_request_id, Outcome.SUCCESS)
        done = visible((await stream.until("done"))["html"])
        assert "Paid in full: KES 75,000. Thank you!" in done and "R-2026-000001" in done

    # The checkout worker's round sees the invoice paid: the manager is told, the client
    # thanked, once (another round, or another instance, finds nothing more to do).
    assert app.services is not None and app.services.checkout is not None
    checkout = app.services.checkout
    assert (await Invoice.get()).status is InvoiceStatus.OPEN
    both = await asyncio.gather(checkout.close_paid_invoices(), checkout.close_paid_invoices())
    assert sorted(both) == [0, 1]
    assert await checkout.close_paid_invoices() == 0
    told = await tg.wait_for_bot_message(desk.boss.id, "paid invoice INV-2026-000001 in full")
    assert "Tamu Weddings paid invoice INV-2026-000001 in full: KES 75,000" in told["text"]
    assert "Receipts: R-2026-000001" in told["text"]
    thanks = await mail.wait_for("accounts@tamu.example", "is paid, thank you")
    assert "Receipts: R-2026-000001" in text_part(thanks)
    name, attached = pdf_attachment(thanks)
    paid_pdf = pdf_text(attached)
    assert name == "INV-2026-000001.pdf" and "Total paid" in paid_pdf
    assert "Paid in full. Thank you from Sauti Sound." in paid_pdf
    assert "Total due" not in paid_pdf and "Please quote" not in paid_pdf
    invoice = await Invoice.get()
    assert invoice.status is InvoiceStatus.PAID and invoice.paid_at is not None
    assert await AuditLog.filter(action=AuditAction.INVOICE_PAID).count() == 1
    assert await OutboxMessage.filter(dedupe_key__startswith="invoice-paid:").count() == 3
    listed = (await said(tg, desk.boss, "/deposits", "Latest deposits"))["text"]
    assert "✅ INV-2026-000001 · Tamu Weddings · #1 Harusi ya Wanjiru · KES 75,000 of" in listed
    activity = (await said(tg, desk.boss, "/activity", "paid invoice"))["text"]
    assert "Tamu Weddings" in activity
    assert "paid invoice INV-2026-000001 in full (KES 75,000) by M-Pesa" in activity
    # The accountant's export lists the client's money beside the ledger (on no one's).
    summary, rows, sheet = await _export(tg, desk.boss, "2026-11", "Clients")
    assert "No ledger entries in November 2026" in summary["text"]
    assert (
        "Clients (deposits, invoices; kind “client”, on no one's ledger): KES 75,000 received, 1 row."
        in (summary["text"])
    )
    settled = await Payment.get()
    client_row = [
        "Tamu Weddings",
        "client",
        "mpesa",
        "-75000",
        settled.receipt,
        "invoice INV-2026-000001 · payment #1",
    ]
    assert [row[1:] for row in rows[1:]] == [client_row]
    assert sheet[1][1:5] == ["Tamu Weddings", "client", "mpesa", -75000]
    again = await said(tg, desk.boss, "/receipt 1", "R-2026-000001")
    assert "75,000" in pdf_text(sent_pdf(tg, again)[1])


async def test_a_big_invoice_is_paid_in_parts_within_m_pesa_limits_and_relinked(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, clock: ManualClock
) -> None:
    desk = await office(tg, people)
    reply = await said(
        tg, desk.boss, "/invoice 1 | Baraka Events | ops@baraka.example | Full rig 600000", "🧾"
    )
    found = LINK.search(reply["caption"])
    assert found, reply["caption"]
    link = found.group(1)
    assert [i.amount for i in await Instalment.all().order_by("number")] == [200_000] * 3
    async with browser(app) as client, events(client, link) as stream:
        text = visible((await client.get(path(link))).text)
        assert (
            "in 3 payments (M-Pesa takes at most KES 250,000 at a time, and KES 500,000 a day "
            "from one number)" in text
        )
        assert "Due now: KES 200,000 (payment 1 of 3)" in text
        assert (await stream.next())["state"] == "ready"
        await press_pay(client, link)
        paid = visible((await stream.until("paid"))["html"])
        assert "Due now: KES 200,000 (payment 2 of 3)" in paid
        # The same amount again at once: M-Pesa's two-minute rule, said plainly.
        await press_pay(client, link)
        same = visible((await stream.until("failed"))["html"])
        assert "A payment of the same amount was made moments ago. Wait two minutes" in same
        clock.advance(timedelta(minutes=3))
        await press_pay(client, link)
        paid = visible((await stream.until("paid"))["html"])
        assert "Paid so far: KES 400,000 of KES 600,000" in paid
        # A third the same day passes the payer's daily KES 500,000.
        clock.advance(timedelta(minutes=3))
        await press_pay(client, link)
        over = visible((await stream.until("failed"))["html"])
        assert "Your daily M-Pesa limit is reached." in over
        assert "Due now: KES 200,000 (payment 3 of 3)" in over
    assert (await Invoice.get()).status is InvoiceStatus.OPEN  # a part still to pay

    # Unpaid days later: one alert for the invoice, naming the part to pay next.
    assert app.services is not None and app.services.checkout is not None
    checkout = app.services.checkout
    clock.advance(timedelta(days=3, minutes=1))
    assert await checkout.alert_missed() == 1
    alert = await tg.wait_for_bot_message(desk.boss.id, "has not paid")
    assert "Baraka Events has not paid payment 3 of 3: KES 200,000" in alert["text"]
    assert (
        "Invoice INV-2026-000001 for Harusi ya Wanjiru (#1): KES 400,000 of KES 600,000"
        in (alert["text"])
    )
    assert "Call them on +254 712 345 678; they can pay from their link" in alert["text"]
    clock.advance(timedelta(days=1))
    assert await checkout.alert_missed() == 0

    # The link expired (30 days): /paylink makes a new one, and the old one stops working.
    clock.advance(timedelta(days=30))
    async with browser(app) as client:
        assert (await client.get(path(link))).status_code == 410
    again = await said(tg, desk.boss, "/paylink inv-2026-000001", "New payment link")
    assert "for invoice INV-2026-000001: Baraka Events" in again["text"]
    assert "KES 400,000 of KES 600,000 paid" in again["text"]
    assert "The old link no longer works." in again["text"]
    fresh = LINK.search(again["text"])
    assert fresh and fresh.group(1) != link
    async with browser(app) as client, events(client, fresh.group(1)) as stream:
        assert (await client.get(path(link))).status_code == 404
        assert (await stream.next())["state"] == "failed"
        await press_pay(client, fresh.group(1))
        done = visible((await stream.until("done"))["html"])
        assert "Paid in full: KES 600,000. Thank you!" in done
    assert await checkout.close_paid_invoices() == 1
    refused = await said(tg, desk.boss, "/paylink INV-2026-000001", "❌")
    assert "Invoice INV-2026-000001 is paid: nothing to pay." in refused["text"]
    activity = (await said(tg, desk.boss, "/activity", "new payment link"))["text"]
    assert "made a new payment link for Invoice INV-2026-000001 (Baraka Events)" in activity


async def test_a_huge_invoice_gets_no_link_and_paylink_says_why(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    desk = await office(tg, people)
    huge = await said(
        tg,
        desk.boss,
        f"/invoice 1 | Baraka Events | ops@baraka.example | Festival {ONLINE_MAX + 1}",
        "INV-2026-000001",
    )
    assert "No M-Pesa link: KES 3,000,001 is more than a payment link can take" in huge["caption"]
    assert not re.search(r"/pay/", huge["caption"])
    assert await Deposit.all().count() == 0
    refused = await said(tg, desk.boss, "/paylink INV-2026-000001", "❌")
    assert "more than a payment link can take (KES 3,000,000)" in refused["text"]
    for text, expected in (
        ("/paylink", "Send /paylink with a deposit's number or an invoice's"),
        ("/paylink soon", "“soon” is not a deposit or invoice number."),
        ("/paylink 9", "There is no deposit #9."),
        ("/paylink INV-2026-000009", "There is no invoice INV-2026-000009."),
    ):
        assert expected in (await said(tg, desk.boss, text, "❌"))["text"]
    assert await Deposit.all().count() == 0


async def test_an_invoice_made_without_a_link_gets_one_and_a_cancelled_event_still_owes_it(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, clock: ManualClock
) -> None:
    desk = await office(tg, people)
    boss = await Person.get(phone="+254700000001")
    assert app.services is not None
    # As an invoice made before M-Pesa was set up: no checkout.
    made = await app.services.documents.create_invoice(
        boss, "1 | Tamu Weddings | accounts@tamu.example | Cancellation fee 20000"
    )
    assert made.link is None and await Deposit.all().count() == 0
    card = await said(tg, desk.boss, "/event 1", "Harusi ya Wanjiru")
    await tg.press(desk.boss, card["message_id"], "Cancel event")
    sure = await tg.wait_for_bot_message(desk.boss.id, "Cancel event #1?", after=card["message_id"])
    await tg.press(desk.boss, sure["message_id"], "Yes, cancel it")
    await tg.wait_for_bot_message(desk.boss.id, "Event cancelled", message_id=sure["message_id"])

    # Two managers at once: one checkout, and one of the two links works.
    assert app.services.checkout is not None
    both = await asyncio.gather(
        app.services.checkout.relink(boss, "INV-2026-000001"),
        app.services.checkout.relink(boss, "#inv-2026-000001"),
        return_exceptions=True,
    )
    assert await Deposit.all().count() == 1
    given = [b for b in both if isinstance(b, NewLink)]
    assert given and all(isinstance(b, (NewLink, LinkChanged)) for b in both)
    # A manager whose link was replaced while they made theirs is told, not handed a dead one.
    stale = await Deposit.get()
    await said(tg, desk.boss, "/paylink INV-2026-000001", "New payment link")
    with pytest.raises(LinkChanged, match="Another manager made a new link for invoice INV-"):
        await relink(stale, boss, clock.now(), digest="0" * 64, days=30)
    # In the chat: a third link, the only one that works now.
    again = await said(tg, desk.boss, "/paylink INV-2026-000001", "New payment link")
    fresh = LINK.search(again["text"])
    assert fresh is not None
    link = fresh.group(1)
    async with browser(app) as client:
        for old in given:
            assert (await client.get(path(old.link))).status_code == 404
        page = visible((await client.get(path(link))).text)
        assert "This event was cancelled" not in page and "Pay KES 20,000" in page
        daraja.next_outcome(CLIENT, Outcome.SUCCESS)
        assert (await press_pay(client, link)).status_code == 200
    await daraja.wait_for_pushes(1)


async def test_paid_prompts_do_not_count_against_a_links_hourly_limit(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, clock: ManualClock
) -> None:
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000 | 6")
    async with browser(app) as client, events(client, link) as stream:
        await stream.next()
        for paid in range(1, 7):  # six paid ahead within the hour: the limit is for unpaid ones
            answer = await press_pay(client, link)
            assert answer.status_code == 200, answer.text
            await stream.until("done" if paid == 6 else "paid")
            clock.advance(timedelta(minutes=3))  # M-Pesa's two-minute rule: same amounts
    assert len(daraja.pushes) == 6


async def test_a_paid_invoice_closes_before_older_partly_paid_ones_and_unpaid_ones_are_chased(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox, clock: ManualClock
) -> None:
    desk = await office(tg, people)
    links = []
    for line in ("Full rig 600000", "Sound system 45000", "Lighting 30000"):
        reply = await said(
            tg, desk.boss, f"/invoice 1 | Tamu Weddings | accounts@tamu.example | {line}", "🧾"
        )
        found = LINK.search(reply["caption"])
        assert found
        links.append(found.group(1))
    async with browser(app) as client:
        for link in links[:2]:  # one part of the first, all of the second
            async with events(client, link) as stream:
                await stream.next()
                await press_pay(client, link)
                await stream.until("paid" if link == links[0] else "done")
            clock.advance(timedelta(minutes=3))
    assert app.services is not None and app.services.checkout is not None
    # Read one at a time, the older partly paid invoice does not stand in front.
    assert await close_paid(app.services.checkout.notifier, clock.now(), limit=1) == 1
    statuses = [i.status for i in await Invoice.all().order_by("id")]
    assert statuses == [InvoiceStatus.OPEN, InvoiceStatus.PAID, InvoiceStatus.OPEN]
    # Days later the two open ones are chased once each: by phone once one is known, else
    # by the email the invoice went to.
    clock.advance(timedelta(days=3, minutes=1))
    assert await app.services.checkout.alert_missed() == 2

    def chased() -> list[str] | None:
        texts = [m.get("text") or "" for m in tg.bot_messages(desk.boss.id)]
        found = [t for t in texts if "has not paid" in t]
        return found if len(found) == 2 else None

    alerts = await tg.wait_for(chased, description="the two missed alerts")
    assert "Call them on +254 712 345 678; they can pay from their link" in alerts[0]
    assert "has not paid invoice INV-2026-000003: KES 30,000" in alerts[1]
    assert "Write to them at accounts@tamu.example; they can pay from their link" in alerts[1]
