# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""Abuse: forged Daraja callbacks, forged button data, crew trying manager commands,
oversized and malformed input. Each is refused with a clear answer and nothing changes."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from bot.app import Callsheet
from handlers.common import CREW_COMMANDS, MANAGER_COMMANDS
from models import (
    CallbackStatus,
    DarajaCallback,
    LedgerEntry,
    OutboxMessage,
    Payment,
    PaymentStatus,
    Person,
)
from sandbox.daraja import DarajaSandbox, Outcome
from sandbox.telegram import SandboxUser, TelegramSandbox
from tests.conftest import People
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    app,
    ask,
    callback_url,
    crew,
    daraja,
    settled,
    tg,
)

Crew = tuple[Person, SandboxUser, Person, SandboxUser]


def success_body(
    payment: Payment, *, amount: int | None = None, receipt: str = "QJK9FORGED", phone: str = ""
) -> dict[str, Any]:
    return {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": payment.merchant_request_id,
                "CheckoutRequestID": payment.checkout_request_id,
                "ResultCode": 0,
                "ResultDesc": "The service request is processed successfully.",
                "CallbackMetadata": {
                    "Item": [
                        {"Name": "Amount", "Value": float(amount or payment.amount)},
                        {"Name": "MpesaReceiptNumber", "Value": receipt},
                        {"Name": "TransactionDate", "Value": 20261123100501},
                        {"Name": "PhoneNumber", "Value": int(phone or payment.phone.lstrip("+"))},
                    ]
                },
            }
        }
    }


async def state() -> tuple[Any, ...]:
    """Everything a forged request could change."""
    people = [
        (p.id, p.name, p.phone, p.email, p.access, p.active, p.balance, p.skills)
        for p in await Person.all().order_by("id")
    ]
    payments = [(p.id, p.status, p.receipt) for p in await Payment.all().order_by("id")]
    return (
        people,
        payments,
        await LedgerEntry.all().count(),
        await OutboxMessage.all().count(),
    )


async def pending(tg: TelegramSandbox, boss: SandboxUser, text: str) -> Payment:
    started = await ask(tg, boss, text, "Payment #")
    number = int(re.search(r"Payment #(\d+)", started["text"] or "")[1])  # type: ignore[index]
    await tg.wait_for_bot_message(boss.id, "Waiting for", message_id=started["message_id"])
    return await Payment.get(id=number)


# --- forged callbacks ----------------------------------------------------------------------


async def test_a_receipt_replayed_for_another_payment_is_flagged_not_credited(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, people: People, crew: Crew
) -> None:
    _, boss, jane, _ = crew
    otieno, _ = await people.add("Otieno Kamau", "0722 111 222")
    daraja.next_outcome(None, Outcome.HOLD)
    first = await pending(tg, boss, "/request Jane | 1500 | Deposit")
    daraja.next_outcome(None, Outcome.HOLD)
    second = await pending(tg, boss, "/request Otieno Kamau | 900 | Transport")
    async with httpx.AsyncClient() as http:
        paid = await http.post(callback_url(app), json=success_body(first, receipt="QJK1REALON"))
        replayed = await http.post(
            callback_url(app), json=success_body(second, receipt="QJK1REALON")
        )
    assert (paid.status_code, replayed.status_code) == (200, 200)
    await settled(app)
    second = await Payment.get(id=second.id)
    assert second.flag_reason is not None and "QJK1REALON" in second.flag_reason
    assert second.flag_reason.count("payment #1") == 1
    assert await LedgerEntry.filter(payment_id=second.id).count() == 0
    assert await LedgerEntry.filter(payment_id=first.id).count() == 1
    assert (await Person.get(id=jane.id)).balance == 0  # credited, and charged with the request
    assert (await Person.get(id=otieno.id)).balance == 0
    await tg.wait_for_bot_message(boss.id, "needs a manager")
    await ask(tg, boss, "/resolve 2 | A replay: nothing was paid", "✅ Payment #2 resolved")


