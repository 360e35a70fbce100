# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""Times come from the app's clock, including on the bulk and raw SQL updates that settle a
payment: an accountant reading updated_at sees when the row last changed, not when it was made."""

from __future__ import annotations

from datetime import timedelta

from bot.app import Callsheet
from models import Payment, PaymentStatus, Person
from sandbox.daraja import DarajaSandbox, Outcome
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.conftest import START
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    app,
    ask,
    crew,
    daraja,
    only_payment,
    tg,
)

Crew = tuple[Person, SandboxUser, Person, SandboxUser]


async def test_settling_a_payment_stamps_the_payment_and_the_payer_with_the_settling_time(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, clock: ManualClock, crew: Crew
) -> None:
    _, boss, jane_person, _ = crew
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    asked = await only_payment()
    assert asked.created_at == asked.updated_at == START

    clock.advance(timedelta(minutes=1, seconds=30))
    assert asked.checkout_request_id is not None
    await daraja.release(asked.checkout_request_id, Outcome.SUCCESS)
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", message_id=started["message_id"]
    )
    paid = await Payment.get(id=asked.id)
    settled_at = START + timedelta(minutes=1, seconds=30)
    assert paid.status is PaymentStatus.COMPLETED
    assert paid.created_at == START  # when it was asked, unchanged
    assert paid.resolved_at == paid.updated_at == settled_at  # the raw UPDATE that settled it
    payer = await Person.get(id=jane_person.id)
    assert payer.updated_at == settled_at  # the balance changed then
    assert payer.created_at == START
