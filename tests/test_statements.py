"""M-Pesa statement reconciliation: a manager sends the org-portal export to the bot (through
the Telegram stand-in: the bot downloads it with getFile), or an operator runs
`callsheet reconcile FILE`; every row lands in one group, managers are alerted by chat and
email when our books have what the statement lacks, and the same file twice changes
nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import Callsheet
from models import (
    AuditAction,
    AuditLog,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Payout,
    PayoutStatus,
    Person,
    Reconciliation,
    ReconciliationRow,
    ReconGroup,
    RecordedPayment,
)
from models.stamps import stamp
from sandbox.telegram import TelegramSandbox
from services.books import NotAStatement, parse
from services.buttons.books import RecordStatementRow
from services.clock import ManualClock
from tests.conftest import START, Mailbox, People, text_part
from tests.payroll_helpers import approved_sheet
from tests.statements import B2C, B2C_FEE, FULIZA, STK, TRANSFER, Line, as_csv, as_xlsx

NAIROBI = ZoneInfo("Africa/Nairobi")
FROM = datetime(2026, 11, 1)  # Nairobi wall time, as the statement prints it
TO = datetime(2026, 11, 30, 23, 59, 59)
OPENING = Decimal("10000.00")


def utc(local: datetime) -> datetime:
    return local.replace(tzinfo=NAIROBI).astimezone(ZoneInfo("UTC"))


async def paid(person: Person, receipt: str, amount: int, when: datetime) -> Payment:
    """A completed STK payment in our books, completed at `when` (Nairobi wall time)."""
    return await Payment.create(
        person=person,
        phone=person.phone,
        amount=amount,
        purpose="Cable damage",
        account_reference="Sauti",
        transaction_desc="Cable damage",
        status=PaymentStatus.COMPLETED,
        requested_by=person,
        receipt=receipt,
        paid_amount=amount,
        paid_phone=person.phone,
        created_at=utc(when),
        updated_at=utc(when),
    )


async def books(app: Callsheet) -> dict[str, object]:
    """Our November: four payments in, two payouts out (one paid in October)."""
    sheet = await approved_sheet(app, 2)
    crew = await Person.filter(name__startswith="Crew").order_by("id")
    jane = await Person.create(**stamp(Person, START), name="Jane Wanjiku", phone="+254712345678")
    otieno = await Person.create(**stamp(Person, START), name="Otieno Juma", phone="+254722111222")
    await paid(jane, "TKA1111111", 1500, datetime(2026, 11, 3, 9, 15))
    await paid(otieno, "TKA2222222", 2000, datetime(2026, 11, 4, 12, 0))  # statement: 2,500
    await paid(jane, "TKA3333333", 800, datetime(2026, 11, 5, 8, 0))  # missing from it
    await paid(otieno, "TKF4444444", 1000, datetime(2026, 11, 6, 19, 30))  # by Fuliza
    payouts = await Payout.filter(sheet_id=sheet.id).order_by("id")
    for payout, receipt, when in zip(
        payouts,
        ("TKB5555555", "TKB6666666"),
        (datetime(2026, 11, 7, 10, 0), datetime(2026, 10, 31, 23, 0)),
        strict=True,
    ):
        payout.status = PayoutStatus.PAID
        payout.transaction_id = receipt
        payout.finished_at = utc(when)
        await payout.save()
    return {"jane": jane, "otieno": otieno, "crew": crew}


LINES = [
    Line(
        "TKA1111111",
        datetime(2026, 11, 3, 9, 15),
        STK,
        paid_in=Decimal(1500),
        other_party="25471****678",
    ),
    Line(
        "TKA2222222",
        datetime(2026, 11, 4, 12, 0),
        STK,
        paid_in=Decimal(2500),
        other_party="25472****222",
    ),
    Line(
        "TKF4444444",
        datetime(2026, 11, 6, 19, 30),
        FULIZA,
        paid_in=Decimal(1000),
        other_party="25472****222",
    ),
    Line(
        "TKB5555555",
        datetime(2026, 11, 7, 10, 0),
        B2C,
        withdrawn=Decimal(2000),
        other_party="254710000001 - CREW 1",
    ),
    Line("TKB5555555", datetime(2026, 11, 7, 10, 0), B2C_FEE, withdrawn=Decimal("22.40")),
    # Paid in the first minutes of November, Nairobi time; booked with October's payouts.
    Line(
        "TKB6666666",
        datetime(2026, 11, 1, 0, 5),
        B2C,
        withdrawn=Decimal(2000),
        other_party="25471****002",
    ),
    Line("TKB6666666", datetime(2026, 11, 1, 0, 5), B2C_FEE, withdrawn=Decimal("22.40")),
    # Paid straight to the paybill by Jane: her number is whole, so the report names her.
    Line(
        "TKC7777777",
        datetime(2026, 11, 8, 14, 45),
        STK,
        paid_in=Decimal(700),
        other_party="254712345678 - JANE WANJIKU",
    ),
    Line(
        "TKD8888888",
        datetime(2026, 11, 9, 16, 0),
        STK,
        paid_in=Decimal(300),
        status="Failed",
        other_party="25479****999",
    ),
    Line("TKE9999999", datetime(2026, 11, 30, 18, 0), TRANSFER, withdrawn=Decimal(1000)),
]


async def test_a_statement_is_reconciled_with_every_kind_of_row(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox, clock: ManualClock
) -> None:
    ours = await books(app)
    jane = ours["jane"]
    assert isinstance(jane, Person)
    _, boss = await people.add(
        "Wambui Njeri", "0700 000 009", manager=True, email="wambui@sauti.example"
    )
    clock.set(datetime(2026, 12, 2, 7, 0, tzinfo=ZoneInfo("UTC")))
    content = as_xlsx(FROM, TO, LINES, OPENING)
    await tg.send_document(boss, "ORG_600123_Utility Account_Completed_20261202.xlsx", content)
    report = await tg.wait_for_bot_message(boss.id, "M-Pesa statement #1")
    text = report["text"]
    assert "Sun 1 Nov, 00:00 to Mon 30 Nov, 23:59 · 9 rows (1 not completed, left out)" in text
    # TKA1111111, the Fuliza TKF4444444, the payouts TKB5555555 and TKB6666666 (booked on
    # 31 Oct by our clock, 1 Nov in the statement: matched by its receipt all the same).
    assert "4 matched" in text
    assert "❌ 2 in the statement, not in our books" in text
    assert "❌ 1 in our books, missing from the statement" in text
    assert "❌ 1 amount differs" in text
    assert "TKA2222222 · Wed 4 Nov, 12:00 · KES 2,500 (ours KES 2,000) in · Otieno Juma" in text
    assert "TKA3333333 · Thu 5 Nov, 08:00 · KES 800 in · Jane Wanjiku" in text
    assert "TKC7777777 · Sun 8 Nov, 14:45 · KES 700 in · Jane Wanjiku" in text
    assert "TKE9999999 · Mon 30 Nov, 18:00 · KES 1,000 out" in text  # a transfer
    assert "TKB6666666" not in text
    assert "Statement: in KES 5,700 · out KES 5,000 · fees KES 44.80" in text
    assert "Our books: in KES 5,300 · out KES 2,000 · ❌ differs by KES 2,600" in text
    assert "= closing KES 10,655.20 ✅" in text
    # Every manager is alerted, in chat and by email, because our books have a payment the
    # statement lacks (the one who sent the file too).
    alert = await tg.wait_for_bot_message(boss.id, "⚠️ M-Pesa statement #1")
    assert (
        "1 completed in our books but missing from the statement, 1 with another amount"
        in (alert["text"])
    )
    email = await mail.wait_for("wambui@sauti.example", "books and statement disagree")
    assert "- 1 completed in our books but missing from the statement" in text_part(email)
    recon = await Reconciliation.get(id=1)
    assert (recon.matched, recon.not_in_books, recon.not_in_statement, recon.amount_differs) == (
        4,
        2,
        1,
        1,
    )
    # Jane paid TKC7777777 straight to the paybill: Record books it, once.
    record = f"Record TKC7777777 · {jane.name}"
    assert [b["text"] for row in report["reply_markup"]["inline_keyboard"] for b in row] == [record]
    query = await tg.press(boss, report["message_id"], record)
    assert (await tg.wait_for_callback_answer(query))["text"] == "✅ Recorded TKC7777777"
    done = await RecordedPayment.get(reference="TKC7777777")
    assert (done.method, done.amount, done.person_id) == (PaymentMethod.MPESA, 700, jane.id)  # type: ignore[attr-defined]
    assert (await Person.get(id=jane.id)).balance == jane.balance - 700
    again = await tg.press(boss, report["message_id"], record)
    assert "already recorded" in (await tg.wait_for_callback_answer(again))["text"]
    # A forged Record for the transfer (money out, nobody named) books nothing.
    transfer = await ReconciliationRow.get(receipt="TKE9999999")
    forged = await tg.press_forged(
        boss, report["message_id"], RecordStatementRow(transfer.id).pack()
    )
    answer = await tg.wait_for_callback_answer(forged)
    assert answer["text"] == "❌ That statement row can no longer be recorded."
    assert await RecordedPayment.all().count() == 1
    sent = await tg.send_text(boss, "/record Otieno Juma | 2000 | mpesa | TKA2222222")
    refused = await tg.wait_for_bot_message(
        boss.id, "already in the books", after=sent["message_id"]
    )
    assert "payment #2" in refused["text"]
    kinds = sorted(
        (r.kind.value, r.receipt)
        for r in await ReconciliationRow.filter(reconciliation_id=recon.id)
    )
    assert kinds == [
        ("amount_differs", "TKA2222222"),
        ("not_in_books", "TKC7777777"),
        ("not_in_books", "TKE9999999"),
        ("not_in_statement", "TKA3333333"),
    ]


async def test_the_same_statement_twice_changes_nothing(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    await books(app)
    _, boss = await people.add("Wambui Njeri", "0700 000 009", manager=True)
    clock.set(datetime(2026, 12, 2, 7, 0, tzinfo=ZoneInfo("UTC")))
    content = as_csv(FROM, TO, LINES, OPENING)
    name = "ORG_600123_Utility Account_Completed_20261202.csv"
    first = await tg.send_document(boss, name, content)
    await tg.wait_for_bot_message(boss.id, "M-Pesa statement #1", after=first["message_id"])
    await tg.wait_for_bot_message(boss.id, "⚠️ M-Pesa statement #1")
    before = await ReconciliationRow.all().count()
    again = await tg.send_document(boss, name, content)
    reply = await tg.wait_for_bot_message(boss.id, "already reconciled", after=again["message_id"])
    assert "(#1," in reply["text"] and "nothing changed" in reply["text"]
    assert await Reconciliation.all().count() == 1
    assert await ReconciliationRow.all().count() == before
    assert await AuditLog.filter(action=AuditAction.RECONCILIATION_IMPORTED).count() == 1
    alerts = [m for m in tg.bot_messages(boss.id) if "⚠️ M-Pesa statement" in m.get("text", "")]
    assert len(alerts) == 1
    shown = await tg.send_text(boss, "/statement 1")
    await tg.wait_for_bot_message(boss.id, "M-Pesa statement #1", after=shown["message_id"])


async def test_a_file_that_is_not_a_statement_is_refused_in_one_line(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Wambui Njeri", "0700 000 009", manager=True)
    sent = await tg.send_document(boss, "crew.csv", b"name,amount\nJane,100\nOtieno,200\n")
    refused = await tg.wait_for_bot_message(boss.id, "crew.csv", after=sent["message_id"])
    assert "is not an M-Pesa statement: no header row with 'Receipt No.'" in refused["text"]
    photo = await tg.send_document(boss, "stage.xlsx", b"PK\x03\x04 not really a workbook")
    refused = await tg.wait_for_bot_message(boss.id, "stage.xlsx", after=photo["message_id"])
    assert "is not a readable XLSX file" in refused["text"]
    assert await Reconciliation.all().count() == 0
    assert await ReconciliationRow.all().count() == 0


async def test_crew_cannot_reconcile(app: Callsheet, tg: TelegramSandbox, people: People) -> None:
    _, jane = await people.add("Jane Wanjiku", "0712345678")
    sent = await tg.send_document(jane, "statement.csv", as_csv(FROM, TO, LINES, OPENING))
    refused = await tg.wait_for_bot_message(jane.id, "Only managers", after=sent["message_id"])
    assert "reconcile M-Pesa statements" in refused["text"]
    assert await Reconciliation.all().count() == 0


def test_times_are_day_first_and_excel_serials_are_read() -> None:
    lines = [Line("TKA1111111", datetime(2026, 11, 3, 9, 15), STK, paid_in=Decimal(1500))]
    for content in (
        as_csv(FROM, TO, lines, OPENING),
        as_xlsx(FROM, TO, lines, OPENING),
        as_xlsx(FROM, TO, lines, OPENING, serial_times=True),
    ):
        statement = parse("s", content, NAIROBI)
        assert statement.rows[0].completed_at == utc(datetime(2026, 11, 3, 9, 15))  # 3 Nov
        assert statement.period_from == utc(FROM)
        assert (statement.opening, statement.closing) == (1_000_000, 1_150_000)
        assert statement.short_code == "600123"


def test_a_bad_row_names_its_row_and_what_is_expected() -> None:
    content = as_csv(
        FROM, TO, [Line("TKA1", datetime(2026, 11, 3), STK, paid_in=Decimal(1))], OPENING
    )
    broken = content.replace(b"03-11-2026 00:00:00", b"2026-11-03 00:00", 1)
    with pytest.raises(NotAStatement, match=r"row 8: Completion Time '2026-11-03 00:00' is not a "):
        parse("s.csv", broken, NAIROBI)


async def test_callsheet_reconcile_prints_the_report_and_keeps_it(
    app: Callsheet, database_url: str, tmp_path: Path, clock: ManualClock
) -> None:
    # The command stamps its rows with the wall clock, which the app fixture's final check
    # compares with the test's clock: put that clock past any wall clock this runs under.
    clock.set(datetime(2100, 1, 1, tzinfo=ZoneInfo("UTC")))

    await books(app)
    path = tmp_path / "ORG_600123_Utility Account_Completed_20261202.csv"
    path.write_bytes(as_csv(FROM, TO, LINES, OPENING))
    done = await asyncio.to_thread(reconcile, database_url, path)
    assert done.returncode == 1, done.stderr  # some rows did not match
    assert "M-Pesa statement #1" in done.stdout and "4 matched" in done.stdout
    assert "TKA2222222" in done.stdout and "<b>" not in done.stdout
    again = await asyncio.to_thread(reconcile, database_url, path)
    assert "already reconciled (#1," in again.stdout
    assert await Reconciliation.all().count() == 1
    missing = await asyncio.to_thread(reconcile, database_url, tmp_path / "nope.csv")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    junk = tmp_path / "crew.csv"
    junk.write_text("name,amount\nJane,100\n")
    refused = await asyncio.to_thread(reconcile, database_url, junk)
    assert refused.returncode == 2 and "is not an M-Pesa statement" in refused.stderr
    assert refused.stderr.count("\n") == 1  # one line, no traceback


def reconcile(database_url: str, path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "TIMEZONE": "Africa/Nairobi"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "reconcile", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )


def test_the_longest_report_fits_one_telegram_message() -> None:
    """Every group full, every party a long name: the chat report stays within 4,096."""
    from services.books import Report
    from services.books.reconcile import SHOWN
    from services.notifications import Renderer

    recon = Reconciliation(
        id=12345,
        file_name="x" * 200,
        short_code="600123",
        period_from=utc(FROM),
        period_to=utc(TO),
        opening=99_999_999_999,
        closing=99_999_999_999,
        paid_in=99_999_999_999,
        withdrawn=99_999_999_999,
        fees=99_999_999_999,
        books_in=99_999_999_999,
        books_out=1,
        rows=100_000,
        left_out=99_999,
        matched=99_999,
        not_in_books=99_999,
        not_in_statement=99_999,
        amount_differs=99_999,
        created_at=utc(TO),
    )
    rows = {
        kind: [
            ReconciliationRow(
                id=n,
                kind=kind,
                receipt="TKA1111111",
                completed_at=utc(TO),
                statement_amount=99_999_999_999,
                books_amount=99_999_999_998,
                direction="out",
                other_party="254712345678 - " + "WANJIKU " * 14,
            )
            for n in range(50)
        ]
        for kind in ReconGroup
    }
    for listed in rows.values():  # as read back from the database: nobody named
        for row in listed:
            row.person_id = None
    report = Report(recon, rows, {}, again=True)
    renderer = Renderer(NAIROBI, "Sauti Sound", "https://t.me/x")
    shown = renderer.reply(
        "books/reconciliation", {"report": report, "shown": SHOWN, "now": utc(TO)}
    )
    assert "…and 44 more." in shown
    assert len(shown) <= 4096, len(shown)
