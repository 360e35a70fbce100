# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""/daraja <payment id>: a manager reads what Callsheet and Daraja said about one payment,
with every secret hidden."""

from __future__ import annotations

from bot.app import Callsheet
from models import Person
from sandbox.daraja import SANDBOX_PASSKEY, DarajaSandbox
from sandbox.telegram import SandboxUser, TelegramSandbox
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    CALLBACK_SECRET,
    app,
    ask,
    crew,
    daraja,
    settled,
    tg,
)


async def test_a_payments_exchanges_are_shown_redacted(
    app: Callsheet,
    tg: TelegramSandbox,
    daraja: DarajaSandbox,
    crew: tuple[Person, SandboxUser, Person, SandboxUser],
) -> None:
    _, boss, _, jane = crew
    started = await ask(tg, boss, "/request Jane | 1500 | Deposit", "Jane Wanjiku")
    await tg.wait_for_bot_message(boss.id, "✅ Jane Wanjiku paid", message_id=started["message_id"])
    await settled(app)
    shown = await ask(tg, boss, "/daraja 1", "Daraja · payment #1")
    text = shown["text"]
    assert "KES 1,500 · completed" in text
    assert "stk_push → HTTP 200 in" in text
    assert "callback from 127.0.0.1 (applied)" in text
    assert '"Password": "[redacted]"' in text and '"CallBackURL"' in text
    assert SANDBOX_PASSKEY not in text and CALLBACK_SECRET not in text
    assert len(text) <= 4096
    await ask(tg, boss, "/daraja 99", "There is no payment #99")
    await ask(tg, boss, "/daraja", "Send the payment number, like /daraja 12")
    await ask(tg, jane, "/daraja 1", "Only managers can see Daraja exchanges")
