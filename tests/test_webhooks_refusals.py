"""What /webhooks refuses, with WEBHOOKS_ALLOW_PRIVATE off (the default): private, loopback,
link-local and non-https addresses, unknown events, bad ids, crew; and an address that
became private after it was added (DNS rebinding), refused again when it is delivered."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import Callsheet
from models import AuditLog, WebhookEndpoint
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from services.webhooks import refusal
from tests.conftest import People
from tests.event_setup import fast_sandbox, said
from tests.webhooks_helpers import attempts_recorded

VALID = (
    "assignment.confirmed, assignment.declined, event.created, event.cancelled, "
    "payment.completed, payment.failed, payout.paid, refund.refunded, refund.failed"
)


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("192.168.0.10", "a private address"),
        ("::ffff:172.16.0.1", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("100.64.0.1", "not a public address"),
        ("0.0.0.0", "not a public address"),
        ("224.0.0.1", "not a public address"),
        ("8.8.8.8", None),
        ("2001:4860:4860::8888", None),
    ],
)
def test_which_addresses_are_refused(address: str, why: str | None) -> None:
    assert refusal(address) == why


async def test_bad_webhooks_refused_and_nothing_saved(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    cases = [
        (
            "/webhooks add https://127.0.0.1/hook | *",
            "❌ 127.0.0.1 is a loopback address. Webhooks go only to public https addresses.",
        ),
        # localhost: 127.0.0.1 or ::1, whichever the resolver lists first
        ("/webhooks add https://localhost:8443/hook | *", "❌ localhost ("),
        ("/webhooks add https://10.0.0.7/hook | *", "❌ 10.0.0.7 is a private address."),
        (
            "/webhooks add https://169.254.169.254/latest | *",
            "❌ 169.254.169.254 is a link-local address.",
        ),
        (
            "/webhooks add http://hooks.example.com/x | *",
            "❌ http://hooks.example.com/x is not an https address.",
        ),
        (
            "/webhooks add https://8.8.8.8/x | payment.done, event.created",
            f"❌ Unknown event: payment.done. Events: {VALID}, or * for all.",
        ),
        ("/webhooks add https://8.8.8.8/x |", "❌ Say which events to send after the |"),
        ("/webhooks add https://8.8.8.8/x", "❌ Send the address, a |, then the events:"),
        (
            "/webhooks add https://me:pw@8.8.8.8/x | *",
            "❌ Leave the user name and password out of the address",
        ),
        ("/webhooks remove abc", "❌ Which webhook? Send /webhooks remove and its number"),
        ("/webhooks test 99", "❌ There is no webhook #99. /webhooks lists them."),
        ("/webhooks 12", "❌ There is no webhook #12."),
        ("/webhooks frobnicate", "❌ I did not understand that. Use:"),
    ]
    for command, expected in cases:
        answer = await said(tg, boss, command, "❌")
        assert answer["text"].startswith(expected), (command, answer["text"])
        if "localhost" in command:
            assert ") is a loopback address." in answer["text"]
    assert await WebhookEndpoint.all().count() == 0
    assert await AuditLog.filter(subject_type="webhook").count() == 0


async def test_crew_refused(app: Callsheet, tg: TelegramSandbox, people: People) -> None:
    await people.add("Achieng Otieno", "0700 000 001", manager=True)
    _, jane = await people.add("Jane Wanjiku", "0712345678")
    for command in ("/webhooks", "/webhooks add https://8.8.8.8/x | *", "/webhooks test 1"):
        answer = await said(tg, jane, command, "❌")
        assert answer["text"] == "❌ Only managers can manage webhooks."
    assert await WebhookEndpoint.all().count() == 0


async def test_address_checked_again_when_delivered(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    """A host that resolved to a public address when added and to a loopback one now (DNS
    rebinding) gets nothing: the attempt is refused and logged, and retried later."""
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await WebhookEndpoint.create(
        url="https://127.0.0.1:9/hook", events="*", secret="whsec_x", created_at=clock.now()
    )
    await said(tg, boss, "/webhooks test 1", "on its way")
    assert app.webhooks is not None
    await attempts_recorded(app.webhooks, 1)
    log = await said(tg, boss, "/webhooks log 1", "Last attempts")
    assert (
        "Mon 23 Nov, 10:00 · webhook.test · ❌ 127.0.0.1 is a loopback address. Webhooks go "
        "only to public https addresses. · next try Mon 23 Nov, 10:01"
    ) in log["text"]
