"""`callsheet check`: one line per outside service, ok or the reason it failed."""

from __future__ import annotations

import httpx
from telegram import Bot
from telegram.error import InvalidToken, TelegramError

from bot import db
from bot.container import build_email_sender
from bot.settings import ConfigError, EmailBackend, Settings
from services.email import SmtpSender
from services.outbox import DeliveryError


async def check_database(settings: Settings) -> str:
    try:
        await db.open_db(settings.database_url)
    except (OSError, ConnectionError) as exc:
        return f"failed: cannot connect ({exc})"
    except Exception as exc:  # noqa: BLE001 - drivers raise their own classes; report any
        return f"failed: cannot connect ({type(exc).__name__}: {exc})"
    try:
        pending = await db.pending_migrations(settings.database_url)
        if pending:
            return f"failed: {len(pending)} migration(s) to apply; run `callsheet migrate`"
        return "ok"
    finally:
        await db.close_db()


async def check_telegram(settings: Settings) -> str:
    if settings.telegram_bot_token is None:
        return "skipped: TELEGRAM_BOT_TOKEN is not set"
    bot = Bot(settings.require_bot_token(), base_url=settings.telegram_api_base_url)
    try:
        async with bot:
            return f"ok (@{bot.username})"
    except InvalidToken:
        return "failed: Telegram refused the token (check TELEGRAM_BOT_TOKEN)"
    except TelegramError as exc:
        return f"failed: {exc}"


async def check_daraja(settings: Settings) -> str:
    missing = settings.missing_for_payments()
    if missing:
        return f"skipped: {', '.join(missing)} not set"
    assert settings.daraja_consumer_key and settings.daraja_consumer_secret
    try:
        async with httpx.AsyncClient(timeout=15) as http:
            response = await http.get(
                settings.daraja_url + "/oauth/v1/generate",
                params={"grant_type": "client_credentials"},
                auth=(
                    settings.daraja_consumer_key.get_secret_value(),
                    settings.daraja_consumer_secret.get_secret_value(),
                ),
            )
    except httpx.HTTPError as exc:
        return f"failed: cannot reach {settings.daraja_url} ({type(exc).__name__})"
    if response.status_code == 200 and "access_token" in response.text:
        return "ok (OAuth token issued" + _payouts(settings) + ")"
    return f"failed: OAuth answered HTTP {response.status_code}: {response.text[:200]}"


async def check_payouts(settings: Settings) -> str:
    """Only a problem line: a working operator is reported on the daraja line."""
    if not settings.payouts_configured:
        return ""
    try:
        settings.daraja_initiator()
    except ConfigError as exc:
        return f"failed: {exc}"
    return ""


def _payouts(settings: Settings) -> str:
    """The API operator, if payouts are configured: its certificate read again and used."""
    try:
        initiator = settings.daraja_initiator()
    except ConfigError:
        return ""  # its own "payouts: failed" line says why
    if initiator is None:
        return ""
    initiator.credential()  # the certificate's key can encrypt the password
    return f"; payouts as {initiator.name} from {initiator.shortcode}"


async def check_email(settings: Settings) -> str:
    sender = build_email_sender(settings)
    if settings.email_backend is not EmailBackend.SMTP or not isinstance(sender, SmtpSender):
        return f"ok ({settings.email_backend} backend, nothing to connect to)"
    try:
        await sender.check()
    except (DeliveryError, OSError, TimeoutError) as exc:
        return f"failed: {exc}"
    except Exception as exc:  # noqa: BLE001 - aiosmtplib has many classes; report any
        return f"failed: {type(exc).__name__}: {exc}"
    return f"ok (logged in to {settings.smtp_host}:{settings.smtp_port})"


async def run_checks(settings: Settings) -> int:
    print("configuration: ok")
    results = {
        "database": await check_database(settings),
        "telegram": await check_telegram(settings),
        "daraja": await check_daraja(settings),
        "email": await check_email(settings),
    }
    payouts = await check_payouts(settings)
    if payouts:
        results["payouts"] = payouts
    for name, result in results.items():
        print(f"{name}: {result}")
    return 1 if any(r.startswith("failed") for r in results.values()) else 0
