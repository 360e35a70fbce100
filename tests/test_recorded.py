# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""Money received outside M-Pesa: /record, /unrecord, duplicate references (also two
managers at once), bad input, and what `callsheet audit` says about recorded payments."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.exceptions import IntegrityError

from bot.app import Callsheet
from models import (
    AuditAction,
    AuditLog,
    LedgerEntry,
    LedgerKind,
    PaymentMethod,
    Person,
    RecordedPayment,
)
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from services.ledger import DuplicateReference
from tests.conftest import Mailbox, People, text_part
from tests.documents_helpers import pdf_attachment, pdf_text, sent_pdf
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    app,
    ask,
    crew,
    daraja,
    run_audit,
    tg,
)

Crew = tuple[Person, SandboxUser, Person, SandboxUser]


async def test_cash_recorded_then_undone_once(
    app: Callsheet,
    tg: TelegramSandbox,
    clock: ManualClock,
    mail: Mailbox,
    database_url: str,
    crew: Crew,
) -> None:
    boss_person, boss, jane_person, jane = crew
    await ask(tg, boss, "/charge Jane | 8000 | PA hire deposit", "They now owe KES 8,000")
    done = await ask(
        tg, boss, "/record Jane | 5,000 | Cash | R-0042", "Recorded KES 5,000 received in cash"
    )
    assert "from Jane Wanjiku (ref R-0042, record #1). They now owe KES 3,000." in done["text"]
    told = await tg.wait_for_bot_message(jane.id, "received KES 5,000 from you in cash")
    assert "reference R-0042" in told["text"] and "Achieng Otieno" in told["text"]
    assert "You now owe KES 3,000." in told["text"]
    assert "Receipt R-2026-000001." in told["text"]
    email = await mail.wait_for("jane@example.com", "KES 5,000 received in cash")
    assert "Reference: R-0042" in text_part(email)
    assert "Receipt: R-2026-000001 (attached)" in text_part(email)
    name, data = pdf_attachment(email)
    assert name == "R-2026-000001.pdf"
    pdf = pdf_text(data)
    assert "R-2026-000001" in pdf and "Jane Wanjiku" in pdf and "in cash" in pdf
    assert "R-0042" in pdf and "5,000" in pdf
    shown = await tg.send_text(boss, "/receipt R-2026-000001")
    sent = await tg.wait_for_bot_message(boss.id, after=shown["message_id"])
    assert sent_pdf(tg, sent)[0] == "R-2026-000001.pdf"

    record = await RecordedPayment.get(id=1)
    assert (record.amount, record.method, record.reference) == (5000, PaymentMethod.CASH, "R-0042")
    assert record.recorded_by_id == boss_person.id  # type: ignore[attr-defined]
    assert record.recorded_at == clock.now()
    credit = await LedgerEntry.get(id=record.entry_id)  # type: ignore[attr-defined]
    assert (credit.kind, credit.amount) == (LedgerKind.RECORDED, -5000)
    logged = await AuditLog.get(action=AuditAction.LEDGER_RECORDED)
    assert (logged.actor_id, logged.subject_id) == (boss_person.id, 1)  # type: ignore[attr-defined]
    assert logged.details["reference"] == "R-0042"
    mine = await ask(tg, jane, "/balance", "You owe KES 3,000")
    assert "recorded −KES 5,000 · cash · R-0042" in mine["text"]

    undone = await ask(tg, boss, "/unrecord 1 | Counted twice", "Recorded payment #1 undone")
    assert "They now owe KES 8,000." in undone["text"]
    assert (await Person.get(id=jane_person.id)).balance == 8000
    record = await RecordedPayment.get(id=1)
    assert record.undo_reason == "Counted twice" and record.undone_at == clock.now()
    reversal = await LedgerEntry.get(reverses_id=credit.id)
    assert (reversal.kind, reversal.amount) == (LedgerKind.ADJUSTMENT, 5000)
    assert await AuditLog.filter(action=AuditAction.LEDGER_UNRECORDED).count() == 1
    # Jane, told she paid, is told it was undone: in chat and by email.
    told = await tg.wait_for_bot_message(jane.id, "undid the KES 5,000 recorded")
    assert "Reason: Counted twice" in told["text"] and "You now owe KES 8,000." in told["text"]
    email = await mail.wait_for("jane@example.com", "was undone")
    assert "Undone by: Achieng Otieno" in text_part(email)
    again = await ask(tg, boss, "/unrecord 1 | Again", "already undone")
    assert "Counted twice" in again["text"]
    assert await LedgerEntry.filter(reverses_id=credit.id).count() == 1
    await ask(tg, boss, "/unrecord 99 | Typo", "There is no recorded payment #99")
    # A recorded payment is not a charge: /uncharge does not take its entry.
    await ask(tg, boss, f"/uncharge {credit.id} | Wrong", "only charges")

    audit = await asyncio.to_thread(run_audit, database_url)
    assert audit.returncode == 0, audit.stdout + audit.stderr


