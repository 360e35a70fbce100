"""What reaches the log: never a link token, a message body or a credential, even at debug."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from pathlib import Path

import pytest

from bot import db
from sandbox.telegram import TelegramSandbox
from services.email import ConsoleSender
from tests.conftest import BOT_TOKEN, OWN_SQLITE
from tests.test_process import _env


async def test_the_console_backend_logs_who_and_what_but_never_the_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    body = "Open this link on your phone and press Start:\nhttps://t.me/bot?start=Secr3tT0ken"
    await ConsoleSender("crew@sauti.example").send(
        "jane@example.com", "Sauti Sound: connect your Telegram", body, "<p>Secr3tT0ken</p>"
    )
    assert "email to jane@example.com: 'Sauti Sound: connect your Telegram'" in caplog.text
    assert "Secr3tT0ken" not in caplog.text and "press Start" not in caplog.text


@OWN_SQLITE
async def test_a_verbose_run_logs_no_link_token_and_no_message_text(
    tg: TelegramSandbox, tmp_path: Path
) -> None:
    url = f"sqlite://{tmp_path}/run.sqlite3"
    await db.migrate(url)
    env = _env(
        TELEGRAM_BOT_TOKEN=BOT_TOKEN,
        TELEGRAM_API_BASE_URL=tg.base_url,
        DATABASE_URL=url,
        # 0: the system picks a free port as it binds. A port chosen beforehand could be taken
        # meanwhile by the suites running beside this one, and the bot would stop.
        HTTP_PORT="0",
        EMAIL_BACKEND="console",
    )
    added = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "add-manager",
        "--name",
        "Achieng Otieno",
        "--phone",
        "0711000001",
        "--email",
        "achieng@example.com",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(added.communicate(), timeout=60)
    assert added.returncode == 0, err.decode()
    token = out.decode().split("?start=")[1].split()[0]  # printed for the operator, on stdout
    assert token not in err.decode()

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "--verbose",
        "run",
        cwd=tmp_path,
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        await tg.wait_for(lambda: tg.waiting_polls > 0, timeout=30, description="the bot polling")
        achieng = tg.user(9001, "Achieng")
        await tg.send_text(achieng, f"/start {token}")
        await tg.wait_for_bot_message(achieng.id, "Your Telegram is now linked", timeout=10)
        await tg.send_text(achieng, "/crew Confidential Wanjiku")
        await tg.wait_for_bot_message(achieng.id, "Confidential Wanjiku", timeout=10)
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    log = stderr.decode()
    assert process.returncode == 0, log
    assert "email to achieng@example.com: 'Callsheet: connect your Telegram" in log
    assert token not in log
    assert "Confidential Wanjiku" not in log
    assert "linked, Achieng Otieno" not in log  # the bot's replies are message text too
