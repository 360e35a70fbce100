# ruff: noqa: F811  (fixtures are imported from the helpers, then used)
"""Refunds end to end, through both sandboxes: a whole payment reversed, part of one sent
back by B2C, approvals, refusals, a lost result and "already reversed" settled by
Transaction Status, and two managers at once. Each test ends with the audit clean (the app
fixture): no payment refunded more than it paid, every refund made has its entry and its
receipt."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.app import Callsheet
from models import (
    AuditAction,
    AuditLog,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Person,
    Receipt,
    ReceiptKind,
    Refund,
    RefundMethod,
    RefundStatus,
)
from sandbox.daraja import DarajaSandbox, Delivery
from sandbox.daraja._operator_state import Reversal
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.buttons.refunds import ApproveRefund
from services.clock import ManualClock
from services.ledger.export import Exports
from services.refunds import NotRefundable, RefundAsk
from tests.checkout_helpers import browser, events, office, press_pay
from tests.conftest import Mailbox, People, text_part
from tests.documents_helpers import pdf_attachment, pdf_text
from tests.payments_helpers import ask, daraja, settled, start_app, tg  # noqa: F401
from tests.payroll_helpers import press_and_answer
from tests.statements import STK, Line, as_csv
from tests.test_payday import app, sweep_now  # noqa: F401  (app is a fixture)
from tests.webhooks_helpers import SECRET, receiving, verify

JANE = "254712345678"


async def paid(
    app: Callsheet, tg: TelegramSandbox, people: People, amount: int = 1500
) -> tuple[SandboxUser, SandboxUser, Payment]:
    """Achieng (manager) asked Jane for `amount`; Jane paid it."""
    _, boss = await people.add(
        "Achieng Otieno", "0700 000 001", email="achieng@example.com", manager=True
    )
    _, jane = await people.add("Jane Wanjiku", "0712 345 678", email="jane@example.com")
    started = await ask(tg, boss, f"/request Jane | {amount} | Stage deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"], timeout=15)
    await settled(app)
    payment = await Payment.get(id=1)
    assert payment.status is PaymentStatus.COMPLETED and payment.receipt
    return boss, jane, payment


async def card(
    tg: TelegramSandbox, user: SandboxUser, contains: str, refund: int = 1
) -> dict[str, Any]:
    """Refund #`refund`'s card in `user`'s chat once it says `contains` (it is edited)."""

    def found() -> dict[str, Any] | None:
        for message in reversed(tg.bot_messages(user.id)):
            text = message.get("text") or ""
            if f"Refund #{refund}: " in text and contains in text:
                return message
        return None

    return await tg.wait_for(found, 15, description=f"refund #{refund} card with {contains!r}")


