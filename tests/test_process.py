"""The real `callsheet` process: run until SIGTERM, and the offline demo."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import pytest
from PIL import Image

from bot import db
from sandbox.telegram import TelegramSandbox
from tests.conftest import BOT_TOKEN, OWN_SQLITE

ROOT = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


@OWN_SQLITE
async def test_run_serves_until_sigterm_and_stops_cleanly(
    tg: TelegramSandbox, tmp_path: Path
) -> None:
    url = f"sqlite://{tmp_path}/run.sqlite3"
    await db.migrate(url)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "--verbose",
        "run",
        cwd=tmp_path,
        env=_env(
            TELEGRAM_BOT_TOKEN=BOT_TOKEN,
            TELEGRAM_API_BASE_URL=tg.base_url,
            DATABASE_URL=url,
            HTTP_PORT="0",  # bound as the system picks it: no other process can take it first
            PYTHONWARNINGS="always",
        ),
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        await tg.wait_for(lambda: tg.waiting_polls > 0, timeout=30, description="the bot polling")
        stranger = tg.user(9001, "Stranger")
        await tg.send_text(stranger, "/start")
        await tg.wait_for_bot_message(stranger.id, "Share my phone number", timeout=10)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "callsheet running as @callsheet_test_bot" in log
    assert "stopping" in log
    for trouble in ("Traceback", "Task was destroyed", "Warning", "never awaited", "Unclosed"):
        assert trouble not in log, log
    # Even at debug level, the bot token never reaches the log.
    assert BOT_TOKEN not in log and BOT_TOKEN.split(":")[1] not in log


@OWN_SQLITE
async def test_demo_runs_offline_and_prints_both_linkings(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    chart = tmp_path_factory.mktemp("chart") / "stats.png"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "demo",
        "--png",
        str(chart),
        cwd=tmp_path,
        env=_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    out = stdout.decode()
    assert process.returncode == 0, stderr.decode()
    assert "[Achieng → bot] /start " in out
    assert "✅ Your Telegram is now linked, Achieng Otieno." in out
    assert "[Otieno → bot] shared contact +254722111222" in out
    assert "✅ Thanks, Otieno Kamau. Your Telegram is now linked." in out
    assert "your manager must add you first" in out
    assert "=== /help for a manager" in out and "=== /help for crew" in out
    assert "Subject: Sauti Sound: connect your Telegram" in out
    # Events: invitations answered both ways, a reminder, a briefing read.
    assert "✅ Jane Wanjiku confirmed Harusi ya Wanjiru" in out
    assert "reason for declining Harusi ya Wanjiru: I have another gig that night" in out
    assert "⏳ Reminder: call time in" in out
    assert "• Jane Wanjiku (sound engineer) — briefing read ✅" in out
    # Payments: a paid push with its receipt, a cancelled one, a Resend that succeeds.
    assert "✅ Jane Wanjiku paid KES 1,500 · receipt " in out
    assert "❌ Otieno Kamau did not pay KES 800: cancelled by the payer." in out
    assert "✅ Otieno Kamau paid KES 800 · receipt " in out
    # The event card's Request payment: the confirmed crew asked at once, one summary.
    assert "Payment request · #1 Harusi ya Wanjiru" in out and "1 paid" in out
    assert "You owe KES 500" in out
    # A stage plot attached to the next gig goes with its briefing, in chat and by email.
    assert "📎 Attached stage-plot.pdf" in out and "📎 1 document follows: stage-plot.pdf" in out
    assert "file stage-plot.pdf (" in out and "bytes) — /attach 2" in out
    assert "] 📎 stage-plot.pdf — #2 Sauti Live" in out
    assert "Subject: Briefing: Sauti Live" in out
    assert "    📎 stage-plot.pdf (" in out
    # It ends with /activity and /stats, whose chart it saves where it says: a PNG that opens.
    assert "❌ Otieno Kamau declined → offered to Wanjiru Muthoni (until" in out
    assert "✅ Wanjiru Muthoni took the lights spot" in out
    assert "Needs: lights 1/1" in out
    assert "Jane Wanjiku confirmed sound engineer at EV1 Harusi ya Wanjiru" in out
    assert "Money out: KES 3,000 (wages sent)" in out
    assert f"saved as {chart}" in out
    # Last, the web: a deposit paid in two instalments, then an invoice paid from its link.
    assert "Paid in full: the invoice is marked paid, Achieng told, the client thanked" in out
    assert "Pay it by M-Pesa on this page: http://127.0.0.1:" in out
    # (Numbered in the demo's year, which follows today's date.)
    assert re.search(r"✅ Tamu Weddings paid invoice INV-\d{4}-000001 in full: KES 75,000", out)
    assert re.search(r"invoice INV-\d{4}-000001 is paid, thank you", out)
    with Image.open(chart) as image:
        image.load()
        assert image.format == "PNG" and image.size == (1200, 780)
    left = await asyncio.to_thread(lambda: list(tmp_path.iterdir()))
    assert not left, "the demo leaves nothing behind in the folder it ran in"
