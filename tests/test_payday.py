# ruff: noqa: F811  (fixtures are imported from the helpers, then used)
"""Payday end to end, through both sandboxes: Pay on an approved sheet asks the balance, pays
each line by B2C, and the manager's sheet message, the payslips, the ledger and the audit
follow. Each test ends with `callsheet audit` clean (the app fixture) and nobody paid twice."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pypdf
import pytest

from bot.app import Callsheet
from models import (
    LedgerEntry,
    LedgerKind,
    OperatorResult,
    Payout,
    PayoutStatus,
    PaySheet,
    PaySheetStatus,
    Person,
    Receipt,
)
from sandbox.daraja import (
    SANDBOX_INITIATOR,
    SANDBOX_INITIATOR_PASSWORD,
    DarajaSandbox,
    Delivery,
    Fault,
)
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.buttons.payroll import PaySheetNow
from services.clock import ManualClock
from services.payroll.paying import PayRuns
from services.payroll.results import OperatorResults
from services.payroll.sender import PaySender
from tests.conftest import PG_URL, Mailbox, People, assert_stamped_by, text_part
from tests.event_setup import said
from tests.payments_helpers import daraja, start_app  # noqa: F401  (fixture)
from tests.payroll_helpers import (  # noqa: F401  (tg is a fixture)
    approved_sheet,
    gig,
    press_and_answer,
    sheet_message,
    tg,
)

JANE = "254712345678"
OTIENO = "254722111222"


def operator(daraja: DarajaSandbox, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """Settings that turn payouts on: the API operator's certificate is the sandbox's own."""
    return {
        "daraja_initiator_name": SANDBOX_INITIATOR,
        "daraja_initiator_password": SANDBOX_INITIATOR_PASSWORD,
        "daraja_certificate": str(daraja.certificate.write(tmp_path / "sandbox.pem")),
        "daraja_b2c_rate": 50,
        **overrides,
    }


@pytest.fixture
async def app(
    request: pytest.FixtureRequest,
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
    daraja: DarajaSandbox,
    tmp_path: Path,
) -> AsyncIterator[Callsheet]:
    """Payments and payouts on, with the test's `app_settings` mark."""
    marker = request.node.get_closest_marker("app_settings")
    overrides = operator(daraja, tmp_path, **(marker.kwargs if marker else {}))
    running = await start_app(tg, database_url, smtp_server[1], clock, daraja, **overrides)
    yield running
    try:
        assert running.services is not None
        assert await running.services.ledger.audit() == []
        await assert_stamped_by(clock)
    finally:
        await running.stop()