async def test_a_whole_payment_goes_back_by_reversal_with_receipt_ledger_and_emails(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    daraja: DarajaSandbox,
    smtp_server: tuple[Mailbox, int],
) -> None:
    boss, jane, payment = await paid(app, tg, people)
    jane_person = await Person.get(phone="+" + JANE)
    balance_before = jane_person.balance
    await tg.send_text(boss, "/refund 1 | charged twice")
    done = await card(tg, boss, "Refunded")
    assert done["text"].startswith("✅ Refund #1: KES 1,500 back to Jane Wanjiku")
    assert "The whole payment, by M-Pesa reversal." in done["text"]
    reversal = daraja.reversal_of(payment.receipt or "")
    assert reversal is not None and reversal.amount == 1500
    assert daraja.operator_stats.reversals_accepted == 1
    refund = await Refund.get(id=1)
    assert refund.status is RefundStatus.REFUNDED and refund.method is RefundMethod.REVERSAL
    assert refund.receipt == reversal.transaction_id
    assert f"M-Pesa receipt {reversal.transaction_id}" in done["text"]
    assert "Our receipt: R-2026-000002" in done["text"]
    # The payer is told in the chat and by email, the receipt's PDF attached.
    notice = await tg.wait_for_bot_message(jane.id, "refunded KES 1,500", timeout=15)
    assert "Reason: charged twice" in notice["text"]
    mailbox, _ = smtp_server
    mail = await mailbox.wait_for("jane@example.com", "refunded to you")
    assert reversal.transaction_id in text_part(mail)
    name, data = pdf_attachment(mail)
    assert name == "R-2026-000002.pdf"
    text = pdf_text(data)
    assert "R-2026-000002" in text and "Refunded to" in text and "KES 1,500" in text
    assert reversal.transaction_id in text and (payment.receipt or "") in text
    # Every manager is told, by email too.
    told = await mailbox.wait_for("achieng@example.com", "Refunded: KES 1,500")
    assert "Refund #1 was made" in text_part(told)
    # The ledger: the refund, and the deposit charge it gave back; Jane owes what she did.
    kinds = [(e.kind, e.amount) for e in await LedgerEntry.all().order_by("id")]
    assert kinds[-2:] == [(LedgerKind.REFUND, 1500), (LedgerKind.ADJUSTMENT, -1500)]
    assert (await Person.get(id=jane_person.id)).balance == balance_before
    receipt = await Receipt.get(refund_id=refund.id)
    assert receipt.kind is ReceiptKind.REFUND and receipt.amount == 1500
    # Nothing more can go back: a second refund is refused, and nothing is sent.
    await ask(tg, boss, "/refund 1 | again", "❌ Payment #1 (KES 1,500) is refunded in full")
    assert daraja.operator_stats.reversals_accepted == 1
    # The accountant's export names the refund, its method and M-Pesa receipt.
    month = await Exports(app.settings.tz).month("2026-11")
    row = next(r for r in month.rows if r.kind == "refund")
    assert (row.method, row.amount, row.receipt) == (
        "mpesa reversal",
        1500,
        reversal.transaction_id,
    )
    assert row.reference == "refund #1 of payment #1"
    # M-Pesa's statement lists the payment in and the reversal out: both match our books.
    boss_person = await Person.get(phone="+254700000001")
    lines = [
        Line(payment.receipt or "", datetime(2026, 11, 23, 10, 1), STK, paid_in=Decimal(1500)),
        Line(
            reversal.transaction_id,
            datetime(2026, 11, 23, 10, 2),
            "Reversal",
            withdrawn=Decimal(1500),
        ),
    ]
    content = as_csv(datetime(2026, 11, 1), datetime(2026, 11, 30, 23, 59, 59), lines, Decimal(0))
    assert app.services is not None
    report = await app.services.reconciler.reconcile("statement.csv", content, boss_person)
    assert report.reconciliation.matched == 2
    assert report.reconciliation.not_in_books == report.reconciliation.not_in_statement == 0


async def test_part_of_a_payment_goes_back_by_b2c_and_no_more_than_is_left(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    daraja: DarajaSandbox,
) -> None:
    boss, jane, payment = await paid(app, tg, people)
    await tg.send_text(boss, "/refund 1 | 500 | overcharged for the riser")
    done = await card(tg, boss, "Refunded")
    assert "By M-Pesa to" in done["text"]
    refund = await Refund.get(id=1)
    assert refund.method is RefundMethod.B2C and refund.status is RefundStatus.REFUNDED
    sent = daraja.payout(refund.originator_conversation_id)
    assert sent is not None and sent.amount == 500 and sent.phone == JANE
    assert refund.receipt == sent.transaction_id
    assert daraja.reversal_of(payment.receipt or "") is None
    await tg.wait_for_bot_message(jane.id, "refunded KES 500", timeout=15)
    # What is left is 1,000: more is refused with the figure, and nothing is written.
    await ask(
        tg,
        boss,
        "/refund 1 | 1,200 | the rest",
        "❌ Payment #1 paid KES 1,500. KES 500 of it is refunded or on its way back, so at "
        "most KES 1,000 can go back.",
    )
    assert await Refund.all().count() == 1
    # The rest, left unnamed: all that is left, by B2C again (a part of the payment).
    await tg.send_text(boss, "/refund 1 | all | the rest")
    rest = await card(tg, boss, "Refunded", refund=2)
    assert "KES 1,000 back to Jane Wanjiku" in rest["text"]
    assert (await Refund.get(id=2)).method is RefundMethod.B2C


