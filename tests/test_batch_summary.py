"""The payment request summary at its worst: the longest title, purpose, names and reasons
the database holds, for a crew far larger than one message can list."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from tortoise.transactions import in_transaction

from models import (
    BatchMemberStatus,
    Event,
    Payment,
    PaymentBatch,
    PaymentBatchMember,
    PaymentStatus,
    Person,
)
from models.stamps import stamp
from services import batch_summary
from services.clock import ManualClock
from services.notifications import Renderer
from tests.conftest import START

TELEGRAM_LIMIT = 4096


async def test_the_longest_summary_fits_one_telegram_message(
    database: str, clock: ManualClock
) -> None:
    now = clock.now()
    boss = await Person.create(
        **stamp(Person, START), name="B" * 100, phone="+254700000001", access="manager"
    )
    event = await Event.create(
        **stamp(Event, START),
        title="Harusi & Gala <" * 8,  # 120 characters, each & and < escaped in HTML
        venue="KICC",
        starts_at=now + timedelta(days=2),
        ends_at=now + timedelta(days=2, hours=5),
        call_at=now + timedelta(days=2),
        manager=boss,
    )
    batch = await PaymentBatch.create(
        event=event,
        requested_by=boss,
        amount=250_000,
        purpose="P&" * 50,
        account_reference="P",
        transaction_desc="P",
        created_at=now,
    )
    crew = [
        Person(**stamp(Person, START), name=f"{n:03d} " + "Ñ&" * 48, phone=f"+25471{n:07d}")
        for n in range(200)
    ]
    await Person.bulk_create(crew)
    people = await Person.filter(phone__startswith="+25471").order_by("phone")
    await PaymentBatchMember.bulk_create(
        [
            PaymentBatchMember(
                **stamp(PaymentBatchMember, START),
                batch=batch,
                person=p,
                phone=p.phone,
                status=BatchMemberStatus.ASKED,
            )
            for p in people
        ]
    )
    await Payment.bulk_create(
        [
            Payment(
                person=p,
                phone=p.phone,
                amount=250_000,
                purpose="P",
                account_reference="P",
                transaction_desc="P",
                status=PaymentStatus.FAILED if i % 2 else PaymentStatus.COMPLETED,
                receipt=None if i % 2 else f"QJK{i:07d}",
                error="<wrong PIN> & " * 35 if i % 2 else None,
                requested_by=boss,
                batch=batch,
                created_at=now,
                updated_at=now,
            )
            for i, p in enumerate(people)
        ]
    )
    async with in_transaction() as conn:
        view = await batch_summary.view(batch.id, conn)
    shown, more = view.shown()
    renderer = Renderer(ZoneInfo("Africa/Nairobi"), "Sauti Sound", "https://t.me/x")
    chat = renderer.render(
        "payment_batch", {"person": boss, "view": view, "shown": shown, "more": more}
    ).chat
    assert len(chat) <= TELEGRAM_LIMIT  # the raw HTML, longer than what Telegram counts
    visible = html.unescape(re.sub(r"<[^>]+>", "", chat))
    assert "100 paid · 100 failed" in visible
    # Failures first; the lines that do not fit are counted, never silently dropped.
    assert all(line.startswith("❌") for line in shown)
    assert more is not None
    assert re.fullmatch(
        r"…and (\d+) more \(100 paid, (\d+) failed\)\. /payments lists everyone\.", more
    )
    hidden = int(re.findall(r"\d+", more)[0])
    assert hidden + len(shown) == 200
    assert batch_summary.buttons(view)[0][0].text == "Resend failed ones (100)"
