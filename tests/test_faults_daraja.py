# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""Daraja down, busy or slow during /request and Check status: the manager is told in plain
words, nobody is prompted twice, and the payment can be settled later.

(Slow past the timeout, settled by its late callback, is in test_callbacks.)"""

from __future__ import annotations

from datetime import timedelta

from bot.app import Callsheet
from models import LedgerEntry, Payment, PaymentStatus, Person
from sandbox.daraja import DarajaSandbox, Fault, Outcome
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    app,
    ask,
    crew,
    daraja,
    only_payment,
    tg,
)

Crew = tuple[Person, SandboxUser, Person, SandboxUser]


async def test_daraja_down_tells_the_manager_nothing_was_sent_and_resend_works_later(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, crew: Crew
) -> None:
    _, boss, jane_person, jane = crew
    await daraja.set_fault(Fault.DOWN)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    failed = await tg.wait_for_bot_message(
        boss.id,
        "❌ Jane Wanjiku did not pay KES 1,500: M-Pesa could not be reached, so nothing was "
        "sent; try Resend in a minute",
        message_id=started["message_id"],
    )
    assert daraja.pushes == []  # nothing reached M-Pesa, so nothing is on Jane's phone
    assert (await only_payment()).status is PaymentStatus.FAILED

    # Still down: Resend fails the same clear way and prompts nobody.
    query_id = await tg.press(boss, failed["message_id"], "Resend")
    await tg.wait_for_callback_answer(query_id)
    await tg.wait_for_bot_message(
        boss.id, "M-Pesa could not be reached", after=failed["message_id"]
    )
    assert daraja.pushes == []

    await daraja.set_fault(Fault.NONE)
    second = tg.last_bot_message(boss.id)
    assert second is not None
    query_id = await tg.press(boss, second["message_id"], "Resend")
    await tg.wait_for_callback_answer(query_id)
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", after=second["message_id"]
    )
    await tg.wait_for_bot_message(jane.id, "✅ Paid KES 1,500")
    assert daraja.stats.pushes_accepted == 1 and len(daraja.pushes) == 1
    assert await LedgerEntry.filter(payment_id__isnull=False).count() == 1
    assert (await Person.get(id=jane_person.id)).balance == 0  # credited, and charged with it
    statuses = [p.status for p in await Payment.all().order_by("id")]
    assert statuses == [PaymentStatus.FAILED, PaymentStatus.FAILED, PaymentStatus.COMPLETED]


async def test_spike_arrest_then_resend_prompts_the_payer_exactly_once(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, crew: Crew
) -> None:
    _, boss, jane_person, _ = crew
    await daraja.set_fault(Fault.BUSY)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss.id,
        "did not pay KES 1,500: M-Pesa is busy right now; try again in a minute",
        message_id=started["message_id"],
    )
    assert [p.error_code for p in daraja.pushes] == ["500.003.02"]
    await daraja.set_fault(Fault.NONE)
    query_id = await tg.press(boss, started["message_id"], "Resend")
    await tg.wait_for_callback_answer(query_id)
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", after=started["message_id"]
    )
    assert [p.error_code for p in daraja.pushes] == ["500.003.02", None]
    assert daraja.stats.pushes_accepted == 1
    assert (await Person.get(id=jane_person.id)).balance == 0  # credited, and charged with it


async def test_check_status_while_daraja_is_down_says_so_and_works_once_it_is_back(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, crew: Crew
) -> None:
    _, boss, jane_person, _ = crew
    daraja.next_outcome(None, Outcome.NO_CALLBACK)  # Jane pays; the callback is lost
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    payment = await only_payment()
    assert payment.checkout_request_id is not None
    await daraja.wait_for_result(payment.checkout_request_id)

    await daraja.set_fault(Fault.DOWN)
    query_id = await tg.press(boss, started["message_id"], "Check status")
    answer = await tg.wait_for_callback_answer(query_id)
    assert (
        answer["text"]
        == "❌ M-Pesa could not be asked right now; try Check status again in a minute."
    )
    assert (await only_payment()).status is PaymentStatus.PENDING

    await daraja.set_fault(Fault.NONE)
    query_id = await tg.press(boss, started["message_id"], "Check status")
    assert (await tg.wait_for_callback_answer(query_id))["text"] == "Payment #1: completed"
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", message_id=started["message_id"]
    )
    await ask(tg, boss, "/resolve 1 | QJK4JANE01 on the statement", "✅ Payment #1 resolved")
    assert len(daraja.pushes) == 1
    assert await LedgerEntry.filter(payment_id__isnull=False).count() == 1
    assert (await Person.get(id=jane_person.id)).balance == 0  # credited, and charged with it


async def test_a_request_interrupted_before_daraja_answered_becomes_unknown_for_managers(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, clock: ManualClock, crew: Crew
) -> None:
    """What a process killed between saving the request and Daraja's answer leaves behind."""
    boss, boss_user, jane, _ = crew
    payment = await Payment.create(
        person=jane,
        requested_by=boss,
        phone=jane.phone,
        amount=1500,
        purpose="Deposit",
        account_reference="Deposit",
        transaction_desc="Deposit",
        created_at=clock.now(),
        updated_at=clock.now(),
    )
    assert app.reconciler is not None
    assert await app.reconciler.run_due() == 0
    assert (await Payment.get(id=payment.id)).status is PaymentStatus.INITIATED  # maybe sending
    clock.advance(timedelta(minutes=4))
    await app.reconciler.run_due()
    assert (await Payment.get(id=payment.id)).status is PaymentStatus.UNKNOWN
    await tg.wait_for_bot_message(boss_user.id, "interrupted before M-Pesa answered")
    assert daraja.pushes == [] and await LedgerEntry.all().count() == 0