async def approved(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> tuple[SandboxUser, int]:
    """Event #1's sheet approved: Jane 3,500 (owes 800, not deducted), Otieno 3,000."""
    boss, _, _ = await gig(app, tg, people, clock)
    await said(tg, boss, "/rates sound engineer | 3500", "KES 3,500")
    await said(tg, boss, "/rates lights | 3000", "KES 3,000")
    await tg.send_text(boss, "/payroll 1")
    sheet = await sheet_message(tg, boss, "version 1 · draft")
    await press_and_answer(tg, boss, sheet["message_id"], "Submit")
    await sheet_message(tg, boss, "Waiting for approval", message_id=sheet["message_id"])
    await press_and_answer(tg, boss, sheet["message_id"], "Approve")
    await sheet_message(tg, boss, "Frozen: a change", message_id=sheet["message_id"])
    return boss, int(sheet["message_id"])


async def pay(tg: TelegramSandbox, boss: SandboxUser, message_id: int, label: str) -> str:
    """Press Pay now, Pay again or Retry failed on the sheet (shown in the state waited for)."""
    return await press_and_answer(tg, boss, message_id, label)


async def results_applied(app: Callsheet) -> None:
    """Until every result post the app has answered is applied."""
    assert app.services is not None and app.services.operator_results is not None
    async with asyncio.timeout(15):
        await app.services.operator_results.settled()


def sweep_now(app: Callsheet) -> None:
    """The pay sender sweeps now (as it does every 15 s by itself)."""
    sender = next(w for w in app.workers if isinstance(w, PaySender))
    sender.sweep_now()


async def payouts_by_phone() -> dict[str, list[Payout]]:
    found: dict[str, list[Payout]] = {}
    for payout in await Payout.all().order_by("id"):
        found.setdefault(payout.phone.lstrip("+"), []).append(payout)
    return found


async def assert_paid_once(daraja: DarajaSandbox) -> None:
    """No line paid twice, by us or by M-Pesa's own record."""
    paid = [p for p in await Payout.filter(status=PayoutStatus.PAID)]
    lines = [p.line_id for p in paid]  # type: ignore[attr-defined]
    assert len(lines) == len(set(lines))
    moved = [p for p in daraja.payouts.values() if p.paid]
    assert sorted(p.originator_id for p in moved) == sorted(
        p.originator_conversation_id for p in paid
    )


async def test_a_normal_run_pays_each_line_once_with_payslips(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    daraja: DarajaSandbox,
    smtp_server: tuple[Mailbox, int],
) -> None:
    boss, message_id = await approved(app, tg, people, clock)
    before = daraja.utility_balance
    answer = await pay(tg, boss, message_id, "Pay now")
    assert answer == "⏳ Checking the M-Pesa balance, then paying KES 6,500"
    done = await sheet_message(tg, boss, "Paid in full", message_id=message_id, timeout=15)
    assert "2 paid · KES 6,500 of 6,500" in done["text"]
    assert "Otieno Kamau · lights · 3,000 · net 3,000 · ✅ paid" in done["text"]
    assert daraja.utility_balance == before - 6_500
    assert (await PaySheet.get(id=1)).status is PaySheetStatus.PAID
    # Each crew member gets a payslip in chat and by email, with the M-Pesa receipt.
    jane = await Person.get(phone="+" + JANE)
    receipt = (await Payout.get(phone="+" + JANE)).transaction_id
    assert receipt is not None
    slip = await tg.wait_for_bot_message(jane.telegram_id or 0, "Payslip")
    assert "Paid to you: KES 3,500" in slip["text"] and receipt in slip["text"]
    mailbox, _ = smtp_server
    mail = await mailbox.wait_for("jane@example.com", "payslip")
    text = text_part(mail)
    assert receipt in text and "Day rate: KES 3,500" in text
    # Each paid payout has its receipt: named in the payslip, its PDF on the email.
    numbers = {r.payout_id: r.number for r in await Receipt.all()}  # type: ignore[attr-defined]
    assert sorted(numbers.values()) == ["R-2026-000001", "R-2026-000002"]
    number = numbers[(await Payout.get(phone="+" + JANE)).id]
    assert f"Receipt {number}: /receipt {number}" in slip["text"]
    assert f"Our receipt: {number} (PDF attached)" in text
    [attached] = list(mail.iter_attachments())
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_filename() == f"{number}.pdf"
    pdf = pypdf.PdfReader(io.BytesIO(attached.get_content())).pages[0].extract_text()
    assert number in pdf and "Paid to" in pdf and "KES 3,500" in pdf and receipt in pdf
    # The ledger: wages owed, then paid; Jane still owes the 800 she did before.
    assert (await Person.get(id=jane.id)).balance == 800
    assert await LedgerEntry.filter(kind=LedgerKind.PAYOUT).count() == 2
    await assert_paid_once(daraja)


async def test_a_shortfall_is_refused_with_the_amount_to_top_up(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> None:
    boss, message_id = await approved(app, tg, people, clock)
    daraja.utility_balance = 5_000
    await pay(tg, boss, message_id, "Pay now")
    stopped = await sheet_message(tg, boss, "Paying stopped", message_id=message_id, timeout=15)
    # 6,500 to pay and 2 × 23 kept for fees, against 5,000.
    assert "Top up KES 1,546 first" in stopped["text"]
    alert = await tg.wait_for_bot_message(boss.id, "⛔ Paying the crew of")
    assert "Top up KES 1,546 first" in alert["text"]
    assert await Payout.filter(status=PayoutStatus.QUEUED).count() == 2
    assert daraja.operator_stats.payouts_accepted == 0
    # Topped up, Pay again goes through.
    daraja.utility_balance = 100_000
    await pay(tg, boss, message_id, "Pay again")
    await sheet_message(tg, boss, "Paid in full", message_id=message_id, timeout=15)
    await assert_paid_once(daraja)


@pytest.mark.app_settings(daraja_b2c_rate=0.5)  # Jane's result is in before Otieno is due
@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("2001", "password has expired or is wrong"),
        ("8006", "credential is locked"),
        ("21", "lacks the role"),
        ("1", "cannot cover it"),
    ],
)
async def test_a_stop_code_stops_the_run_and_tells_every_manager(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    daraja: DarajaSandbox,
    code: str,
    words: str,
) -> None:
    boss, message_id = await approved(app, tg, people, clock)
    _, other = await people.add("Wambui Njeri", "0700 000 002", manager=True)
    # Jane's line goes first (line ids follow the crew's names); it fails, Otieno waits.
    daraja.next_payout(JANE, code)
    await pay(tg, boss, message_id, "Pay now")
    stopped = await sheet_message(tg, boss, "Paying stopped", message_id=message_id, timeout=15)
    assert words in stopped["text"]
    for manager in (boss, other):
        alert = await tg.wait_for_bot_message(manager.id, "⛔ Paying the crew of")
        assert words in alert["text"] and "press Pay again" in alert["text"]
    by_phone = await payouts_by_phone()
    assert [p.status for p in by_phone[JANE]] == [PayoutStatus.FAILED]
    assert [p.status for p in by_phone[OTIENO]] == [PayoutStatus.QUEUED]
    # Fixed: Pay again re-sends the failed line with a new id, and sends the rest.
    await pay(tg, boss, message_id, "Pay again")
    await sheet_message(tg, boss, "Paid in full", message_id=message_id, timeout=15)
    by_phone = await payouts_by_phone()
    assert [p.attempt for p in by_phone[JANE]] == [1, 2]
    assert by_phone[JANE][1].originator_conversation_id == f"cs-pay-{by_phone[JANE][1].line_id}-2"  # type: ignore[attr-defined]
    await assert_paid_once(daraja)