async def test_a_reference_is_recorded_once_per_method(
    app: Callsheet, tg: TelegramSandbox, crew: Crew
) -> None:
    _, boss, jane_person, _ = crew
    await ask(
        tg,
        boss,
        "/record Jane | 5000 | bank | FT26330ABC12",
        "Recorded KES 5,000 received by bank transfer",
    )
    for typed in ("FT26330ABC12", "ft26330abc12", "  FT 2633 0ABC12 ", "Ft26330AbC12"):
        refused = await ask(
            tg, boss, f"/record Jane | 4000 | Bank | {typed}", "is already recorded"
        )
        assert refused["text"] == (
            "❌ Bank reference FT26330ABC12 is already recorded: #1, KES 5,000 from Jane "
            "Wanjiku. Nothing was saved. If that one was wrong, /unrecord it, then record this "
            "again."
        )
    # The same text under another method is another payment.
    await ask(
        tg,
        boss,
        "/record Jane | 300 | cheque | ft26330abc12",
        "Recorded KES 300 received by cheque",
    )
    assert await RecordedPayment.all().count() == 2
    assert (await Person.get(id=jane_person.id)).balance == -5300
    # Once undone, the reference is free to be recorded again (right this time).
    await ask(tg, boss, "/unrecord 1 | Amount was 4,000", "undone")
    await ask(tg, boss, "/record Jane | 4000 | bank | FT26330ABC12", "record #3")
    assert (await Person.get(id=jane_person.id)).balance == -4300

    # The database itself refuses a second live row with the same method and reference.
    first = await RecordedPayment.get(id=3)
    with pytest.raises(IntegrityError):
        await RecordedPayment.create(
            person_id=jane_person.id,
            amount=1,
            method=PaymentMethod.BANK,
            reference="x",
            reference_key=first.reference_key,
            recorded_by_id=first.recorded_by_id,  # type: ignore[attr-defined]
            recorded_at=first.recorded_at,
            entry_id=first.entry_id,  # type: ignore[attr-defined]
        )


async def test_two_managers_recording_one_transfer_at_once(
    app: Callsheet, people: People, crew: Crew
) -> None:
    boss, _, jane, _ = crew
    other, _ = await people.add("Wanjiru Kamau", "0700 000 009", manager=True)
    assert app.services is not None
    recorded = app.services.recorded
    results = await asyncio.gather(
        recorded.record(boss, "Jane", "2500", "bank", "TRX 9931"),
        recorded.record(other, "Jane", "2500", "bank", "trx9931"),
        return_exceptions=True,
    )
    saved = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(saved) == 1 and len(refused) == 1, results
    assert isinstance(refused[0], DuplicateReference), repr(refused[0])
    assert "is already recorded" in str(refused[0])
    assert await RecordedPayment.all().count() == 1
    assert await LedgerEntry.filter(kind=LedgerKind.RECORDED).count() == 1
    assert (await Person.get(id=jane.id)).balance == -2500
    assert await AuditLog.filter(action=AuditAction.LEDGER_RECORDED).count() == 1


