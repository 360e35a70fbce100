# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""Daraja's callbacks: the intake (secret, allowlist, storing, malformed bodies), matching
each to its payment, and settling it once however often it comes."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.app import Callsheet
from models import (
    CallbackStatus,
    DarajaCallback,
    LedgerEntry,
    LedgerKind,
    NotificationKind,
    OutboxMessage,
    Payment,
    PaymentStatus,
    Person,
)
from models.stamps import stamp
from sandbox.daraja import DarajaSandbox, Fault, Outcome
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.conftest import (
    START,
    Mailbox,
    People,
    text_part,
)
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    app,
    ask,
    callback_url,
    crew,
    daraja,
    only_payment,
    settled,
    success_body,
    tg,
)


async def test_a_callback_stored_but_never_applied_is_applied_after_a_crash(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    """The process died between storing a callback and applying it: nothing is lost."""
    _, boss, jane_person, _ = crew
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    payment = await only_payment()
    body = success_body(payment, "QJK9CRASH1")
    await DarajaCallback.create(
        **stamp(DarajaCallback, START),
        body=json.dumps(body),
        checkout_request_id=payment.checkout_request_id,
    )
    assert app.reconciler is not None
    clock.advance(timedelta(minutes=1))
    await app.reconciler.run_due()
    await tg.wait_for_bot_message(
        boss.id,
        "✅ Jane Wanjiku paid KES 1,500 · receipt QJK9CRASH1",
        message_id=started["message_id"],
    )
    await app.reconciler.run_due()  # a second sweep changes nothing
    assert await LedgerEntry.filter(kind=LedgerKind.PAYMENT).count() == 1
    assert (
        await Person.get(id=jane_person.id)
    ).balance == 0  # credited, and charged with the request
    assert [c.status for c in await DarajaCallback.all()] == [CallbackStatus.APPLIED]


async def test_a_duplicate_callback_credits_once(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    daraja.next_outcome(None, Outcome.DUPLICATE)
    await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    payment = await tg.wait_for(lambda: daraja.pushes[0].checkout_id if daraja.pushes else None)
    delivered = await daraja.wait_for_callback(payment, count=2)
    assert [d.status for d in delivered] == [200, 200]
    await settled(app)
    statuses = sorted(c.status.value for c in await DarajaCallback.all())
    assert statuses == ["applied", "duplicate"]
    assert await LedgerEntry.filter(kind=LedgerKind.PAYMENT).count() == 1
    assert (
        await Person.get(id=jane_person.id)
    ).balance == 0  # credited, and charged with the request


async def test_twenty_identical_callbacks_at_once_change_the_payment_once(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, jane = crew
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    prompt = await tg.wait_for_bot_message(jane.id, "Enter your M-Pesa PIN")
    query_id = await tg.press(jane, prompt["message_id"], "Check status")
    assert (await tg.wait_for_callback_answer(query_id))["text"] == "Payment #1: pending"
    payment = await only_payment()
    body = success_body(payment, "QJK3ABCDEF")
    async with httpx.AsyncClient() as http:
        replies = await asyncio.gather(
            *(http.post(callback_url(app), json=body) for _ in range(20))
        )
    assert [r.status_code for r in replies] == [200] * 20
    await settled(app)
    statuses = [c.status for c in await DarajaCallback.all()]
    assert statuses.count(CallbackStatus.APPLIED) == 1
    assert statuses.count(CallbackStatus.DUPLICATE) == 19
    assert await LedgerEntry.filter(kind=LedgerKind.PAYMENT).count() == 1
    assert (
        await Person.get(id=jane_person.id)
    ).balance == 0  # credited, and charged with the request
    await tg.wait_for_bot_message(boss.id, "receipt QJK3ABCDEF", message_id=started["message_id"])
    await mail.wait_for("jane@example.com", "QJK3ABCDEF")
    receipts = [m for m in mail.to("jane@example.com") if "receipt" in str(m["Subject"])]
    assert len(receipts) == 1  # one receipt, not twenty


async def test_a_burst_of_callbacks_settles_each_payment_once(
    app: Callsheet,
    tg: TelegramSandbox,
    mail: Mailbox,
    people: People,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    """Callbacks for many payments at once (stored together, settled in batches), with a
    redelivery and another payment's receipt among them; a payer without an email gets the
    receipt number in chat and no email row at all."""
    boss, boss_user, jane, _ = crew
    otieno, otieno_user = await people.add("Otieno Kamau", "0722 111 222")  # no email
    payers = [jane, otieno]
    payments = [
        await Payment.create(
            **stamp(Payment, START),
            person=payers[n % 2],
            requested_by=boss,
            phone=payers[n % 2].phone,
            amount=100 + n,
            purpose=f"Load {n}",
            account_reference="Load",
            transaction_desc="Load",
            status=PaymentStatus.PENDING,
            checkout_request_id=f"ws_CO_burst_{n}",
            merchant_request_id=f"burst-{n}",
        )
        for n in range(12)
    ]

    def body(payment: Payment, receipt: str) -> dict[str, Any]:
        callback = success_body(payment, receipt, amount=float(payment.amount))
        items = callback["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
        items[-1]["Value"] = int(payment.phone.lstrip("+"))
        return callback

    async with httpx.AsyncClient() as http:
        first = await http.post(callback_url(app), json=body(payments[0], "QBU0000000"))
        assert first.status_code == 200
        bodies = [body(p, f"QBU{n:07d}") for n, p in enumerate(payments[1:11], 1)]
        bodies += [body(payments[0], "QBU0000000"), body(payments[11], "QBU0000000")]
        replies = await asyncio.gather(*(http.post(callback_url(app), json=b) for b in bodies))
    assert [r.status_code for r in replies] == [200] * len(bodies)
    await settled(app)

    settled_payments = {p.id: p for p in await Payment.all()}
    assert {settled_payments[p.id].status for p in payments} == {PaymentStatus.COMPLETED}
    replayed = settled_payments[payments[11].id]
    assert replayed.receipt is None and replayed.flag_reason is not None
    assert f"already used for payment #{payments[0].id}" in replayed.flag_reason
    statuses = [c.status for c in await DarajaCallback.all()]
    assert statuses.count(CallbackStatus.APPLIED) == 11
    assert statuses.count(CallbackStatus.DUPLICATE) == 1
    assert statuses.count(CallbackStatus.FLAGGED) == 1
    assert await LedgerEntry.filter(kind=LedgerKind.PAYMENT).count() == 11
    for payer in payers:
        credited = sum(int(p.amount) for n, p in enumerate(payments[:11]) if payers[n % 2] is payer)
        credits = LedgerEntry.filter(kind=LedgerKind.PAYMENT, person_id=payer.id)
        assert -sum(e.amount for e in await credits) == credited
        assert (await Person.get(id=payer.id)).balance == 0  # each charged with its request

    await tg.wait_for_bot_message(otieno_user.id, "✅ Paid KES 101 · receipt QBU0000001")
    await tg.wait_for_bot_message(boss_user.id, "Otieno Kamau paid, but it was not credited")
    await mail.wait_for("jane@example.com", "QBU0000000")
    receipts = OutboxMessage.filter(kind=NotificationKind.PAYMENT_RECEIPT)
    assert not await receipts.filter(person_id=otieno.id).exists()
    assert await receipts.filter(person_id=jane.id).exists()
    assert await receipts.filter(person_id=boss.id).exists()
    assert app.services is not None
    await app.services.ledger.resolve_flag(boss, payments[11].id, "A replay: nothing was paid")


async def test_a_callback_that_beats_the_push_response_is_applied(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    daraja.next_outcome(None, Outcome.BEFORE_RESPONSE)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500 · receipt QJK", message_id=started["message_id"]
    )
    callback = await DarajaCallback.get()
    assert callback.status is CallbackStatus.APPLIED
    assert (
        await Person.get(id=jane_person.id)
    ).balance == 0  # credited, and charged with the request


async def test_an_amount_mismatch_is_flagged_not_credited_and_managers_told(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    daraja.next_outcome(None, Outcome.AMOUNT_MISMATCH)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss.id,
        "it was not credited: M-Pesa reports KES 1,499 paid, but KES 1,500 was asked",
        message_id=started["message_id"],
    )
    await tg.wait_for_bot_message(boss.id, "needs a manager")
    alert = await mail.wait_for("achieng@example.com", "needs a manager")
    assert "KES 1,499" in text_part(alert)
    payment = await only_payment()
    assert payment.flag_reason and payment.paid_amount == 1499
    assert (await DarajaCallback.get()).status is CallbackStatus.FLAGGED
    assert await LedgerEntry.all().count() == 0
    assert (await Person.get(id=jane_person.id)).balance == 0
    await ask(tg, boss, "/payments flagged", "flagged: M-Pesa reports KES 1,499")
    await ask(tg, boss, "/resolve 1 | Jane topped up KES 1 in cash", "✅ Payment #1 resolved")
    await ask(tg, boss, "/payments flagged", "resolved: Jane topped up KES 1 in cash")


async def test_unknown_and_malformed_callbacks_are_stored(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox
) -> None:
    unknown = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "1-2-3",
                "CheckoutRequestID": "ws_CO_nobody",
                "ResultCode": 1032,
                "ResultDesc": "Request cancelled by user",
            }
        }
    }
    async with httpx.AsyncClient() as http:
        ok = await http.post(callback_url(app), json=unknown)
        bad = await http.post(callback_url(app), content=b'{"Body": {}}')
        not_json = await http.post(callback_url(app), content=b"<xml/>")
    assert (ok.status_code, bad.status_code, not_json.status_code) == (200, 400, 400)
    await settled(app)
    rows = await DarajaCallback.all().order_by("id")
    assert [r.status for r in rows] == [
        CallbackStatus.UNMATCHED,
        CallbackStatus.RECEIVED,
        CallbackStatus.RECEIVED,
    ]
    assert rows[2].body == "<xml/>"


async def test_a_wrong_secret_is_404_and_nothing_is_stored(
    app: Callsheet, daraja: DarajaSandbox
) -> None:
    async with httpx.AsyncClient() as http:
        wrong = await http.post(callback_url(app, "0f1e2d3c4b5a69788796a5b4c3d2e1f1"), json={})
        empty = await http.post(f"http://127.0.0.1:{app.port}/daraja/stk/callback/", json={})
    assert (wrong.status_code, empty.status_code) == (404, 404)
    assert await DarajaCallback.all().count() == 0


@pytest.mark.app_settings(daraja_allowed_ips="196.201.214.200,196.201.214.206")
async def test_a_callback_from_outside_the_allowlist_is_refused(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    checkout = await tg.wait_for(lambda: daraja.pushes[0].checkout_id if daraja.pushes else None)
    delivered = await daraja.wait_for_callback(checkout)
    assert delivered[0].status == 403  # the sandbox posts from 127.0.0.1
    assert await DarajaCallback.all().count() == 0
    assert (await only_payment()).status is PaymentStatus.PENDING
    # X-Forwarded-For is not believed from an untrusted peer.
    async with httpx.AsyncClient() as http:
        spoofed = await http.post(
            callback_url(app),
            json=delivered[0].body,
            headers={"X-Forwarded-For": "196.201.214.200"},
        )
    assert spoofed.status_code == 403


@pytest.mark.app_settings(daraja_allowed_ips="196.201.214.200", daraja_trusted_proxies="127.0.0.1")
async def test_a_trusted_proxy_passes_on_safaricoms_address(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    checkout = await tg.wait_for(lambda: daraja.pushes[0].checkout_id if daraja.pushes else None)
    delivered = await daraja.wait_for_callback(checkout)
    assert delivered[0].status == 403  # no X-Forwarded-For from the proxy: refused
    async with httpx.AsyncClient() as http:
        forwarded = await http.post(
            callback_url(app),
            json=delivered[0].body,
            headers={"X-Forwarded-For": "10.9.8.7, 196.201.214.200"},
        )
    assert forwarded.status_code == 200
    await tg.wait_for_bot_message(boss.id, "✅", message_id=started["message_id"])
    assert (await DarajaCallback.get()).remote_ip == "196.201.214.200"


@pytest.mark.app_settings(daraja_timeout_seconds=0.5)
async def test_a_push_without_an_answer_is_never_resent_and_is_settled_by_its_callback(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    await daraja.set_fault(Fault.SLOW)  # Daraja takes the push but answers too late
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    unknown = await tg.wait_for_bot_message(
        boss.id,
        "⏳ Not known yet whether Jane Wanjiku paid KES 1,500: no answer from M-Pesa",
        message_id=started["message_id"],
    )
    assert [b["text"] for b in unknown["reply_markup"]["inline_keyboard"][0]] == ["Resend"]
    await mail.wait_for("achieng@example.com", "needs a manager")
    payment = await only_payment()
    assert payment.status is PaymentStatus.UNKNOWN and payment.checkout_request_id is None
    assert len(daraja.pushes) == 1  # one prompt on Jane's phone, not two

    # Jane pays; the callback carries a CheckoutRequestID we never saw, but its phone and
    # amount match the one unknown payment.
    checkout = daraja.pushes[0].checkout_id
    assert checkout is not None
    await daraja.release(checkout, Outcome.SUCCESS)
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", message_id=started["message_id"]
    )
    assert (await only_payment()).checkout_request_id == checkout
    assert (
        await Person.get(id=jane_person.id)
    ).balance == 0  # credited, and charged with the request


@pytest.mark.app_settings(daraja_timeout_seconds=0.5)
async def test_a_callback_that_came_while_the_push_was_in_flight_is_applied_when_it_times_out(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    """Jane pays before Daraja answers the push, and the answer never comes: her callback
    waited (unmatched) while the push was in flight; once the push is given up as unknown
    it is the one payment it can be, and the manager sees her paid, not 'ask before
    resending' (a Resend there would make her pay twice)."""
    _, boss, jane_person, _ = crew
    await daraja.set_fault(Fault.SLOW)  # the answer to the push comes too late
    daraja.next_outcome(None, Outcome.BEFORE_RESPONSE)  # she pays while we wait for it
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", message_id=started["message_id"]
    )
    payment = await only_payment()
    assert payment.status is PaymentStatus.COMPLETED
    assert payment.checkout_request_id == daraja.pushes[0].checkout_id
    assert len(daraja.pushes) == 1
    assert (await Person.get(id=jane_person.id)).balance == 0  # credited, and charged


@pytest.mark.app_settings(daraja_timeout_seconds=0.5)
async def test_a_resends_early_callback_is_credited_to_the_resend_never_the_old_payment(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    await daraja.set_fault(Fault.SLOW)  # the first push's answer never reaches us
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "⏳ Not known yet", message_id=started["message_id"])
    first_checkout = daraja.pushes[0].checkout_id
    assert first_checkout is not None
    await daraja.release(first_checkout, Outcome.CANCELLED)  # Jane dismissed that prompt
    await daraja.wait_for_callback(first_checkout)
    await settled(app)
    await daraja.set_fault(Fault.NONE)
    # The resend's success callback arrives before Daraja's answer to the push.
    daraja.next_outcome(None, Outcome.BEFORE_RESPONSE)
    query_id = await tg.press(boss, started["message_id"], "Resend")
    assert (await tg.wait_for_callback_answer(query_id))["text"] == "Sent again as payment #2"
    resent = await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500", after=started["message_id"]
    )
    assert "Payment #2" in resent["text"]
    first, second = await Payment.all().order_by("id")
    assert first.status is PaymentStatus.UNKNOWN and first.checkout_request_id is None
    assert second.status is PaymentStatus.COMPLETED
    assert second.checkout_request_id == daraja.pushes[1].checkout_id
    credit = await LedgerEntry.get(kind=LedgerKind.PAYMENT)
    assert credit.payment_id == second.id  # type: ignore[attr-defined]
    assert credit.person_id == jane_person.id  # type: ignore[attr-defined]


async def settled_by_query(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    boss: SandboxUser,
    request: str,
) -> tuple[dict[str, Any], Payment]:
    """`request` is paid, but its callback does not come: the STK query settles it, without
    a receipt. Returns the manager's live message and the payment."""
    daraja.next_outcome(None, Outcome.NO_CALLBACK)
    started = await ask(tg, boss, request, "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "Waiting for Jane", message_id=started["message_id"])
    payment = await only_payment()
    assert payment.checkout_request_id is not None
    await daraja.wait_for_result(payment.checkout_request_id)
    clock.advance(timedelta(minutes=3))
    assert await app.services.payments.reconciliation.reconcile_due() == 1  # type: ignore[union-attr]
    await tg.wait_for_bot_message(
        boss.id, "receipt not yet known", message_id=started["message_id"]
    )
    return started, payment


async def test_a_callback_after_the_query_settled_fills_in_the_receipt(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    await ask(tg, boss, "/charge Jane | 1500 | Advance", "They now owe")
    started, payment = await settled_by_query(
        app, tg, daraja, clock, boss, "/request Jane | 1500 | Deposit"
    )
    async with httpx.AsyncClient() as http:
        answer = await http.post(callback_url(app), json=success_body(payment, "QJK7LATE01"))
    assert answer.status_code == 200
    await settled(app)
    await tg.wait_for_bot_message(
        boss.id,
        "✅ Jane Wanjiku paid KES 1,500 · receipt QJK7LATE01",
        message_id=started["message_id"],
    )
    assert (await DarajaCallback.get()).status is CallbackStatus.APPLIED
    assert (await only_payment()).receipt == "QJK7LATE01"
    assert (await Person.get(id=jane_person.id)).balance == 0


async def test_a_late_callback_that_disagrees_with_the_query_is_flagged_and_uncredited(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, jane_person, _ = crew
    await ask(tg, boss, "/charge Jane | 1500 | Advance", "They now owe")
    started, payment = await settled_by_query(
        app, tg, daraja, clock, boss, "/request Jane | 1500 | Deposit"
    )
    assert (await Person.get(id=jane_person.id)).balance == 0
    body = success_body(payment, "QJK7LATE02", amount=1000.0)
    async with httpx.AsyncClient() as http:
        assert (await http.post(callback_url(app), json=body)).status_code == 200
    await settled(app)
    await tg.wait_for_bot_message(
        boss.id,
        "it was not credited: M-Pesa reports KES 1,000 paid, but KES 1,500 was asked",
        message_id=started["message_id"],
    )
    await tg.wait_for_bot_message(boss.id, "needs a manager")
    assert (await DarajaCallback.get()).status is CallbackStatus.FLAGGED
    flagged = await only_payment()
    assert flagged.receipt == "QJK7LATE02" and flagged.paid_amount == 1000
    assert (await Person.get(id=jane_person.id)).balance == 1500  # the credit is withdrawn
    await ask(tg, boss, "/payments flagged", "flagged: M-Pesa reports KES 1,000")
    assert [str(m) for m in await app.services.ledger.audit()] == [  # type: ignore[union-attr]
        "payment #1: flagged and not resolved (M-Pesa reports KES 1,000 paid, but KES 1,500 "
        "was asked): /resolve 1 | what was done"
    ]
    await ask(tg, boss, "/resolve 1 | Jane will pay the rest in cash", "✅ Payment #1 resolved")


async def test_a_late_mismatch_after_a_resolve_undoes_the_request_s_charge_and_flags_again(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    clock: ManualClock,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    """Jane owed nothing and was asked for a KES 500 tip. The query settled it (credit, and
    a charge for the tip so she shows no credit); a manager resolved the missing receipt.
    Then the callback says KES 300: the payment is flagged again, the credit and the tip's
    charge are both undone, as if the callback had come first."""
    _, boss, jane_person, _ = crew
    started, payment = await settled_by_query(
        app, tg, daraja, clock, boss, "/request Jane | 500 | Tip"
    )
    assert (await Person.get(id=jane_person.id)).balance == 0
    await ask(tg, boss, "/resolve 1 | Receipt on the statement", "✅ Payment #1 resolved")

    body = success_body(payment, "QJK7LATE03", amount=300.0)
    async with httpx.AsyncClient() as http:
        assert (await http.post(callback_url(app), json=body)).status_code == 200
    await settled(app)
    await tg.wait_for_bot_message(
        boss.id,
        "it was not credited: M-Pesa reports KES 300 paid, but KES 500 was asked",
        message_id=started["message_id"],
    )
    assert (await Person.get(id=jane_person.id)).balance == 0  # neither credit nor tip stays
    assert [str(m) for m in await app.services.ledger.audit()] == [  # type: ignore[union-attr]
        "payment #1: flagged and not resolved (M-Pesa reports KES 300 paid, but KES 500 "
        "was asked): /resolve 1 | what was done"
    ]
    await ask(tg, boss, "/resolve 1 | Jane paid KES 300 of the tip", "✅ Payment #1 resolved")
