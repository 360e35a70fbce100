"""/stats end to end: the month's numbers as the manager reads them, the chart as a photo
that opens, drawn while the bot goes on answering others, and what is refused."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.app import Callsheet
from models import LedgerEntry, LedgerKind, Person
from models.stamps import stamp
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from services.insight import StatsReport, draw_chart
from tests.conftest import START, People
from tests.event_setup import fast_sandbox, said
from tests.insight_helpers import seed_november

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    async with fast_sandbox() as sandbox:
        yield sandbox


async def chart_after(tg: TelegramSandbox, user: SandboxUser, message_id: int) -> Any:
    """The photo the bot sends after `message_id`, and its bytes as stored by Telegram."""
    photo = await tg.wait_for(
        lambda: next(
            (m for m in tg.bot_messages(user.id) if "photo" in m and m["message_id"] > message_id),
            None,
        ),
        timeout=30,
        description="the stats chart",
    )
    content = tg.files[photo["photo"][-1]["file_id"]].content
    assert content is not None
    return photo, content


async def test_stats_give_the_month_in_numbers_and_a_chart_that_opens(
    app: Callsheet, tg: TelegramSandbox, people: People, clock: ManualClock
) -> None:
    month = await seed_november(app, tg, people, clock)
    boss = month.boss_user

    summary = await said(tg, boss, "/stats 2026-11", "November 2026")
    assert summary["text"].splitlines() == [
        "📊 November 2026",
        "Events: 2 (1 cancelled)",
        "Crew confirm rate: 40% (2 of 5 asked confirmed)",
        "Late drop-outs: 1 (confirmed, then declined within 48 h of call time)",
        "• Otieno Kamau · rigger · EV1 Harusi ya Wanjiru · 20 h before call",
        "Money in: KES 3,500",
        "Money out: KES 9,000 (wages sent)",
    ]
    photo, content = await chart_after(tg, boss, summary["message_id"])
    assert photo["caption"] == (
        "Money in and out, and the crew confirm rate: June 2026 to November 2026."
    )
    assert content.startswith(PNG)
    with Image.open(io.BytesIO(content)) as image:
        image.load()
        assert image.format == "PNG" and image.size == (1200, 780)
    assert (photo["photo"][-1]["width"], photo["photo"][-1]["height"]) == (1200, 780)

    # No month: this month in Nairobi. December: one event, Jane confirmed, no money yet.
    await said(tg, boss, "/stats", "📊 November 2026")
    december = await said(tg, boss, "/stats 2026-12", "December 2026")
    assert "Events: 1\n" in december["text"]
    assert "Crew confirm rate: 100% (1 of 1 asked confirmed)" in december["text"]
    assert "Late drop-outs: 0" in december["text"] and "Money in: KES 0" in december["text"]
    quiet = await said(tg, boss, "/stats 2025-01", "January 2025")
    assert "Crew confirm rate: nobody was asked" in quiet["text"]
    await chart_after(tg, boss, quiet["message_id"])  # an empty half-year still draws


async def test_stats_refuse_crew_and_a_bad_month(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    _, jane = await people.add("Jane Wanjiku", "0712 345 678")
    await said(tg, jane, "/stats", "Only managers can see the stats.")
    for typed, told in (
        ("nov", "“nov” is not a month. Give the year and month, like 2026-11."),
        ("2026-13", "“2026-13” is not a month. Give the year and month, like 2026-11."),
        ("11-2026", "Give the year and month, like 2026-11."),
        ("9999-12", "“9999-12” is not a month. Give the year and month, like 2026-11."),
    ):
        await said(tg, boss, f"/stats {typed}", told)
    assert not any("photo" in m for m in tg.bot_messages(boss.id))


async def test_the_bot_answers_others_while_a_chart_is_drawn(
    app: Callsheet, tg: TelegramSandbox, people: People
) -> None:
    """The chart waits, in its worker thread, until Jane has had her answer: were it drawn
    on the event loop, Jane would never be answered and the test would time out."""
    assert app.services is not None
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    _, jane = await people.add("Jane Wanjiku", "0712 345 678")
    drawing, jane_answered = threading.Event(), threading.Event()

    def held(report: StatsReport, company: str) -> bytes:
        drawing.set()
        assert jane_answered.wait(30), "Jane was not answered while the chart was drawn"
        return draw_chart(report, company)

    app.services.stats.draw = held
    summary = await said(tg, boss, "/stats 2026-11", "November 2026")
    assert await asyncio.to_thread(drawing.wait, 30)
    await said(tg, jane, "/help", "Here is what you can do")
    jane_answered.set()
    _, content = await chart_after(tg, boss, summary["message_id"])
    assert content.startswith(PNG)


async def test_callsheet_stats_prints_the_month_and_writes_the_chart(
    database: str, tmp_path: Path
) -> None:
    jane = await Person.create(**stamp(Person, START), name="Jane Wanjiku", phone="+254712345678")
    for when, kind, amount in ((START, LedgerKind.PAYMENT, -700), (START, LedgerKind.PAYOUT, 250)):
        await LedgerEntry.create(
            **stamp(LedgerEntry, when), person=jane, kind=kind, amount=amount, description="x"
        )

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "DATABASE_URL": database, "TIMEZONE": "Africa/Nairobi"}
        return subprocess.run(
            [sys.executable, "-m", "bot.cli", "stats", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parent.parent,
            check=False,
        )

    chart = tmp_path / "stats.png"
    done = await asyncio.to_thread(cli, "--month", "2026-11", "--png", str(chart))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "📊 November 2026",
        "Events: 0",
        "Crew confirm rate: nobody was asked",
        "Late drop-outs: 0 (confirmed, then declined within 48 h of call time)",
        "Money in: KES 700",
        "Money out: KES 250 (wages sent)",
        f"wrote {chart}",
    ]
    with Image.open(chart) as image:
        image.load()
        assert image.format == "PNG" and image.size == (1200, 780)

    bad = await asyncio.to_thread(cli, "--month", "November")
    assert bad.returncode == 2
    assert "“November” is not a month. Give the year and month, like 2026-11." in bad.stderr
    missing = await asyncio.to_thread(cli, "--png", str(tmp_path / "no" / "stats.png"))
    assert missing.returncode == 2 and "no such folder" in missing.stderr
