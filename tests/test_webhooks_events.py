# ruff: noqa: F811  (the payment fixtures are imported from payments_helpers, then used)
"""The events a company wires up, emitted in the transaction of each change: an event
created, a crew member confirming, a payment completed by M-Pesa, and an event cancelled;
each one a signed POST to the receiver that asked for it (`*`), and none to one that did
not."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from bot.app import Callsheet
from models import Person, WebhookEvent
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from tests.event_setup import NEW_EVENT, said
from tests.payments_helpers import (  # noqa: F401  (fixtures)
    app,
    ask,
    crew,
    daraja,
    tg,
)
from tests.webhooks_helpers import SECRET, Receiver, receiving, verify

Crew = tuple[Person, SandboxUser, Person, SandboxUser]


@pytest.fixture
async def receiver(clock: ManualClock) -> AsyncIterator[Receiver]:
    async for listening in receiving(clock):
        yield listening


@pytest.mark.app_settings(webhooks_allow_private=True)
async def test_changes_are_posted_as_they_happen(
    app: Callsheet, tg: TelegramSandbox, crew: Crew, receiver: Receiver
) -> None:
    _, boss, jane_person, jane = crew
    added = await ask(tg, boss, f"/webhooks add {receiver.url} | *", "Webhook #1 added")
    assert "Events: all" in added["text"]
    found = SECRET.search(added["text"])
    assert found is not None
    # Asks for payments only: gets nothing of the rest.
    await ask(tg, boss, f"/webhooks add {receiver.url} | payout.paid", "Webhook #2 added")

    await said(tg, boss, NEW_EVENT, "Event #1 created")
    await said(tg, boss, "/assign 1 | 0712345678 | rigger", "Jane Wanjiku")
    invitation = await tg.wait_for_bot_message(jane.id, "Harusi ya Wanjiru")
    await tg.press(jane, invitation["message_id"], "Confirm")
    await tg.wait_for_bot_message(jane.id, "You confirmed", message_id=invitation["message_id"])
    started = await ask(tg, boss, "/request Jane | 1,500 | Deposit", "Sending an M-Pesa request")
    await tg.wait_for_bot_message(boss.id, "✅ Jane Wanjiku paid", message_id=started["message_id"])

    posts = await receiver.wait_posts(3)
    events = {}
    for post in posts:
        body = verify(found.group(0), post.headers["Callsheet-Signature"], post.body, post.at)
        events[body["type"]] = body["data"]
    assert set(events) == {"event.created", "assignment.confirmed", "payment.completed"}
    confirmed = events["assignment.confirmed"]["assignment"]
    assert confirmed["person"] == {"id": jane_person.id, "name": "Jane Wanjiku"}
    assert (confirmed["status"], confirmed["role"]) == ("confirmed", "rigger")
    paid = events["payment.completed"]["payment"]
    assert (paid["amount"], paid["status"], paid["flagged"]) == (1500, "completed", False)
    assert paid["mpesa_receipt"] and paid["person_id"] == jane_person.id
    assert await WebhookEvent.all().count() == 3
    assert all(json.loads(p.body)["type"] != "payout.paid" for p in posts)
