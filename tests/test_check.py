"""`callsheet check`: one line per outside service, ok or why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.check import run_checks
from sandbox.daraja import SANDBOX_PASSKEY, DarajaSandbox
from sandbox.telegram import TelegramSandbox
from tests.conftest import Mailbox, app_settings, free_port

MIGRATIONS = Path(__file__).resolve().parent.parent / "models" / "migrations"


def daraja_settings(daraja: DarajaSandbox, secret: str = "secret") -> dict[str, str]:
    return {
        "daraja_base_url": daraja.base_url,
        "daraja_consumer_key": "key",
        "daraja_consumer_secret": secret,
        "daraja_shortcode": "174379",
        "daraja_passkey": SANDBOX_PASSKEY,
        "daraja_callback_secret": "a1b2c3d4e5f6",
        "public_base_url": "https://callsheet.example.co.ke",
    }


async def test_every_service_ok(
    tg: TelegramSandbox,
    database_url: str,
    smtp_server: tuple[Mailbox, int],
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with DarajaSandbox("key", "secret") as daraja:
        settings = app_settings(
            tg,
            database_url,
            smtp_server[1],
            **daraja_settings(daraja),
        )
        assert await run_checks(settings) == 0
    assert capsys.readouterr().out.splitlines() == [
        "configuration: ok",
        "database: ok",
        "telegram: ok (@callsheet_test_bot)",
        "daraja: ok (OAuth token issued)",
        f"email: ok (logged in to 127.0.0.1:{smtp_server[1]})",
    ]


async def test_each_failure_is_one_line_with_the_reason(
    tg: TelegramSandbox, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    async with DarajaSandbox("key", "secret") as daraja:
        settings = app_settings(
            tg,
            database_url,
            free_port(),  # nothing listens there
            telegram_bot_token="999:wrongTOKENwrongTOKENwrongTOKEN",
            **daraja_settings(daraja, secret="not-the-secret"),
        )
        assert await run_checks(settings) == 1
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["database"] == "ok"
    assert lines["telegram"] == "failed: Telegram refused the token (check TELEGRAM_BOT_TOKEN)"
    assert lines["daraja"].startswith("failed: OAuth answered HTTP 400")
    assert lines["email"].startswith("failed:")


async def test_unmigrated_database_is_reported(
    tg: TelegramSandbox, tmp_path: object, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = app_settings(tg, f"sqlite://{tmp_path}/new.sqlite3", free_port())
    await run_checks(settings)
    out = capsys.readouterr().out
    migrations = len(list(MIGRATIONS.glob("0*.py")))  # every one of them is still to apply
    assert f"database: failed: {migrations} migration(s) to apply; run `callsheet migrate`" in out
    assert "daraja: skipped: DARAJA_CONSUMER_KEY" in out
