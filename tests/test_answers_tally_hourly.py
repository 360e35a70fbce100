"""ANSWER_EMAILS=hourly: the manager's inbox gets one digest an hour listing that hour's
answers and reasons, while a drop-out still comes at once; chat shows the live tally."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.app import Callsheet
from models import NotificationKind, OutboxMessage, OutboxStatus
from sandbox.telegram import TelegramSandbox
from services.clock import ManualClock
from tests.conftest import Mailbox, People, app_settings, assert_stamped_by, text_part
from tests.event_setup import fast_sandbox, said
from tests.test_answers_tally import crew_invited

BOSS_MAIL = "achieng@sauti.example"


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
    settings = app_settings(tg, database_url, smtp_server[1], answer_emails="hourly")
    running = Callsheet(settings, clock=clock)
    await running.start()
    yield running
    try:
        await assert_stamped_by(clock)
    finally:
        await running.stop()


def subjects(mail: Mailbox) -> list[str]:
    return [str(m["Subject"]) for m in mail.to(BOSS_MAIL)]


async def test_one_digest_an_hour_and_a_drop_out_at_once(
    app: Callsheet, tg: TelegramSandbox, people: People, mail: Mailbox, clock: ManualClock
) -> None:
    assert app.services is not None
    boss, _, crew = await crew_invited(app, tg, people, 4)
    linked = len(mail.to(BOSS_MAIL))  # her own link
    for user, message_id in crew[:3]:
        await tg.press(user, message_id, "Confirm")
    await tg.press(*crew[3], "Decline")
    await tg.wait_for_bot_message(boss.id, "✅ 3 confirmed · ❌ 1 declined · ⏳ 0 waiting")
    await said(tg, crew[3][0], "Out of town", "Your reason is on its way")

    # Crew Member 02 pulls out: that is loud, in chat and by email, now.
    user, message_id = crew[1]
    await tg.wait_for_bot_message(user.id, "You confirmed", message_id=message_id)
    await tg.press(user, message_id, "Change my answer")
    await tg.wait_for_bot_message(user.id, "Tap Confirm or Decline", message_id=message_id)
    await tg.press(user, message_id, "Decline")
    await tg.wait_for_bot_message(boss.id, "CREW DROPPED OUT")
    await mail.wait_for(BOSS_MAIL, "Crew dropped out")
    await tg.wait_for_bot_message(boss.id, "✅ 2 confirmed · ❌ 2 declined")
    # Nothing else by email yet: the answers wait for the hour's digest, due at its end.
    assert len(subjects(mail)) == linked + 1
    digest = await OutboxMessage.get(kind=NotificationKind.ANSWERS_DIGEST)
    assert digest.status is OutboxStatus.PENDING
    assert digest.next_attempt_at == clock.now().replace(minute=0, second=0) + timedelta(hours=1)

    clock.advance(timedelta(hours=1))
    app.services.outbox.wake()
    email = await mail.wait_for(BOSS_MAIL, "Crew answers, Mon 23 Nov, 10:00 to 11:00")
    assert "2 confirmed, 2 declined" in str(email["Subject"])
    body = text_part(email)
    assert "Tamasha (#1, Sat 5 Dec, 18:00)" in body
    for line in (
        "✅ Crew Member 01 confirmed (stagehand)",
        "❌ Crew Member 02 declined (stagehand)",
        "✅ Crew Member 03 confirmed (stagehand)",
        "❌ Crew Member 04 declined (stagehand): “Out of town”",
    ):
        assert line in body, line
    assert await OutboxMessage.filter(kind=NotificationKind.ANSWERS_DIGEST).count() == 1

    # A reason given in a later hour comes in that hour's digest.
    await said(tg, user, "Family emergency", "Your reason is on its way")
    clock.advance(timedelta(hours=1))
    app.services.outbox.wake()
    later = await mail.wait_for(BOSS_MAIL, "Crew answers, Mon 23 Nov, 11:00 to 12:00")
    assert "Crew Member 02 gave a reason for declining (stagehand): “Family emergency”" in (
        text_part(later)
    )
    assert len(subjects(mail)) == linked + 3