async def test_a_completed_payments_callback_replayed_changes_nothing(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, crew: Crew
) -> None:
    _, boss, _, _ = crew
    daraja.next_outcome(None, Outcome.HOLD)
    payment = await pending(tg, boss, "/request Jane | 1500 | Deposit")
    async with httpx.AsyncClient() as http:
        await http.post(callback_url(app), json=success_body(payment, receipt="QJK2ORIGIN"))
        await settled(app)
        before = await state()
        for body in (
            success_body(payment, receipt="QJK2ORIGIN"),
            success_body(payment, receipt="QJK2OTHERO"),
            success_body(payment, amount=1, receipt="QJK2CHEAPR"),
            {
                "Body": {
                    "stkCallback": {
                        **success_body(payment)["Body"]["stkCallback"],
                        "ResultCode": 1032,
                        "ResultDesc": "Request cancelled",
                    }
                }
            },
        ):
            reply = await http.post(callback_url(app), json=body)
            assert reply.status_code == 200  # stored: Daraja must not resend it
    await settled(app)
    assert await state() == before
    replays = [c.status for c in await DarajaCallback.all().order_by("id")][1:]
    assert replays == [CallbackStatus.DUPLICATE] * 4
    assert (await Payment.get(id=payment.id)).receipt == "QJK2ORIGIN"


async def test_an_altered_amount_is_flagged_and_not_credited(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, crew: Crew
) -> None:
    _, boss, jane, _ = crew
    daraja.next_outcome(None, Outcome.HOLD)
    payment = await pending(tg, boss, "/request Jane | 1500 | Deposit")
    async with httpx.AsyncClient() as http:
        reply = await http.post(callback_url(app), json=success_body(payment, amount=15))
    assert reply.status_code == 200
    await settled(app)
    flagged = await Payment.get(id=payment.id)
    assert flagged.flag_reason and "KES 15 paid, but KES 1,500 was asked" in flagged.flag_reason
    assert (await DarajaCallback.get()).status is CallbackStatus.FLAGGED
    assert await LedgerEntry.all().count() == 0
    assert (await Person.get(id=jane.id)).balance == 0
    await ask(tg, boss, "/resolve 1 | Forged: nothing was paid", "✅ Payment #1 resolved")


@pytest.mark.app_settings(daraja_allowed_ips="196.201.214.200")
async def test_forged_callbacks_wrong_secret_or_address_store_nothing(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, crew: Crew
) -> None:
    _, boss, _, _ = crew
    daraja.next_outcome(None, Outcome.HOLD)
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    # The manager's status says "Waiting for" once Daraja's answer is saved (PENDING): on a
    # busy machine the push reaching the stand-in is not yet that.
    await tg.wait_for_bot_message(boss.id, "Waiting for", message_id=started["message_id"])
    payment = await Payment.get()
    body = success_body(payment)
    async with httpx.AsyncClient() as http:
        wrong = await http.post(callback_url(app, "f" * 32), json=body)
        short = await http.post(callback_url(app, "x"), json=body)
        outside = await http.post(callback_url(app), json=body)
    assert (wrong.status_code, short.status_code, outside.status_code) == (404, 404, 403)
    assert await DarajaCallback.all().count() == 0
    assert (await Payment.get()).status is PaymentStatus.PENDING


# --- forged button data --------------------------------------------------------------------