async def test_two_managers_refunding_at_once_never_give_back_more_than_was_paid(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    daraja: DarajaSandbox,
) -> None:
    boss_user, _, _ = await paid(app, tg, people)
    other, other_user = await people.add("Baraka Mwangi", "0700 000 002", manager=True)
    boss = await Person.get(phone="+254700000001")
    assert app.services is not None and app.services.refunds is not None
    refunds = app.services.refunds
    outcomes = await asyncio.gather(
        refunds.request(boss, RefundAsk(1, 1000, "double charge")),
        refunds.request(other, RefundAsk(1, 1000, "double charge")),
        return_exceptions=True,
    )
    made = [o for o in outcomes if isinstance(o, Refund)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(made) == 1 and len(refused) == 1
    assert isinstance(refused[0], NotRefundable)
    assert "at most KES 500 can go back" in str(refused[0])
    winner = boss_user if made[0].requested_by_id == boss.id else other_user  # type: ignore[attr-defined]
    await card(tg, winner, "Refunded")
    assert len([p for p in daraja.payouts.values() if p.paid]) == 1


async def test_a_reversal_whose_result_is_lost_is_confirmed_never_sent_again(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    daraja: DarajaSandbox,
    clock: ManualClock,
) -> None:
    boss, _, payment = await paid(app, tg, people)
    daraja.next_reversal(Delivery.LOST)
    await tg.send_text(boss, "/refund 1 | wrong event")
    await card(tg, boss, "Sent to M-Pesa. Waiting for M-Pesa's answer.")
    assert daraja.reversal_of(payment.receipt or "") is not None  # M-Pesa did it
    assert (await Refund.get(id=1)).status is RefundStatus.SENT
    # Two minutes without an answer: Transaction Status is asked, and settles it.
    clock.advance(timedelta(minutes=3))
    sweep_now(app)
    done = await card(tg, boss, "Refunded")
    reversal = daraja.reversal_of(payment.receipt or "")
    assert reversal is not None and reversal.transaction_id in done["text"]
    assert daraja.operator_stats.reversals_accepted == 1
    assert daraja.operator_stats.status_queries >= 1


async def test_already_reversed_on_the_portal_is_confirmed_and_booked_once(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    daraja: DarajaSandbox,
    clock: ManualClock,
) -> None:
    """Someone reversed it on the M-Pesa portal first: Daraja answers R000001, Transaction
    Status says the payment is reversed, and the books say so once."""
    boss, _, payment = await paid(app, tg, people)
    receipt = payment.receipt or ""
    daraja.reversals[receipt] = Reversal("SPORTAL123", receipt, 1500, "0", clock.now())
    await tg.send_text(boss, "/refund 1 | reversed at the bank")
    done = await card(tg, boss, "Refunded")
    assert "M-Pesa receipt" not in done["text"]  # the portal's own receipt is not known
    refund = await Refund.get(id=1)
    assert refund.status is RefundStatus.REFUNDED and refund.receipt is None
    assert refund.result_desc == "reversed, by Transaction Status"
    moves = [a.action for a in await AuditLog.filter(subject_type="refund").order_by("id")]
    assert AuditAction.REFUND_UNKNOWN in moves  # R000001 was not taken as a result
    assert await LedgerEntry.filter(kind=LedgerKind.REFUND).count() == 1


@pytest.mark.app_settings(payroll_approvals=2)
async def test_with_two_approvals_another_manager_approves_or_rejects(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    daraja: DarajaSandbox,
    smtp_server: tuple[Mailbox, int],
) -> None:
    boss, _, _ = await paid(app, tg, people)
    _, other = await people.add(
        "Baraka Mwangi", "0700 000 002", email="baraka@example.com", manager=True
    )
    await tg.send_text(boss, "/refund 1 | 300 | damaged cable returned")
    mine = await card(tg, boss, "Waiting for another manager to approve it.")
    theirs = await card(tg, other, "Waiting for your approval")
    mailbox, _ = smtp_server
    await mailbox.wait_for("baraka@example.com", "Refund to approve: KES 300")
    # The one who asked cannot approve (their card has Withdraw only); nothing moved yet.
    assert [b["text"] for row in mine["reply_markup"]["inline_keyboard"] for b in row] == [
        "Withdraw"
    ]
    assert daraja.operator_stats.payouts_accepted == 0
    assert await press_and_answer(tg, other, theirs["message_id"], "✅ Approve") == (
        "✅ Approved: refund #1 is being sent"
    )
    await card(tg, boss, "Refunded")
    assert (await Refund.get(id=1)).decided_by_id == (await Person.get(phone="+254700000002")).id  # type: ignore[attr-defined]
    # A second refund, rejected: nothing is sent, and the 300 it held is free again.
    await tg.send_text(boss, "/refund 1 | 1200 | the rest")
    second = await card(tg, other, "Waiting for your approval", refund=2)
    assert await press_and_answer(tg, other, second["message_id"], "❌ Reject") == (
        "Refund #2 rejected: nothing was sent"
    )
    await card(tg, boss, "Rejected by Baraka Mwangi. Nothing was sent.", refund=2)
    assert daraja.operator_stats.payouts_accepted == 1
    # Approve pressed on a copy of the card not yet edited (the press carries the old
    # button's data) is answered, and changes nothing.
    stale = await tg.press_forged(other, second["message_id"], ApproveRefund(2).pack())
    answer = await tg.wait_for_callback_answer(stale)
    assert answer.get("text") == "❌ Refund #2 is already rejected."
    assert (await Refund.get(id=2)).status is RefundStatus.REJECTED


async def test_refusals_say_what_is_wrong_and_save_nothing(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
) -> None:
    boss, jane, _ = await paid(app, tg, people)
    await ask(tg, jane, "/refund 1 | please", "❌ Only managers can refund payments.")
    await ask(tg, boss, "/refund abc | x", "“abc” is not a payment number")
    await ask(tg, boss, "/refund 9 | x", "❌ There is no payment #9.")
    await ask(tg, boss, "/refund 1 | 0 | x", "is not a positive amount")
    await ask(tg, boss, "/refund 1 | 500 |  ", "Say why the money goes back")
    await ask(tg, boss, "/refund 1 | 2000 | x", "at most KES 1,500 can go back")
    assert await Refund.all().count() == 0


async def test_the_refund_button_on_a_paid_payment_asks_how_much_and_why(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
) -> None:
    boss, _, _ = await paid(app, tg, people)
    status = await tg.wait_for_bot_message(boss.id, "✅")
    await tg.press(boss, status["message_id"], "Refund")
    await tg.wait_for_bot_message(boss.id, "How much goes back", timeout=15)
    await ask(tg, boss, "250", "Why does it go back?")
    await tg.send_text(boss, "paid for a cable we found")
    done = await card(tg, boss, "Refunded")
    assert "KES 250 back to Jane Wanjiku" in done["text"]
    await ask(tg, boss, "/refunds", "#1 · KES 250 to Jane Wanjiku · payment #1 · refunded")


@pytest.mark.app_settings(webhooks_allow_private=True)
async def test_a_refund_made_is_posted_to_webhooks_that_want_it(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
) -> None:
    async for receiver in receiving(clock):
        boss, _, payment = await paid(app, tg, people)
        added = await ask(tg, boss, f"/webhooks add {receiver.url} | refund.refunded", "added")
        found = SECRET.search(added["text"])
        assert found is not None
        await tg.send_text(boss, "/refund 1 | 200 | cable returned")
        await card(tg, boss, "Refunded")
        [post] = await receiver.wait_posts(1)
        body = verify(found.group(0), post.headers["Callsheet-Signature"], post.body, post.at)
        assert body["type"] == "refund.refunded"
        refund = body["data"]["refund"]
        assert (refund["amount"], refund["method"], refund["payment_id"]) == (200, "b2c", 1)
        assert refund["payment_receipt"] == payment.receipt and refund["receipt"]


async def test_a_clients_deposit_given_back_is_in_the_export_beside_the_ledger(
    app: Callsheet, tg: TelegramSandbox, people: People, daraja: DarajaSandbox
) -> None:
    # A client is nobody's ledger: their deposit and its refund are the export's client rows.
    desk = await office(tg, people)
    link = await desk.deposit("1 | Tamu Weddings | 0712 345 678 | 60000")
    async with browser(app) as client, events(client, link) as stream:
        await stream.next()
        await press_pay(client, link)
        await stream.until("done")
    payment = await Payment.get(id=1)
    await tg.send_text(desk.boss, "/refund 1 | the event moved")
    done = await card(tg, desk.boss, "Refunded")
    assert done["text"].startswith("✅ Refund #1: KES 60,000 back to")
    reversal = daraja.reversal_of(payment.receipt or "")
    assert reversal is not None
    month = await Exports(app.settings.tz).month("2026-11")
    assert [r.kind for r in month.rows] == []  # nothing on anyone's ledger
    assert [
        (r.person, r.kind, r.method, r.amount, r.receipt, r.reference) for r in month.clients
    ] == [
        ("Tamu Weddings", "client", "mpesa", -60000, payment.receipt, "deposit #1 · payment #1"),
        (
            "Tamu Weddings",
            "client",
            "mpesa reversal",
            60000,
            reversal.transaction_id,
            "refund #1 of payment #1",
        ),
    ]
    assert (month.received, month.given_back, month.total) == (60000, 60000, 0)
    written = month.csv_bytes().decode("utf-8-sig").splitlines()
    assert len(written) == 3 and written[1].split(",")[1:5] == [
        "Tamu Weddings",
        "client",
        "mpesa",
        "-60000",
    ]
