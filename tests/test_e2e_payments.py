# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""M-Pesa payments end to end: the Telegram sandbox, the Daraja sandbox, our callback server."""

from __future__ import annotations

import json

from bot.app import Callsheet
from models import (
    CallbackStatus,
    DarajaCallback,
    DarajaExchange,
    LedgerEntry,
    PaymentStatus,
    Person,
    ServiceToken,
)
from sandbox.daraja import SANDBOX_PASSKEY, DarajaSandbox
from sandbox.telegram import SandboxUser, TelegramSandbox
from tests.conftest import (
    Mailbox,
    text_part,
)
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    CALLBACK_SECRET,
    JANE_PHONE,
    app,
    ask,
    callback_url,
    crew,
    daraja,
    only_payment,
    tg,
)


async def test_paid_request_updates_both_chats_emails_receipts_and_clears_the_balance(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    mail: Mailbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, jane = crew
    await ask(tg, boss, "/charge Jane | 1,500 | Lost XLR cable", "They now owe KES 1,500")

    started = await ask(tg, boss, "/request Jane | KES 1,500 | Cable damage", "Jane Wanjiku")
    paid = await tg.wait_for_bot_message(
        boss.id, "✅ Jane Wanjiku paid KES 1,500 · receipt QJK", message_id=started["message_id"]
    )
    # Nothing left to press but Refund.
    assert [b["text"] for row in paid["reply_markup"]["inline_keyboard"] for b in row] == ["Refund"]
    payer = await tg.wait_for_bot_message(jane.id, "✅ Paid KES 1,500 · receipt QJK")
    payment = await only_payment()
    assert payment.status is PaymentStatus.COMPLETED and payment.receipt is not None
    assert payment.receipt in paid["text"] and payment.receipt in payer["text"]
    # One live message each, edited in place: no second status message.
    assert sum("Payment #1" in (m.get("text") or "") for m in tg.bot_messages(boss.id)) == 1

    push = daraja.pushes[0].body
    assert push["PhoneNumber"] == "254712345678" and push["Amount"] == 1500
    assert push["AccountReference"] == "Cable damage" and push["TransactionDesc"] == "Cable damage"
    assert push["CallBackURL"] == callback_url(app)

    for address in ("jane@example.com", "achieng@example.com"):
        receipt = await mail.wait_for(address, payment.receipt)
        assert "KES 1,500" in text_part(receipt) and "Cable damage" in text_part(receipt)

    assert (await Person.get(phone=JANE_PHONE)).balance == 0
    entry = await LedgerEntry.get(payment=payment)
    assert entry.amount == -1500
    await ask(tg, jane, "/balance", "You owe nothing")
    statement = tg.last_bot_message(jane.id)
    assert statement is not None and payment.receipt in statement["text"]

    # Every exchange with Daraja is kept, secrets redacted.
    exchanges = await DarajaExchange.all().order_by("id")
    assert [e.operation for e in exchanges] == ["oauth", "stk_push"]
    stored = json.dumps([e.request_body for e in exchanges]) + "".join(
        e.response_body or "" for e in exchanges
    )
    assert SANDBOX_PASSKEY not in stored and CALLBACK_SECRET not in stored
    assert exchanges[1].payment_id == payment.id  # type: ignore[attr-defined]
    callback = await DarajaCallback.get(checkout_request_id=payment.checkout_request_id)
    assert callback.status is CallbackStatus.APPLIED and "MpesaReceiptNumber" in callback.body


async def test_an_expired_token_is_refreshed_once_and_shared_through_the_database(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, _ = crew
    first = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=first["message_id"])
    token = await ServiceToken.get(name="daraja")
    daraja.expire_tokens()  # Daraja forgets it before our expiry time says so
    second = await ask(tg, boss, "/request Jane | 900 | Transport", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅", message_id=second["message_id"])
    assert daraja.stats.tokens_issued == 2
    assert [p.error_code for p in daraja.pushes] == [None, "404.001.03", None]
    assert (await ServiceToken.get(name="daraja")).token != token.token