async def test_bad_input_is_refused_with_one_line_and_nothing_saved(
    app: Callsheet, tg: TelegramSandbox, crew: Crew
) -> None:
    _, boss, _, jane = crew
    cases = [
        ("/record Jane | 5000 | cash", "/record needs 4 parts separated by |"),
        ("/record Nobody | 5000 | cash | R-1", "Nobody on the crew list"),
        ("/record Jane | 0 | cash | R-1", "“0” is not a positive amount"),
        ("/record Jane | -500 | cash | R-1", "not a positive amount"),
        ("/record Jane | 1500.50 | cash | R-1", "“1500.50” has cents"),
        ("/record Jane | 20,000,000 | bank | R-1", "too large. An amount must be between KES 1"),
        ("/record Jane | five | cash | R-1", "“five” is not an amount"),
        ("/record Jane | 500 | paypal | R-1", "“paypal” is not a way of paying we record"),
        ("/record Jane | 500 | cash |  ", "Give the reference"),
        ("/record Jane | 500 | cash | " + "X" * 61, "The reference is 61 characters"),
        ("/unrecord one | Typo", "Send the recorded payment number"),
        ("/unrecord 1 | ", "Say why it is undone, like “Typed the wrong amount”."),
    ]
    for text, expected in cases:
        answer = await ask(tg, boss, text, expected)
        assert "\n\n" not in answer["text"], answer["text"]
    await ask(tg, jane, "/record Jane | 500 | cash | R-1", "Only managers can record payments")
    await ask(tg, jane, "/unrecord 1 | Wrong", "Only managers can undo recorded payments")
    assert await RecordedPayment.all().count() == 0
    assert await LedgerEntry.all().count() == 0
    assert await AuditLog.filter(action=AuditAction.LEDGER_RECORDED).count() == 0

    # Sent alone, /record asks each part in turn and re-asks a bad one.
    await ask(tg, boss, "/record", "Who paid?")
    await ask(tg, boss, "Jane", "How much")
    await ask(tg, boss, "lots", "is not an amount")
    await ask(tg, boss, "1200", "How did it come?")
    await ask(tg, boss, "paypal", "not a way of paying we record")
    await ask(tg, boss, "Airtel", "The reference")
    await ask(
        tg,
        boss,
        "MP7Q2 XK1",
        "Recorded KES 1,200 received by Airtel Money from Jane Wanjiku (ref MP7Q2 XK1",
    )


async def test_help_lists_the_new_commands_for_managers_only(
    app: Callsheet, tg: TelegramSandbox, crew: Crew
) -> None:
    _, boss, _, jane = crew
    shown = await ask(tg, boss, "/help", "/record")
    for line in (
        "/record Jane | 5000 | bank | FT26330ABC12",
        "/unrecord 4 | Typed the wrong amount",
        "/export 2026-11",
    ):
        assert line in shown["text"]
    crew_help = await ask(tg, jane, "/help", "/balance")
    assert "/record" not in crew_help["text"] and "/export" not in crew_help["text"]


async def test_callsheet_audit_reports_recorded_payments_out_of_step(
    app: Callsheet, tg: TelegramSandbox, database_url: str, crew: Crew
) -> None:
    _, boss, jane_person, _ = crew
    await ask(tg, boss, "/record Jane | 900 | cash | R-7", "record #1")
    await ask(tg, boss, "/unrecord 1 | Wrong person", "undone")
    await ask(tg, boss, "/record Jane | 400 | cheque | 000123", "record #2")
    record = await RecordedPayment.get(id=1)
    # Someone clears the undo by hand, and adds a credit that no record explains.
    await RecordedPayment.filter(id=1).update(undone_at=None)
    stray = await LedgerEntry.create(
        person_id=jane_person.id,
        kind=LedgerKind.RECORDED,
        amount=-50,
        description="cash · by hand",
        created_at=record.recorded_at,
    )
    await Person.filter(id=jane_person.id).update(balance=-450)
    found = await asyncio.to_thread(run_audit, database_url)
    assert found.returncode == 1, found.stdout + found.stderr
    reversal = await LedgerEntry.get(reverses_id=record.entry_id)  # type: ignore[attr-defined]
    assert (
        f"recorded payment #1: not undone, but entry #{reversal.id} reverses its credit"
        in found.stdout
    )
    assert f"ledger entry #{stray.id}: a recorded-payment entry without its record" in found.stdout
    # Put it back so the fixture's own audit passes.
    await RecordedPayment.filter(id=1).update(undone_at=record.undone_at)
    await stray.delete()
    await Person.filter(id=jane_person.id).update(balance=-400)