async def test_an_unregistered_recipient_fails_that_line_in_words_and_retry_failed_resends_it(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> None:
    boss, message_id = await approved(app, tg, people, clock)
    daraja.next_payout(OTIENO, "2040")
    daraja.next_payout(JANE, "SFC_IC0003")
    await pay(tg, boss, message_id, "Pay now")
    failed = await sheet_message(tg, boss, "Retry failed", message_id=message_id, timeout=15)
    assert "0 paid · 2 failed · KES 0 of 6,500" in failed["text"]
    assert "❌ the number is not a registered M-Pesa customer" in failed["text"]
    assert "❌ the number does not exist on M-Pesa" in failed["text"]
    assert (await PaySheet.get(id=1)).status is PaySheetStatus.PAYING
    await pay(tg, boss, message_id, "Retry failed")
    await sheet_message(tg, boss, "Paid in full", message_id=message_id, timeout=15)
    assert [p.status for p in await Payout.all().order_by("id")] == [
        PayoutStatus.FAILED,
        PayoutStatus.FAILED,
        PayoutStatus.PAID,
        PayoutStatus.PAID,
    ]
    await assert_paid_once(daraja)


async def test_a_result_posted_twice_is_applied_once(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> None:
    boss, message_id = await approved(app, tg, people, clock)
    daraja.next_payout(JANE, "0", Delivery.TWICE)
    await pay(tg, boss, message_id, "Pay now")
    await sheet_message(tg, boss, "Paid in full", message_id=message_id, timeout=15)
    jane = await Payout.get(phone="+" + JANE)
    await daraja.wait_for_results(jane.originator_conversation_id, count=2)
    await results_applied(app)
    rows = await OperatorResult.filter(product="b2c").order_by("id")
    assert len(rows) == 3  # Jane's twice, Otieno's once
    assert sorted(r.status.value for r in rows if jane.originator_conversation_id in r.body) == [
        "applied",
        "duplicate",
    ]
    assert await LedgerEntry.filter(kind=LedgerKind.PAYOUT).count() == 2
    await assert_paid_once(daraja)


@pytest.mark.parametrize("delivery", [Delivery.LOST, Delivery.QUEUE_TIMEOUT])
async def test_an_outcome_never_heard_is_settled_by_transaction_status(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    daraja: DarajaSandbox,
    delivery: Delivery,
) -> None:
    boss, message_id = await approved(app, tg, people, clock)
    daraja.next_payout(JANE, "0", delivery)
    await pay(tg, boss, message_id, "Pay now")
    waiting = await sheet_message(
        tg, boss, "1 paid · 1 checking · KES 3,000 of 6,500", message_id=message_id, timeout=15
    )
    assert (
        "Jane Wanjiku · sound engineer · 3,500 · owes 800, not deducted · net 3,500 · ⏳"
        in (waiting["text"])
    )
    assert daraja.operator_stats.status_queries == 0
    # Two minutes without a result: the sweep asks Transaction Status, which knows.
    clock.advance(timedelta(seconds=121))
    sweep_now(app)
    done = await sheet_message(tg, boss, "Paid in full", message_id=message_id, timeout=15)
    assert "2 paid · KES 6,500 of 6,500" in done["text"]
    assert daraja.operator_stats.status_queries == 1
    assert daraja.operator_stats.payouts_accepted == 2  # never sent again
    await assert_paid_once(daraja)


async def test_a_result_that_arrives_before_the_answer_is_applied(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> None:
    boss, message_id = await approved(app, tg, people, clock)
    daraja.next_payout(JANE, "0", Delivery.BEFORE_RESPONSE)
    await pay(tg, boss, message_id, "Pay now")
    await sheet_message(tg, boss, "Paid in full", message_id=message_id, timeout=15)
    jane = await Payout.get(phone="+" + JANE)
    assert jane.conversation_id is not None  # the late answer still filled it in
    await assert_paid_once(daraja)


async def test_a_restart_mid_run_sends_the_rest_once_and_confirms_what_may_have_left(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
    daraja: DarajaSandbox,
    tmp_path: Path,
) -> None:
    # Slow pace: the process stops after Jane's payout left and before Otieno's is due.
    settings = operator(daraja, tmp_path, daraja_b2c_rate=0.5)
    first = await start_app(tg, database_url, smtp_server[1], clock, daraja, **settings)
    try:
        boss, message_id = await approved(first, tg, People(first, tg), clock)
        daraja.next_payout(JANE, "0", Delivery.LOST)  # paid, but no result will ever come
        await pay(tg, boss, message_id, "Pay now")
        await tg.wait_for(lambda: daraja.operator_stats.payouts_accepted == 1, timeout=15)
    finally:
        await first.stop()

    second = await start_app(tg, database_url, smtp_server[1], clock, daraja, **settings)
    try:
        # Jane's may have reached M-Pesa: not sent again but confirmed. Otieno's is sent once.
        assert (await Payout.get(phone="+" + JANE)).status is PayoutStatus.SENT
        await sheet_message(tg, boss, "1 paid · 1 checking", message_id=message_id, timeout=15)
        clock.advance(timedelta(seconds=121))
        sweep_now(second)
        await sheet_message(tg, boss, "Paid in full", message_id=message_id, timeout=15)
        assert daraja.operator_stats.payouts_accepted == 2
        assert "500.002.1001" not in daraja.operator_stats.refused
        assert [p.attempt for p in await Payout.all()] == [1, 1]
        await assert_paid_once(daraja)
        assert second.services is not None
        assert await second.services.ledger.audit() == []
    finally:
        await second.stop()


async def test_a_claim_that_never_left_fails_after_a_while_and_retry_pays_it(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> None:
    """A process that died between claiming a payout and sending it: M-Pesa has no record,
    and once it has had time to take it, that is proof it failed."""
    boss, message_id = await approved(app, tg, people, clock)
    jane = await Payout.get(phone="+" + JANE)
    await Payout.filter(id=jane.id).update(status=PayoutStatus.SENT, sent_at=clock.now())
    await pay(tg, boss, message_id, "Pay now")
    await sheet_message(tg, boss, "1 paid · 1 checking", message_id=message_id, timeout=15)
    clock.advance(timedelta(seconds=121))  # asked: "no such transaction", too soon to tell
    sweep_now(app)
    await tg.wait_for(lambda: daraja.operator_stats.status_queries == 1, timeout=15)
    await results_applied(app)
    assert (await Payout.get(id=jane.id)).status is PayoutStatus.SENT
    clock.advance(timedelta(minutes=10))
    sweep_now(app)
    failed = await sheet_message(tg, boss, "Retry failed", message_id=message_id, timeout=15)
    assert "M-Pesa has no record of this payout" in failed["text"]
    await pay(tg, boss, message_id, "Retry failed")
    await sheet_message(tg, boss, "Paid in full", message_id=message_id, timeout=15)
    await assert_paid_once(daraja)


@pytest.mark.skipif(
    not PG_URL,
    reason="two senders' claims racing across connections: PostgreSQL only "
    "(set CALLSHEET_TEST_DATABASE_URL)",
)
async def test_two_senders_on_postgresql_pay_each_line_once(
    app: Callsheet, daraja: DarajaSandbox
) -> None:
    sheet = await approved_sheet(app, 40, cleared=False)
    assert app.services is not None and app.services.pay_runs is not None
    runs = app.services.pay_runs
    # A second instance's sender: its own pace and claims, the same database and M-Pesa.
    other_runs = PayRuns(runs.payroll, runs.daraja, runs.clock, urls=runs.urls, rate=50)
    other = PaySender(other_runs, OperatorResults(other_runs))
    task = asyncio.create_task(other.run())
    try:
        boss = await Person.get(phone="+254700000001")
        await runs.pay(boss, sheet.id)
        async with asyncio.timeout(30), daraja.changed:
            await daraja.changed.wait_for(
                lambda: sum(r.api == "b2c" for r in daraja.results_delivered) >= 40
            )
        await results_applied(app)
        paid = await Payout.filter(status=PayoutStatus.PAID).count()
        assert paid == 40 and (await PaySheet.get(id=sheet.id)).status is PaySheetStatus.PAID
        assert daraja.operator_stats.payouts_accepted == 40
        assert "500.002.1001" not in daraja.operator_stats.refused
        await assert_paid_once(daraja)
    finally:
        other.stop()
        await task


async def test_pay_pressed_twice_at_once_pays_once_and_the_second_press_is_told_why(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> None:
    boss, message_id = await approved(app, tg, people, clock)
    data = PaySheetNow(1).pack()
    first, second = await asyncio.gather(
        tg.press_forged(boss, message_id, data), tg.press_forged(boss, message_id, data)
    )
    answers = sorted(
        [str((await tg.wait_for_callback_answer(q)).get("text") or "") for q in (first, second)]
    )
    assert answers[0].startswith("⏳ Checking the M-Pesa balance")
    assert answers[1].startswith("❌ ") and (
        "being checked" in answers[1] or "under way" in answers[1] or "paid in full" in answers[1]
    )
    await sheet_message(tg, boss, "Paid in full", message_id=message_id, timeout=15)
    assert daraja.operator_stats.balance_queries == 1
    await assert_paid_once(daraja)


async def test_crew_cannot_press_pay(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> None:
    await approved(app, tg, people, clock)
    _, jane = await people.add("Jane Two", "0711 222 333")
    await tg.send_text(jane, "/help")
    hello = await tg.wait_for_bot_message(jane.id, "Here is what you can do")
    query = await tg.press_forged(jane, hello["message_id"], PaySheetNow(1).pack())
    answer = await tg.wait_for_callback_answer(query)
    assert answer.get("text") == "❌ Only managers can pay the crew."
    assert (await PaySheet.get(id=1)).status is PaySheetStatus.APPROVED
    assert daraja.operator_stats.balance_queries == 0


async def test_a_5xx_after_sending_makes_the_payout_unknown_and_it_is_never_sent_again(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    daraja: DarajaSandbox,
) -> None:
    boss, message_id = await approved(app, tg, people, clock)
    daraja.fault = Fault.INTERNAL  # B2C taken, then answered 500.003.1001
    daraja.next_payout(JANE, "0", Delivery.LOST)
    await pay(tg, boss, message_id, "Pay now")
    await sheet_message(
        tg, boss, "1 paid · 1 checking · KES 3,000 of 6,500", message_id=message_id, timeout=15
    )
    jane = await Payout.get(phone="+" + JANE)
    assert jane.status is PayoutStatus.UNKNOWN
    daraja.fault = Fault.NONE
    clock.advance(timedelta(seconds=121))
    sweep_now(app)
    await sheet_message(tg, boss, "Paid in full", message_id=message_id, timeout=15)
    assert daraja.operator_stats.payouts_accepted == 2
    await assert_paid_once(daraja)
