"""Bad configuration stops start-up with one line naming the variable, and no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.db import tortoise_config
from bot.settings import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_"))}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["run"], {}, "callsheet: TELEGRAM_BOT_TOKEN is not set"),
        (["migrate"], {"DATABASE_URL": "mysql:/oops"}, "callsheet: DATABASE_URL is invalid"),
        (
            ["run"],
            {"TELEGRAM_MODE": "webhook", "TELEGRAM_BOT_TOKEN": "1:" + "a" * 30},
            "TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_MODE=webhook",
        ),
        (["check"], {"TELEGRAM_MODE": "carrier-pigeon"}, "callsheet: TELEGRAM_MODE is invalid"),
        (["check"], {"HTTP_PORT": "eighty"}, "callsheet: HTTP_PORT is invalid"),
        (["check"], {"REMINDER_OFFSETS": "24h,soon"}, "callsheet: REMINDER_OFFSETS is invalid"),
        (["check"], {"TIMEZONE": "Mars/Olympus"}, "callsheet: TIMEZONE is invalid"),
        (
            ["check"],
            {"PAYMENT_QUERY_AFTER": "20s", "DARAJA_TIMEOUT_SECONDS": "30"},
            "PAYMENT_QUERY_AFTER (20 s) must not be shorter than DARAJA_TIMEOUT_SECONDS (30 s)",
        ),
        (
            ["run"],
            {"TELEGRAM_BOT_TOKEN": "not-a-token"},
            "callsheet: TELEGRAM_BOT_TOKEN is invalid",
        ),
        (["check"], {"EMAIL_BACKEND": "smtp"}, "SMTP_HOST is required when EMAIL_BACKEND=smtp"),
    ],
)
def test_bad_configuration_is_one_clear_line(
    args: list[str], env: dict[str, str], expected: str, tmp_path: Path
) -> None:
    result = run_cli(*args, env=env, cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_secrets_are_not_echoed_in_errors(tmp_path: Path) -> None:
    result = run_cli("run", env={"TELEGRAM_BOT_TOKEN": "secret-value-123"}, cwd=tmp_path)
    assert "secret-value-123" not in result.stderr


def test_run_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = {"TELEGRAM_BOT_TOKEN": "1:" + "a" * 30, "DATABASE_URL": f"sqlite://{tmp_path}/x.db"}
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert "run `callsheet migrate` first" in result.stderr
    assert "Traceback" not in result.stderr


def test_defaults_and_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMINDER_OFFSETS", "2h, 24h,30m")
    monkeypatch.setenv("DARAJA_ALLOWED_IPS", "196.201.214.200, 196.201.214.206")
    settings = load_settings(_env_file=None)
    assert settings.reminder_offsets == (
        timedelta(hours=24),
        timedelta(hours=2),
        timedelta(minutes=30),
    )
    assert settings.daraja_allowed_ips == ("196.201.214.200", "196.201.214.206")
    assert settings.daraja_url == "https://sandbox.safaricom.co.ke"
    assert settings.database_url == "sqlite://data/callsheet.sqlite3"
    assert settings.missing_for_payments()[0] == "DARAJA_CONSUMER_KEY"


def test_load_settings_raises_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_TLS", "maybe")
    with pytest.raises(ConfigError, match="SMTP_TLS is invalid"):
        load_settings(_env_file=None)


def test_env_example_documents_every_setting() -> None:
    from bot.settings import Settings

    text = (ROOT / ".env.example").read_text()
    documented = {
        line.split("=", 1)[0].lower()
        for line in text.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert documented == set(Settings.model_fields)


def test_a_postgresql_url_is_accepted_and_a_bad_url_is_never_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://crew:hunter2pw@db.internal:5432/callsheet")
    settings = load_settings(_env_file=None)
    assert settings.database_url.startswith("postgresql://")
    assert settings.database_password == "hunter2pw"
    for bad in ("mysql://crew:hunter2pw@db/callsheet", "crew:hunter2pw@db", "postgres://"):
        result = run_cli("migrate", env={"DATABASE_URL": bad}, cwd=tmp_path)
        assert result.returncode == 2
        assert result.stderr.startswith("callsheet: DATABASE_URL is invalid: it must start with")
        assert "hunter2pw" not in result.stderr + result.stdout
    # bot/db.py opens it as tortoise's postgres:// (asyncpg).
    opened = tortoise_config(settings.database_url)["connections"]["default"]
    assert opened == "postgres://crew:hunter2pw@db.internal:5432/callsheet"