FORGED = [
    # person cards: other people's ids, promotion, deactivation, links, garbage
    "per:card:1",
    "per:back:1",
    "per:edit:1",
    "per:access:2:manager",
    "per:access:1:crew",
    "per:access:2:owner",
    "per:deact:1",
    "per:deactok:1",
    "per:react:1",
    "per:link:1",
    "per:page:0",
    "per:field:1:name",
    "per:save:0",
    "per:skip:0",
    "per:cancel:0",
    "per:card:abc",
    "per:card:99999999999999999999",
    "per:nosuch:1",
    "per:",
    # outbox
    "out:resend:1",
    "out:list:failed",
    "out:list:unreachable",
    "out:hist:1",
    "out:resend:-1",
    "out:resend:99999999999999999999",
    "out:",
    # payments: someone else's payment, resend, drafts that are not theirs
    "pay:check:1",
    "pay:resend:1",
    "pay:again:abcdef",
    "pay:drop:abcdef",
    "pay:cancel:0",
    "pay:check:99999999999999999999",
    "pay:check:x",
    "pay:resend:1:extra",
    "pay:",
    # an event's payment request: start it, pick, send, resend the failed ones
    "pay:event:1",
    "pay:event:99999999999999999999",
    "pay:tog:1",
    "pay:done:0",
    "pay:bsend:0",
    "pay:bstop:0",
    "pay:bresend:1",
    "pay:bresend:x",
    # areas that do not exist (yet)
    "evt:rsvp:1",
    "zzz",
]


async def test_forged_button_data_from_crew_changes_nothing_and_is_answered(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, people: People, crew: Crew
) -> None:
    _, boss, _, jane = crew
    _, otieno = await people.add("Otieno Kamau", "0722 111 222")
    daraja.next_outcome(None, Outcome.CANCELLED)
    started = await ask(tg, boss, "/request Otieno Kamau | 700 | Clamp", "Otieno Kamau")
    await tg.wait_for_bot_message(boss.id, "❌", message_id=started["message_id"])
    pushes = len(daraja.pushes)
    before = await state()
    welcome = tg.last_bot_message(jane.id)
    assert welcome is not None
    for data in FORGED:
        query_id = await tg.press_forged(jane, welcome["message_id"], data)
        answer = await tg.wait_for_callback_answer(query_id)
        assert answer.get("text"), f"{data}: answered without a word"
        assert "error" not in answer["text"].lower(), f"{data}: {answer['text']}"
    assert await state() == before
    assert len(daraja.pushes) == pushes
    # Crew saw no new message: forged presses are answered in the button's toast only.
    assert tg.last_bot_message(jane.id) == welcome
    assert tg.last_bot_message(otieno.id) is not None


async def test_forged_ids_from_a_manager_are_answered_not_crashed(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, crew: Crew
) -> None:
    _, boss, _, _ = crew
    before = await state()
    last = tg.last_bot_message(boss.id)
    assert last is not None
    for data in (
        "pay:check:4242",
        "pay:resend:4242",
        "pay:check:99999999999999999999",
        "pay:event:4242",
        "pay:event:99999999999999999999",
        "pay:bresend:4242",
        "pay:bresend:99999999999999999999",
        "per:card:4242",
        "per:access:4242:manager",
        "per:card:99999999999999999999",
        "out:resend:4242",
        "out:resend:99999999999999999999",
        "out:hist:99999999999999999999",
    ):
        query_id = await tg.press_forged(boss, last["message_id"], data)
        answer = await tg.wait_for_callback_answer(query_id)
        assert answer.get("text") and "error" not in answer["text"].lower(), (data, answer)
    assert await state() == before


# --- crew using manager commands -----------------------------------------------------------


async def test_crew_are_refused_every_manager_command(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, crew: Crew
) -> None:
    _, _, _, jane = crew
    crew_names = {c.name for c in CREW_COMMANDS}
    manager_only = [c.name for c in MANAGER_COMMANDS if c.name not in crew_names]
    assert {"addcrew", "request", "charge", "balances", "payments"} <= set(manager_only)
    before = await state()
    for name in manager_only:
        for text in (f"/{name}", f"/{name} Jane Wanjiku | 0712 999 888 | 100 | x"):
            reply = await ask(tg, jane, text, "manager")
            assert re.search(r"(?i)only managers|for managers", reply["text"]), (text, reply)
    assert await state() == before
    assert daraja.pushes == []


# --- oversized and malformed input ---------------------------------------------------------

