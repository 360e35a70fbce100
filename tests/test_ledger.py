# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""What people owe: charges, undoing them, balances, /resolve, payment lists, and the money
audit (`callsheet audit`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
from tortoise.transactions import in_transaction

from bot.app import Callsheet
from models import (
    DarajaCallback,
    LedgerEntry,
    LedgerKind,
    Payment,
    PaymentStatus,
    Person,
    ReceiptKind,
)
from models.stamps import stamp
from sandbox.daraja import DarajaSandbox, Outcome
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from services.documents import issue_receipt
from tests.conftest import (
    START,
    People,
)
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    JANE_PHONE,
    app,
    ask,
    callback_url,
    crew,
    daraja,
    run_audit,
    settled,
    success_body,
    tg,
)


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
    async with in_transaction() as conn:  # as settlement does: the audit wants one receipt
        await issue_receipt(
            conn,
            kind=ReceiptKind.PAYMENT,
            person_id=jane_person.id,
            amount=100,
            at=START,
            tz=ZoneInfo("Africa/Nairobi"),
            payment_id=payment.id,
        )
    listing = await ask(tg, boss, "/payments", "Payments (latest)")
    assert "receipt <QJK&1>" in listing["text"]
    statement = await ask(tg, jane, "/balance", "M-Pesa requests")
    assert "receipt <QJK&1>" in statement["text"]
