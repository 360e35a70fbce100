# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""Payment requests: asking (/request), refusals, repeats, Resend, Check status and the STK
query that settles a payment no callback settled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import Callsheet
from models import (
    LedgerEntry,
    Payment,
    PaymentStatus,
    Person,
)
from sandbox.daraja import DarajaSandbox, Fault, Outcome
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.conftest import (
    Mailbox,
)
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    app,
    ask,
    crew,
    daraja,
    only_payment,
    settled,
    tg,
)


async def test_guided_request_asks_each_field_and_re_asks_bad_ones(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    await ask(tg, boss, "/request", "Who should pay?")
    await ask(tg, boss, "Nobody Here", "Nobody on the crew list is called")
    await ask(tg, boss, "jane", "How much")
    await ask(tg, boss, "1500.50", "has cents")
    await ask(tg, boss, "2000", "What is it for?")
    started = await ask(tg, boss, "Advance", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    assert (await only_payment()).amount == 2000


async def test_crew_cannot_request(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, _, _, jane = crew
    await ask(tg, jane, "/request Jane | 100 | x", "Only managers")
    await ask(tg, jane, "/balances", "Only managers")
    assert daraja.pushes == [] and await Payment.all().count() == 0


@pytest.mark.parametrize(
    ("outcome", "status", "reason"),
    [
        (Outcome.CANCELLED, PaymentStatus.CANCELLED, "cancelled by the payer"),
        (Outcome.UNREACHABLE, PaymentStatus.TIMEOUT, "the phone could not be reached"),
        (Outcome.WRONG_PIN, PaymentStatus.FAILED, "wrong PIN"),
        (Outcome.INSUFFICIENT, PaymentStatus.FAILED, "insufficient M-Pesa balance"),
    ],
)
async def test_failure_shows_the_reason_with_resend_and_check_status(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
    outcome: Outcome,
    status: PaymentStatus,
    reason: str,
) -> None:
    _, boss, _, jane = crew
    daraja.next_outcome("254712345678", outcome)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    failed = await tg.wait_for_bot_message(
        boss.id,
        f"❌ Jane Wanjiku did not pay KES 1,500: {reason}",
        message_id=started["message_id"],
    )
    buttons = [b["text"] for row in failed["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["Resend", "Check status"]
    await tg.wait_for_bot_message(jane.id, f"❌ Not paid KES 1,500: {reason}")
    payment = await only_payment()
    assert payment.status is status and await LedgerEntry.all().count() == 0

    # Check status asks Daraja and agrees; Resend sends a new prompt that can succeed.
    query_id = await tg.press(boss, started["message_id"], "Check status")
    answer = await tg.wait_for_callback_answer(query_id)
    assert status.value in answer["text"]
    query_id = await tg.press(boss, started["message_id"], "Resend")
    await tg.wait_for_callback_answer(query_id)
    resent = await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", after=started["message_id"]
    )
    assert "Payment #2" in resent["text"]
    second = await Payment.get(id=2)
    assert second.resend_of_id == payment.id  # type: ignore[attr-defined]
    assert len(daraja.pushes) == 2
    # A second press on the old message (or a stale one) does not prompt the payer again.
    query_id = await tg.press(boss, started["message_id"], "Resend")
    again = await tg.wait_for_callback_answer(query_id)
    assert again["text"] == "❌ Payment #1 was already resent as #2."
    assert len(daraja.pushes) == 2


async def test_a_refused_push_fails_with_the_human_reason(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    daraja.spike_limit = 0  # every push: 500.003.02 spike arrest
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss.id, "M-Pesa is busy right now; try again in a minute", message_id=started["message_id"]
    )
    payment = await only_payment()
    assert payment.status is PaymentStatus.FAILED and payment.checkout_request_id is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/request 0812 345 678 | 1500 | Deposit", "is not a Kenyan mobile number"),
        ("/request +255 712 345 678 | 1500 | Deposit", "is not a Kenyan number"),
        ("/request 0712 345 67 | 1500 | Deposit", "wrong number of digits"),
        ("/request Jane | 0 | Deposit", "is not a positive amount"),
        ("/request Jane | 1500.50 | Deposit", "has cents"),
        ("/request Jane | 250,001 | Deposit", "is too large"),
        ("/request Jane | -5 | Deposit", "is not a positive amount"),
        ("/request Jane | lots | Deposit", "is not an amount"),
        ("/request Jane | 1500 | !!!", "must contain letters or digits"),
        ("/request Jane | 1500", "needs 3 parts"),
    ],
)
async def test_invalid_phone_amount_or_purpose_is_refused_before_any_request(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
    text: str,
    expected: str,
) -> None:
    _, boss, _, _ = crew
    await ask(tg, boss, text, expected)
    assert daraja.pushes == [] and daraja.stats.tokens_issued == 0
    assert await Payment.all().count() == 0


async def test_a_repeat_within_two_minutes_asks_first(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    first = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=first["message_id"])
    clock.advance(timedelta(seconds=40))
    question = await ask(tg, boss, "/request 0712345678 | 1500 | Deposit", "Send again?")
    assert "40 seconds ago" in question["text"]
    assert len(daraja.pushes) == 1
    query_id = await tg.press(boss, question["message_id"], "Don't send")
    await tg.wait_for_callback_answer(query_id)
    await tg.wait_for_bot_message(boss.id, "Not sent.", message_id=question["message_id"])
    assert len(daraja.pushes) == 1

    question = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Send again?")
    await tg.press(boss, question["message_id"], "Send again")
    # Daraja refuses the same amount to the same phone within 2 minutes (result 17).
    await tg.wait_for_bot_message(boss.id, "wait 2 minutes before resending")
    assert len(daraja.pushes) == 2
    # A different amount is not a repeat.
    await ask(tg, boss, "/request Jane | 1400 | Deposit", "KES 1,400")
    await tg.wait_for(lambda: len(daraja.pushes) == 3)


async def test_no_callback_is_resolved_by_query_after_the_delay(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, jane = crew
    await ask(tg, boss, "/charge Jane | 1500 | Advance", "They now owe")
    daraja.next_outcome(None, Outcome.NO_CALLBACK)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    payment = await only_payment()
    assert payment.checkout_request_id is not None
    await daraja.wait_for_result(payment.checkout_request_id)  # paid, but no callback comes
    assert app.reconciler is not None
    assert await app.reconciler.run_due() == 0  # too early to ask
    clock.advance(timedelta(minutes=3))
    assert await app.reconciler.run_due() == 1
    await tg.wait_for_bot_message(
        boss.id,
        "✅ Jane Wanjiku paid KES 1,500 · receipt not yet known",
        message_id=started["message_id"],
    )
    await tg.wait_for_bot_message(jane.id, "✅ Paid KES 1,500")
    assert (await Person.get(id=jane_person.id)).balance == 0
    assert await app.reconciler.run_due() == 0  # settled: never asked again
    assert daraja.stats.queries == 1
    # The query has no receipt: the audit asks until a manager records where it is.
    assert app.services is not None
    assert [str(m) for m in await app.services.ledger.audit()] == [
        "payment #1: completed without an M-Pesa receipt: find it on the M-Pesa statement, "
        "then /resolve 1 | the receipt"
    ]
    await ask(tg, boss, "/resolve 1 | QJK4JANE01 on the statement", "✅ Payment #1 resolved")
    listing = await ask(tg, boss, "/payments", "Payments (latest)")
    assert "receipt not yet known · QJK4JANE01 on the statement" in listing["text"]


async def test_a_payment_still_processing_is_marked_unknown_for_managers_then_settled_late(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    assert app.reconciler is not None
    clock.advance(timedelta(minutes=4))
    assert await app.reconciler.run_due() == 1
    assert (await only_payment()).status is PaymentStatus.PENDING  # "being processed"
    clock.advance(timedelta(minutes=30))
    assert await app.reconciler.run_due() == 1
    await tg.wait_for_bot_message(
        boss.id, "⏳ Not known yet whether Jane Wanjiku paid", message_id=started["message_id"]
    )
    await tg.wait_for_bot_message(boss.id, "needs a manager: M-Pesa still says")
    await mail.wait_for("achieng@example.com", "needs a manager")
    payment = await only_payment()
    assert payment.status is PaymentStatus.UNKNOWN
    # The payer finally answers: the late callback still settles it.
    assert payment.checkout_request_id is not None
    await daraja.release(payment.checkout_request_id, Outcome.SUCCESS)
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", message_id=started["message_id"]
    )


async def test_cancel_leaves_nothing_behind(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    await ask(tg, boss, "/request", "Who should pay?")
    prompt = await ask(tg, boss, "Jane", "How much")
    query_id = await tg.press(boss, prompt["message_id"], "Cancel")
    await tg.wait_for_callback_answer(query_id)
    await tg.wait_for_bot_message(boss.id, "Cancelled. Nothing was saved.")
    await ask(tg, boss, "/charge", "Who owes it?")
    await ask(tg, boss, "/cancel", "Cancelled. Nothing was saved.")
    await ask(tg, boss, "1500", "Send /help")  # the conversation is over
    assert daraja.pushes == [] and await Payment.all().count() == 0


@pytest.mark.app_settings(daraja_timeout_seconds=10)
async def test_a_push_answered_after_it_was_marked_unknown_keeps_its_id(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    daraja.slow_seconds = 2.0
    await daraja.set_fault(Fault.SLOW)
    daraja.next_outcome(None, Outcome.HOLD)
    before = tg.last_bot_message(boss.id)
    await tg.send_text(boss, "/request Jane | 1500 | Deposit")
    await daraja.wait_for_pushes(1)
    # The push is still waiting for Daraja's answer when the reconciler's turn comes.
    clock.advance(timedelta(minutes=4))
    assert app.services is not None and app.services.payments is not None
    await app.services.payments.reconciliation.reconcile_due()
    assert (await only_payment()).status is PaymentStatus.UNKNOWN
    waiting = await tg.wait_for_bot_message(
        boss.id, "Waiting for Jane", after=before["message_id"] if before else None
    )
    payment = await only_payment()
    assert payment.status is PaymentStatus.PENDING
    assert payment.checkout_request_id == daraja.pushes[0].checkout_id
    assert payment.checkout_request_id is not None
    await daraja.release(payment.checkout_request_id, Outcome.CANCELLED)
    await tg.wait_for_bot_message(
        boss.id, "❌ Jane Wanjiku did not pay KES 1,500", message_id=waiting["message_id"]
    )


async def test_check_status_asks_mpesa_at_most_every_30_seconds(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    answers = []
    for _ in range(5):
        query_id = await tg.press(boss, started["message_id"], "Check status")
        answers.append((await tg.wait_for_callback_answer(query_id))["text"])
    assert answers[0] == "Payment #1: pending"
    assert (
        answers[1:]
        == ["❌ M-Pesa was just asked about payment #1. You can check again in 30 seconds."] * 4
    )
    assert daraja.stats.queries == 1
    clock.advance(timedelta(seconds=31))
    query_id = await tg.press(boss, started["message_id"], "Check status")
    assert (await tg.wait_for_callback_answer(query_id))["text"] == "Payment #1: pending"
    assert daraja.stats.queries == 2


async def test_a_deactivated_person_who_owes_can_be_charged_and_asked_to_pay(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    boss_person, boss, jane_person, _ = crew
    await ask(tg, boss, "/charge Jane | 1500 | Lost XLR cable", "They now owe KES 1,500")
    assert app.services is not None
    await app.services.people.set_active(boss_person, jane_person.id, False)
    await ask(tg, boss, "/charge #2 | 500 | Late return", "They now owe KES 2,000")
    started = await ask(tg, boss, "/request #2 | 2000 | Settle up", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 2,000", message_id=started["message_id"]
    )
    assert (await Person.get(id=jane_person.id)).balance == 0