BIG = "x" * 4096
# Refused at every step: too long for any field, no letters or digits, not a number.
MALFORMED = [BIG, "|" * 300, "🎉" * 1000]


@pytest.mark.parametrize(
    "text",
    [
        f"/addcrew {BIG[:4000]}",
        f"/addcrew {'Jane ' * 800} | 0712345678",
        f"/addcrew Jane | {'7' * 4000}",
        f"/addcrew Jane | 0712 345 679 | {'a' * 3900}@x.com",
        "/addcrew " + "|" * 4000,
        f"/request Jane | {'9' * 4000} | x",
        f"/request {'J' * 4000} | 100 | x",
        f"/request Jane | 100 | {'y' * 4000}",
        f"/charge Jane | 100 | {'y' * 4000}",
        f"/charge Jane | {'1' * 4000} | y",
        f"/charge {BIG[:4000]}",
        f"/crew {BIG[:4000]}",
        f"/person {BIG[:4000]}",
        f"/payments {BIG[:4000]}",
        f"/emails {BIG[:4000]}",
        f"/history {BIG[:4000]}",
        "/person 99999999999999999999",
        "/person #99999999999999999999",
        "/payments #99999999999999999999",
        "/history #99999999999999999999",
        "/request #99999999999999999999 | 100 | x",
        "/charge #99999999999999999999 | 100 | x",
    ],
)
async def test_oversized_and_malformed_commands_are_refused_clearly(
    app: Callsheet, tg: TelegramSandbox, daraja: DarajaSandbox, crew: Crew, text: str
) -> None:
    _, boss, _, _ = crew
    before = await state()
    last = tg.last_bot_message(boss.id)
    await tg.send_text(boss, text[:4096])
    reply = await tg.wait_for_bot_message(boss.id, "", after=last["message_id"] if last else None)
    assert "went wrong on our side" not in reply["text"], reply["text"]
    assert len(reply["text"]) <= 4096
    assert await state() == before
    assert daraja.pushes == []


CONVERSATIONS = [
    ("/addcrew", ["full name"]),
    ("/addcrew", ["full name", "Jane Mwangi", "mobile number"]),
    ("/addcrew", ["full name", "Jane Mwangi", "mobile number", "0712 345 600", "email address"]),
    (
        "/addcrew",
        ["full name", "Jane Mwangi", "mobile number", "0712 345 600", "email", "skip", "roles"],
    ),
    ("/request", ["Who should pay?"]),
    ("/request", ["Who should pay?", "Jane", "How much"]),
    ("/request", ["Who should pay?", "Jane", "How much", "100", "What is it for?"]),
    ("/charge", ["Who owes it?"]),
    ("/charge", ["Who owes it?", "Jane", "How much"]),
    ("/charge", ["Who owes it?", "Jane", "How much", "100", "What is it for?"]),
    ("/history", ["Whose history?"]),
]


@pytest.mark.parametrize(("command", "steps"), CONVERSATIONS)
async def test_every_conversation_step_refuses_oversized_and_malformed_answers(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: Crew,
    command: str,
    steps: list[str],
) -> None:
    _, boss, _, _ = crew
    before = await state()
    await ask(tg, boss, command, steps[0])
    # steps: [prompt, answer, prompt, answer, ..., final prompt]
    for answer, prompt in zip(steps[1::2], steps[2::2], strict=True):
        if answer == "skip":
            last = tg.last_bot_message(boss.id)
            assert last is not None
            await tg.press(boss, last["message_id"], "Skip")
            await tg.wait_for_bot_message(boss.id, prompt, after=last["message_id"])
        else:
            await ask(tg, boss, answer, prompt)
    for bad in MALFORMED:
        reply = await ask(tg, boss, bad, "")
        assert "went wrong on our side" not in reply["text"], reply["text"]
        assert len(reply["text"]) < 4096
    await ask(tg, boss, "/cancel", "Cancelled")
    assert await state() == before
    assert daraja.pushes == []
