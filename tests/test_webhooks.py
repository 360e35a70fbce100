"""Outbound webhooks end to end: a real receiver that fails, then succeeds; signatures checked
with the README's recipe; the delivery log; an endpoint failing for 3 days turned off with
every manager told; /webhooks test bringing it back. WEBHOOKS_ALLOW_PRIVATE is on here, so
the receiver can listen on 127.0.0.1 over http (tests/test_webhooks_refusals.py has it off)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import Callsheet
from models import DeliveryStatus, EndpointStatus, WebhookDelivery, WebhookEndpoint, WebhookEvent
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from services.webhooks import WebhookSender
from tests.conftest import START, Mailbox, People, app_settings, assert_stamped_by, text_part
from tests.event_setup import NEW_EVENT, fast_sandbox, said
from tests.payments_helpers import run_audit
from tests.webhooks_helpers import (
    SECRET,
    Receiver,
    SignatureError,
    attempts_recorded,
    receiving,
    verify,
)


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


@pytest.fixture
async def app(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    clock: ManualClock,
) -> AsyncIterator[Callsheet]:
    settings = app_settings(tg, database_url, smtp_server[1], webhooks_allow_private=True)
    running = Callsheet(settings, clock=clock)
    await running.start()
    yield running
    try:
        await assert_stamped_by(clock)
    finally:
        await running.stop()


@pytest.fixture
async def flaky(clock: ManualClock) -> AsyncIterator[Receiver]:
    async for receiver in receiving(clock, failures=2):
        yield receiver


@pytest.fixture
async def down(clock: ManualClock) -> AsyncIterator[Receiver]:
    async for receiver in receiving(clock, failures=None):
        yield receiver


def sender_of(app: Callsheet) -> WebhookSender:
    assert app.webhooks is not None
    return app.webhooks


async def test_retried_until_delivered_once_and_signed(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock, flaky: Receiver
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    added = await said(
        tg, boss, f"/webhooks add {flaky.url} | event.created, payment.completed", "added"
    )
    assert "Webhook #1 added" in added["text"]
    assert "Events: event.created, payment.completed" in added["text"]
    found = SECRET.search(added["text"])
    assert found is not None
    secret = found.group(0)

    await said(tg, boss, NEW_EVENT, "Event #1 created")
    sender = sender_of(app)
    await flaky.wait_posts(1)
    await attempts_recorded(sender, 1)
    clock.advance(timedelta(minutes=1))  # the first retry is a minute later
    sender.wake()
    await flaky.wait_posts(2)
    await attempts_recorded(sender, 2)
    clock.advance(timedelta(minutes=5))  # the second, five minutes after that
    sender.wake()
    await flaky.wait_posts(3)
    await attempts_recorded(sender, 3)

    assert len(flaky.accepted) == 1  # the event arrived once
    bodies = [verify(secret, p.headers["Callsheet-Signature"], p.body, p.at) for p in flaky.posts]
    assert len({b["id"] for b in bodies}) == 1  # one event id on every retry: dedupe on it
    event = bodies[-1]
    assert event["id"].startswith("evt_") and event["type"] == "event.created"
    assert event["created"] == int(START.timestamp())
    assert event["data"]["event"]["title"] == "Harusi ya Wanjiru"
    assert event["data"]["event"]["starts_at"] == "2026-12-05T15:00:00+00:00"
    assert flaky.posts[-1].headers["Content-Type"] == "application/json"

    post = flaky.accepted[0]
    now = int(clock.now().timestamp())
    with pytest.raises(SignatureError, match="does not match"):
        verify(
            secret,
            post.headers["Callsheet-Signature"],
            post.body.replace(b"Harusi", b"Xarusi"),
            now,
        )
    with pytest.raises(SignatureError, match="does not match"):
        verify("whsec_" + "0" * 48, post.headers["Callsheet-Signature"], post.body, now)
    with pytest.raises(SignatureError, match="tolerance"):  # replayed 6 minutes later
        verify(secret, post.headers["Callsheet-Signature"], post.body, post.at + 360)

    log = await said(tg, boss, "/webhooks log 1", "Last attempts")
    lines = log["text"].splitlines()
    assert "Mon 23 Nov, 10:06 · event.created · ✅ HTTP 200" in lines
    assert "Mon 23 Nov, 10:01 · event.created · ❌ HTTP 500 · next try Mon 23 Nov, 10:06" in lines
    assert "Mon 23 Nov, 10:00 · event.created · ❌ HTTP 500 · next try Mon 23 Nov, 10:01" in lines
    assert secret not in log["text"]
    listed = await said(tg, boss, "/webhooks", "Webhooks")
    assert f"#1 ✅ {flaky.url}" in listed["text"] and secret not in listed["text"]
    delivery = await WebhookDelivery.get()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.DELIVERED, 3)
    audit = run_audit(app.settings.database_url)
    assert audit.returncode == 0, audit.stdout + audit.stderr


async def test_failing_for_three_days_turns_off_and_tells_managers(
    app: Callsheet,
    tg: TelegramSandbox,
    people: People,
    clock: ManualClock,
    mail: Mailbox,
    down: Receiver,
) -> None:
    _, boss = await people.add(
        "Achieng Otieno", "0700 000 001", email="achieng@example.com", manager=True
    )
    _, other = await people.add(
        "Baraka Mwangi", "0700 000 002", email="baraka@example.com", manager=True
    )
    await said(tg, boss, f"/webhooks add {down.url} | *", "Webhook #1 added")
    sent = await said(tg, boss, "/webhooks test 1", "on its way")
    assert "A webhook.test event is on its way to webhook #1" in sent["text"]
    sender = sender_of(app)
    await down.wait_posts(1)
    await attempts_recorded(sender, 1)
    assert json.loads(down.posts[0].body)["type"] == "webhook.test"
    failing = await said(tg, boss, "/webhooks", "Webhooks")
    assert "#1 ⚠️ failing since Mon 23 Nov, 10:00" in failing["text"]

    for day in (1, 2, 3):  # a try each day; on the third the 3 days are up
        clock.advance(timedelta(days=1))
        sender.wake()
        await down.wait_posts(1 + day)
        await attempts_recorded(sender, 1 + day)

    for user in (boss, other):
        told = await tg.wait_for_bot_message(user.id, "Webhook #1 was turned off")
        assert "it has failed since Mon 23 Nov, 10:00" in told["text"]
        assert down.url in told["text"] and "Last error: HTTP 500" in told["text"]
    email = await mail.wait_for("baraka@example.com", "Webhook #1 turned off")
    assert "send /webhooks test 1" in text_part(email)
    await mail.wait_for("achieng@example.com", "Webhook #1 turned off")
    endpoint = await WebhookEndpoint.get(id=1)
    assert endpoint.status is EndpointStatus.DISABLED
    assert (await WebhookDelivery.get()).status is DeliveryStatus.FAILED
    log = await said(tg, boss, "/webhooks 1", "Last attempts")
    assert "⛔ Turned off Thu 26 Nov, 10:00 after 3 days of failures." in log["text"]
    assert "Thu 26 Nov, 10:00 · webhook.test · ❌ HTTP 500 · given up" in log["text"]

    # Turned off: a new event is not queued for it.
    await said(tg, boss, NEW_EVENT.replace("2026-12-05", "2026-12-12"), "Event #1 created")
    assert await WebhookEvent.filter(type="event.created").count() == 0

    # Fixed: a test that gets through turns it back on.
    down.failures = 0
    await said(tg, boss, "/webhooks test 1", "on its way")
    await down.wait_posts(5)
    await attempts_recorded(sender, 5)
    assert len(down.accepted) == 1
    listed = await said(tg, boss, "/webhooks", "Webhooks")
    assert f"#1 ✅ {down.url}" in listed["text"]


async def test_removed_webhook_gets_nothing_more(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock, down: Receiver
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    await said(tg, boss, f"/webhooks add {down.url} | event.created", "Webhook #1 added")
    await said(tg, boss, NEW_EVENT, "Event #1 created")
    await down.wait_posts(1)
    await attempts_recorded(sender_of(app), 1)
    gone = await said(tg, boss, "/webhooks remove 1", "removed")
    assert "Webhook #1 removed" in gone["text"]
    assert await WebhookDelivery.all().count() == 0
    empty = await said(tg, boss, "/webhooks", "No webhooks yet")
    assert "Events: assignment.confirmed, assignment.declined, event.created" in empty["text"]
