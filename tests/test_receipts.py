# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""Receipts and invoices: numbered once and without gaps, drawn as PDFs, sent in the chat
and attached to emails (the Telegram and Daraja sandboxes, a real SMTP server)."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from bot import db
from bot.app import Callsheet
from models import (
    DocumentCounter,
    DocumentSeries,
    Event,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    Person,
    Receipt,
    ReceiptKind,
)
from models.stamps import stamp
from sandbox.daraja import DarajaSandbox, Outcome
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from services.documents import issue_receipt, latin1, parse_number
from services.documents.backfill import issue_missing_receipts
from services.documents.pdf import Line, Sheet, draw
from services.ledger.checks import Mismatch, find_mismatches
from tests.conftest import START, Mailbox, People, text_part
from tests.documents_helpers import pdf_attachment, pdf_text, sent_pdf
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    app,
    ask,
    crew,
    daraja,
    only_payment,
    run_audit,
    settled,
    tg,
)

NAIROBI = ZoneInfo("Africa/Nairobi")


async def test_a_paid_request_gets_receipt_one_once_though_its_callback_comes_twice(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, jane = crew
    daraja.next_outcome(None, Outcome.DUPLICATE)
    started = await ask(tg, boss, "/request Jane | 1500 | Cable damage", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    checkout = daraja.pushes[0].checkout_id
    assert checkout is not None
    delivered = await daraja.wait_for_callback(checkout, count=2)
    assert [d.status for d in delivered] == [200, 200]
    await settled(app)

    payment = await only_payment()
    assert payment.status is PaymentStatus.COMPLETED and payment.receipt
    receipts = await Receipt.all()
    assert [(r.number, r.kind, r.payment_id, r.person_id, r.amount) for r in receipts] == [  # type: ignore[attr-defined]
        ("R-2026-000001", ReceiptKind.PAYMENT, payment.id, jane_person.id, 1500)
    ]
    assert (await DocumentCounter.get()).issued == 1

    # The receipt emails (payer and manager) carry the PDF, named after the number.
    for address in ("jane@example.com", "achieng@example.com"):
        email = await mail.wait_for(address, payment.receipt)
        assert "Our receipt: R-2026-000001 (PDF attached)" in text_part(email)
        name, data = pdf_attachment(email)
        assert name == "R-2026-000001.pdf"
        text = pdf_text(data)
        assert "R-2026-000001" in text and "Sauti Sound" in text and "KES 1,500" in text
        assert payment.receipt in text and "Jane Wanjiku" in text

    # The payer asks for it in the chat: a PDF document that opens.
    reply = await ask(tg, jane, f"/receipt {payment.id}", "R-2026-000001")
    name, data = sent_pdf(tg, reply)
    assert name == "R-2026-000001.pdf"
    text = pdf_text(data)
    assert "Receipt R-2026-000001" in text and "Sauti Sound" in text and "KES 1,500" in text
    assert "Mon 23 Nov 2026, 10:00" in text  # the company's time, with its year
    # By number too, and the manager may have anyone's; the same rows give the same PDF.
    again = await ask(tg, boss, "/receipt r-2026-000001", "R-2026-000001")
    assert sent_pdf(tg, again)[1] == data
    assert run_audit(app.settings.database_url).returncode == 0


async def test_a_receipt_is_refused_clearly_to_others_and_before_it_is_paid(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    people: People,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, jane = crew
    _, otieno = await people.add("Otieno Kamau", "0722 000 111")
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])

    await ask(tg, otieno, "/receipt 1", "❌ Payment #1 is not yours")
    await ask(tg, otieno, "/receipt R-2026-000001", "❌ Receipt R-2026-000001 is not yours.")
    await ask(tg, jane, "/receipt 77", "❌ There is no payment #77.")
    await ask(tg, jane, "/receipt R-2026-000077", "❌ There is no receipt R-2026-000077.")
    await ask(tg, jane, "/receipt", "❌ Send /receipt with a payment number")
    await ask(tg, otieno, "/invoice 1 | X | x@example.com | Sound 100", "❌ Only managers")

    daraja.next_outcome(None, Outcome.HOLD)
    await ask(tg, boss, "/request Jane | 900 | Transport", "Jane Wanjiku")
    await tg.wait_for(lambda: len(daraja.pushes) == 2 or None)
    await ask(tg, boss, "/receipt 2", "❌ Payment #2 is not paid")
    assert not any("document" in m for m in tg.bot_messages(otieno.id))
    assert [r.number for r in await Receipt.all()] == ["R-2026-000001"]


async def test_an_invoice_is_sent_to_the_manager_and_emailed_to_the_client(
    app: Callsheet,
    tg: TelegramSandbox,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    boss_person, boss, _, _ = crew
    event = await Event.create(
        **stamp(Event, START),
        title="Harusi ya Wanjiru",
        venue="KICC, Nairobi",
        starts_at=START + timedelta(days=12),
        ends_at=START + timedelta(days=12, hours=5),
        call_at=START + timedelta(days=12, hours=-3),
        manager=boss_person,
    )
    # Bad lines: one message saying everything wrong, and nothing saved or numbered.
    refused = await ask(
        tg,
        boss,
        f"/invoice {event.id} | Tamu Weddings | accounts@tamu | Sound system; Lighting 0",
        "❌",
    )
    assert "not an email address" in refused["text"]
    assert "Line 1, “Sound system”: no amount at the end" in refused["text"]
    assert "Line 2, “Lighting 0”: the amount must be between" in refused["text"]
    await ask(
        tg, boss, "/invoice 99 | Tamu | a@tamu.example | Sound 100", "❌ There is no event #99"
    )
    assert await Invoice.all().count() == 0 and await DocumentCounter.all().count() == 0

    reply = await ask(
        tg,
        boss,
        f"/invoice {event.id} | Tamu Weddings | accounts@tamu.example "
        "| Sound system 45000; Lighting KES 30,000; Stage | 5,000",
        "Invoice INV-2026-000001",
    )
    assert "KES 80,000" in reply["caption"] and "accounts@tamu.example" in reply["caption"]
    name, data = sent_pdf(tg, reply)
    assert name == "INV-2026-000001.pdf"
    text = pdf_text(data)
    for shown in ("Invoice INV-2026-000001", "Sauti Sound", "Tamu Weddings", "KES 80,000"):
        assert shown in text
    assert "Lighting" in text and "KES 30,000" in text and "Open" in text

    invoice = await Invoice.get()
    assert (invoice.number, invoice.total, invoice.status) == (
        "INV-2026-000001",
        80_000,
        InvoiceStatus.OPEN,
    )
    lines = await InvoiceLine.filter(invoice=invoice).order_by("position")
    assert [(line.description, line.amount) for line in lines] == [
        ("Sound system", 45_000),
        ("Lighting", 30_000),
        ("Stage", 5_000),
    ]
    email = await mail.wait_for("accounts@tamu.example", "INV-2026-000001")
    assert "Total due: KES 80,000" in text_part(email)
    name, attached = pdf_attachment(email)
    assert name == "INV-2026-000001.pdf" and "INV-2026-000001" in pdf_text(attached)


async def test_numbers_follow_the_company_year_and_a_rollback_leaves_no_gap(
    database: str, clock: ManualClock
) -> None:
    payments = await _completed_payments(4)
    clock.set(datetime(2026, 12, 31, 20, 30, tzinfo=UTC))  # 23:30 in Nairobi: still 2026
    first = await _issue(payments[0], clock)
    clock.set(datetime(2026, 12, 31, 21, 30, tzinfo=UTC))  # 00:30 on 1 January in Nairobi
    with pytest.raises(RuntimeError):
        async with in_transaction() as conn:
            await issue_receipt(
                conn,
                kind=ReceiptKind.PAYMENT,
                person_id=None,
                amount=100,
                at=clock.now(),
                tz=NAIROBI,
                payment_id=payments[1].id,
            )
            raise RuntimeError("the settlement failed after numbering")
    second = await _issue(payments[2], clock)
    third = await _issue(payments[3], clock)
    assert [first.number, second.number, third.number] == [
        "R-2026-000001",
        "R-2027-000001",
        "R-2027-000002",
    ]
    # Issuing again gives the receipt it has.
    assert (await _issue(payments[2], clock)).id == second.id
    assert parse_number("r-2027-000002") == (DocumentSeries.RECEIPT, 2027, 2)


async def test_fifty_issuers_at_once_get_one_to_fifty(database: str, clock: ManualClock) -> None:
    """On PostgreSQL the counter row's lock makes each issuer wait for the one before;
    a rolled-back issuer's number goes to the next."""
    payments = await _completed_payments(50)
    failed: list[int] = []

    async def issuer(n: int, payment: Payment) -> None:
        try:
            async with in_transaction() as conn:
                await issue_receipt(
                    conn,
                    kind=ReceiptKind.PAYMENT,
                    person_id=None,
                    amount=payment.amount,
                    at=clock.now(),
                    tz=NAIROBI,
                    payment_id=payment.id,
                )
                await asyncio.sleep(0.01)  # hold the counter's lock while others wait
                if n % 10 == 3:
                    raise RuntimeError("rolled back")
        except RuntimeError:
            failed.append(payment.id)

    await asyncio.gather(*(issuer(n, p) for n, p in enumerate(payments)))
    assert len(failed) == 5
    seqs = sorted(r.seq for r in await Receipt.all())
    assert seqs == list(range(1, 46))
    for payment in payments:
        if payment.id in failed:
            await _issue(payment, clock)
    numbers = sorted(r.number for r in await Receipt.all())
    assert numbers == [f"R-2026-{n:06d}" for n in range(1, 51)]
    assert (await DocumentCounter.get()).issued == 50
    problems = await find_mismatches(_conn(), clock.now())
    assert [str(p) for p in problems if _about_documents(p)] == []

    # A hole (a row deleted by hand) is what the audit reports.
    hole = await Receipt.get(seq=17)
    await hole.delete()
    problems = await find_mismatches(_conn(), clock.now())
    assert [str(p) for p in problems if _about_documents(p)] == [
        f"payment #{hole.payment_id}: completed with 0 receipts",  # type: ignore[attr-defined]
        "R-2026: numbers are not 1..49: missing [17]",
        "R-2026: counter at 50 but 49 issued",
    ]


def test_names_in_any_script_are_drawn_without_a_crash() -> None:
    assert latin1("Zoë Wanjirũ — “Sauti” 王 🎉") == 'Zoë Wanjiru - "Sauti" ? ?'
    data = draw(
        Sheet(
            company="Sauti Sound · Ngoma",
            title="Receipt",
            number="R-2026-000009",
            issued_at=datetime(2026, 12, 5, 15, 0, tzinfo=UTC),
            tz=NAIROBI,
            party_label="Received from",
            party=["Zoë Wanjirũ 王小明 🎉", "0712 345 678"],
            lines=[Line("Cable damage — “XLR” ✓", 1500)],
            total_label="Total received",
            details=[("M-Pesa receipt", "QJK3ABCDEF")],
        )
    )
    text = pdf_text(data)
    assert "Sat 5 Dec 2026, 18:00" in text and "Zoë Wanjiru" in text and "KES 1,500" in text


def _about_documents(problem: Mismatch) -> bool:
    """The audit's findings about receipts and numbers (these payments have no ledger)."""
    return problem.subject.startswith(("R-", "INV-", "receipt ")) or "receipts" in problem.problem


def _conn() -> BaseDBAsyncClient:
    conn: BaseDBAsyncClient = connections.get("default")
    return conn


async def _completed_payments(count: int) -> list[Payment]:
    boss = await Person.create(**stamp(Person, START), name="Achieng", phone="+254700000001")
    return [
        await Payment.create(
            **stamp(Payment, START),
            phone="+254712345678",
            amount=100 + n,
            purpose="Deposit",
            account_reference="Deposit",
            transaction_desc="Deposit",
            status=PaymentStatus.COMPLETED,
            requested_by=boss,
        )
        for n in range(count)
    ]


async def _issue(payment: Payment, clock: ManualClock) -> Receipt:
    async with in_transaction() as conn:
        return await issue_receipt(
            conn,
            kind=ReceiptKind.PAYMENT,
            person_id=None,
            amount=payment.amount,
            at=clock.now(),
            tz=NAIROBI,
            payment_id=payment.id,
        )


async def test_movements_from_before_receipts_get_theirs_once_in_their_own_year(
    database: str, clock: ManualClock
) -> None:
    payments = await _completed_payments(3)
    times = [
        datetime(2026, 12, 31, 21, 30, tzinfo=UTC),  # 00:30 on 1 January 2027 in Nairobi
        datetime(2026, 11, 30, 9, 0, tzinfo=UTC),
        datetime(2026, 12, 1, 9, 0, tzinfo=UTC),
    ]
    for payment, at in zip(payments, times, strict=True):
        await Payment.filter(id=payment.id).update(resolved_at=at)
    issued = await issue_missing_receipts(clock, NAIROBI)
    assert [(r.number, r.payment_id) for r in issued] == [  # type: ignore[attr-defined]
        ("R-2026-000001", payments[1].id),
        ("R-2026-000002", payments[2].id),
        ("R-2027-000001", payments[0].id),
    ]
    assert await issue_missing_receipts(clock, NAIROBI) == []


async def test_the_receipts_command_numbers_what_has_none(database_url: str) -> None:
    await db.open_db(database_url)
    try:
        await _completed_payments(2)
    finally:
        await db.close_db()
    env = {**os.environ, "DATABASE_URL": database_url, "TIMEZONE": "Africa/Nairobi"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "receipts",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert "receipts: 2 issued" in out.decode() and "R-2026-000002" in out.decode()
