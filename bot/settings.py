"""Configuration: one frozen object, loaded once from the environment and `.env`."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.assignments import AnswerEmails
from services.daraja import (
    B2CCommand,
    DarajaConfigError,
    Initiator,
    TransactionType,
    load_certificate,
)

DARAJA_HOSTS = {
    "sandbox": "https://sandbox.safaricom.co.ke",
    "production": "https://api.safaricom.co.ke",
}


# What bot/db.py can open (postgresql:// is read as postgres://).
DATABASE_SCHEMES = frozenset({"sqlite", "postgres", "postgresql", "asyncpg", "psycopg"})
# Settings whose value is never repeated in an error: secrets, and URLs holding a password.
NEVER_ECHOED = ("secret", "password", "token", "passkey", "key", "database_url")


class TelegramMode(StrEnum):
    POLLING = "polling"
    WEBHOOK = "webhook"


class DarajaEnv(StrEnum):
    SANDBOX = "sandbox"
    PRODUCTION = "production"


class EmailBackend(StrEnum):
    SMTP = "smtp"
    CONSOLE = "console"
    FOLDER = "folder"


class SmtpTls(StrEnum):
    STARTTLS = "starttls"
    SSL = "ssl"  # implicit TLS, usually port 465
    NONE = "none"


class ConfigError(Exception):
    """Configuration that cannot work; the message is one line naming the variable."""


_OPERATOR_VARIABLES = ("DARAJA_INITIATOR_NAME", "DARAJA_INITIATOR_PASSWORD", "DARAJA_CERTIFICATE")
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text.lower())
    if not match:
        raise ValueError(f"{text.strip()!r} is not a duration like 30m, 2h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _durations(value: Any) -> Any:
    if isinstance(value, str):
        parts = [p for p in value.split(",") if p.strip()]
        return tuple(sorted((parse_duration(p) for p in parts), reverse=True))
    return value


def _duration(value: Any) -> Any:
    return parse_duration(value) if isinstance(value, str) else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", frozen=True
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"

    @property
    def telegram_file_base_url(self) -> str:
        """Where files sent to the bot are downloaded: `…/file/bot` beside `…/bot`."""
        base = self.telegram_api_base_url.rstrip("/")
        if base.endswith("/bot"):
            return base.removesuffix("bot") + "file/bot"
        return base + "/file/bot"

    telegram_mode: TelegramMode = TelegramMode.POLLING
    telegram_webhook_secret: SecretStr | None = None
    telegram_chat_burst: int = Field(default=3, ge=1, le=1000)
    public_base_url: str | None = None
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    database_url: str = "sqlite://data/callsheet.sqlite3"
    # Copies of the documents attached to events, for email; unset: `files` beside a SQLite
    # database, else ./files.
    files_dir: str | None = None
    timezone: str = "Africa/Nairobi"
    company_name: str = "Callsheet"
    reminder_offsets: Annotated[tuple[timedelta, ...], NoDecode] = (
        timedelta(hours=24),
        timedelta(hours=2),
    )
    nudge_after: Annotated[timedelta, NoDecode] = timedelta(hours=12)
    alert_window: Annotated[timedelta, NoDecode] = timedelta(hours=48)
    # Hours an invitation, or a spot offered to a backup, waits for an answer before the
    # spot is offered to the next person (events with Auto backups on).
    offer_response_hours: int = Field(default=24, ge=1, le=336)
    link_token_ttl: Annotated[timedelta, NoDecode] = timedelta(days=7)
    # A guided conversation (and its drafts) left untouched this long is dropped.
    conversation_ttl: Annotated[timedelta, NoDecode] = timedelta(hours=2)

    daraja_env: DarajaEnv = DarajaEnv.SANDBOX
    daraja_base_url: str | None = None
    daraja_consumer_key: SecretStr | None = None
    daraja_consumer_secret: SecretStr | None = None
    daraja_shortcode: str | None = None
    daraja_passkey: SecretStr | None = None
    daraja_transaction_type: TransactionType = TransactionType.PAYBILL
    daraja_party_b: str | None = None
    daraja_callback_secret: SecretStr | None = None
    daraja_allowed_ips: Annotated[tuple[str, ...], NoDecode] = ()
    daraja_trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    daraja_timeout_seconds: float = Field(default=30.0, gt=0)
    # Payouts (B2C), Transaction Status, Account Balance, Reversal: the API operator.
    daraja_certificate: str | None = None
    daraja_initiator_name: str | None = None
    daraja_initiator_password: SecretStr | None = None
    daraja_b2c_shortcode: str | None = None
    daraja_b2c_command: B2CCommand = B2CCommand.BUSINESS
    daraja_b2c_rate: float = Field(default=5.0, gt=0, le=1000)
    payment_query_after: Annotated[timedelta, NoDecode] = timedelta(minutes=3)
    payment_give_up_after: Annotated[timedelta, NoDecode] = timedelta(minutes=30)
    # Managers who must approve a pay sheet: 1 lets the preparer approve; 2 needs another
    # manager than the one who submitted it.
    payroll_approvals: int = Field(default=1, ge=1, le=2)
    # A client's checkout link (/deposit) works this many days after its last due date.
    checkout_link_days: int = Field(default=30, ge=1, le=365)
    # An instalment still unpaid this many days after its due date alerts the manager once.
    checkout_missed_days: int = Field(default=3, ge=1, le=60)

    email_backend: EmailBackend = EmailBackend.CONSOLE
    email_folder: str = "data/outbox"
    email_from: str | None = None
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: SmtpTls = SmtpTls.STARTTLS
    email_max_attempts: int = Field(default=8, ge=1)
    answer_emails: AnswerEmails = AnswerEmails.EACH
    # How long a claimed outbox row stays claimed: after a crash, that chat's next messages
    # wait this long. Keep it above the slowest send (Telegram's 15 s read timeout).
    outbox_lease: Annotated[timedelta, NoDecode] = timedelta(seconds=60)
    # Outbound webhooks go only to public https addresses; 1 allows private, loopback and
    # link-local ones and plain http (for tests and a local receiver, never production).
    webhooks_allow_private: bool = False

    _v_durations = field_validator("reminder_offsets", mode="before")(_durations)
    _v_duration = field_validator(
        "nudge_after",
        "alert_window",
        "link_token_ttl",
        "conversation_ttl",
        "payment_query_after",
        "payment_give_up_after",
        "outbox_lease",
        mode="before",
    )(_duration)

    @field_validator("daraja_allowed_ips", "daraja_trusted_proxies", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("daraja_certificate")
    @classmethod
    def _readable_certificate(cls, value: str | None) -> str | None:
        if value:
            try:
                load_certificate(value)
            except DarajaConfigError as exc:
                raise ValueError(str(exc)) from None
        return value or None

    @field_validator("daraja_b2c_shortcode")
    @classmethod
    def _b2c_shortcode(cls, value: str | None) -> str | None:
        if value and not re.fullmatch(r"[0-9]{5,7}", value):
            raise ValueError("must be the 5-7 digit shortcode that pays out")
        return value or None

    @field_validator("daraja_initiator_name")
    @classmethod
    def _initiator_name(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"{value!r} is not a known timezone such as Africa/Nairobi") from exc
        return value

    @field_validator("database_url")
    @classmethod
    def _db_url(cls, value: str) -> str:
        # Never echo the URL: it usually carries the database password.
        scheme, sep, rest = value.partition("://")
        if not sep or scheme not in DATABASE_SCHEMES or not rest:
            known = ", ".join(f"{s}://" for s in sorted(DATABASE_SCHEMES))
            raise ValueError(
                f"it must start with one of {known}, like sqlite://data/callsheet.sqlite3 "
                "or postgres://user:password@host:5432/dbname (the value is not shown here)"
            )
        return value

    @field_validator("telegram_api_base_url", "public_base_url", "daraja_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/") if value and not value.endswith("/bot") else value

    @field_validator("telegram_bot_token")
    @classmethod
    def _token_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(
            r"\d+:[A-Za-z0-9_-]{20,}", value.get_secret_value()
        ):
            raise ValueError("does not look like a bot token from @BotFather (digits:letters)")
        return value

    @model_validator(mode="after")
    def _webhook_needs(self) -> Settings:
        if self.telegram_mode is TelegramMode.WEBHOOK:
            if self.telegram_webhook_secret is None:
                raise ValueError("TELEGRAM_WEBHOOK_SECRET is required when TELEGRAM_MODE=webhook")
            if not re.fullmatch(
                r"[A-Za-z0-9_-]{1,256}", self.telegram_webhook_secret.get_secret_value()
            ):
                raise ValueError(
                    "TELEGRAM_WEBHOOK_SECRET may only hold letters, digits, _ and - (1-256 chars)"
                )
            if self.public_base_url is None:
                raise ValueError("PUBLIC_BASE_URL is required when TELEGRAM_MODE=webhook")
        if self.payment_query_after.total_seconds() < self.daraja_timeout_seconds:
            # Sooner, a push still waiting for Daraja's answer would be marked unknown.
            raise ValueError(
                f"PAYMENT_QUERY_AFTER ({_seconds(self.payment_query_after)}) must not be "
                f"shorter than DARAJA_TIMEOUT_SECONDS ({self.daraja_timeout_seconds:g} s)"
            )
        missing = [n for n in self.missing_for_payouts() if n in _OPERATOR_VARIABLES]
        if 0 < len(missing) < len(_OPERATOR_VARIABLES):
            given = next(n for n in _OPERATOR_VARIABLES if n not in missing)
            raise ValueError(
                f"{missing[0]} is required when {given} is set (payouts need "
                "DARAJA_INITIATOR_NAME, DARAJA_INITIATOR_PASSWORD and DARAJA_CERTIFICATE)"
            )
        if not missing and self.b2c_shortcode is None:
            raise ValueError("DARAJA_B2C_SHORTCODE (or DARAJA_SHORTCODE) is required for payouts")
        if self.email_backend is EmailBackend.SMTP:
            if not self.smtp_host:
                raise ValueError("SMTP_HOST is required when EMAIL_BACKEND=smtp")
            if not self.email_from:
                raise ValueError("EMAIL_FROM is required when EMAIL_BACKEND=smtp")
        return self

    # Derived values -------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def files_path(self) -> Path:
        if self.files_dir:
            return Path(self.files_dir)
        database = self.database_url.removeprefix("sqlite://")
        if database != self.database_url and database not in ("", ":memory:"):
            return Path(database).parent / "files"
        return Path("files")

    @property
    def database_password(self) -> str | None:
        """The password inside DATABASE_URL, for the log filter that redacts secrets."""
        return urlsplit(self.database_url).password

    @property
    def daraja_url(self) -> str:
        return self.daraja_base_url or DARAJA_HOSTS[self.daraja_env.value]

    @property
    def payments_configured(self) -> bool:
        return self.missing_for_payments() == []

    def missing_for_payments(self) -> list[str]:
        needed = {
            "DARAJA_CONSUMER_KEY": self.daraja_consumer_key,
            "DARAJA_CONSUMER_SECRET": self.daraja_consumer_secret,
            "DARAJA_SHORTCODE": self.daraja_shortcode,
            "DARAJA_PASSKEY": self.daraja_passkey,
            "DARAJA_CALLBACK_SECRET": self.daraja_callback_secret,
            "PUBLIC_BASE_URL": self.public_base_url,
        }
        return [name for name, value in needed.items() if value is None]

    @property
    def payouts_configured(self) -> bool:
        return self.missing_for_payouts() == []

    def missing_for_payouts(self) -> list[str]:
        """What B2C, Transaction Status, Account Balance and Reversal still need."""
        needed = {
            "DARAJA_INITIATOR_NAME": self.daraja_initiator_name,
            "DARAJA_INITIATOR_PASSWORD": self.daraja_initiator_password,
            "DARAJA_CERTIFICATE": self.daraja_certificate,
        }
        missing = [name for name, value in needed.items() if value is None]
        if self.b2c_shortcode is None:
            missing.append("DARAJA_B2C_SHORTCODE")
        return missing

    @property
    def b2c_shortcode(self) -> str | None:
        return self.daraja_b2c_shortcode or self.daraja_shortcode

    def daraja_initiator(self) -> Initiator | None:
        """The API operator for DarajaClient; None when payouts are not configured.

        Raises ConfigError when the certificate can no longer be read.
        """
        if not self.payouts_configured:
            return None
        assert self.daraja_initiator_name and self.daraja_initiator_password
        assert self.daraja_certificate and self.b2c_shortcode
        try:
            return Initiator.from_certificate(
                self.daraja_initiator_name,
                self.daraja_initiator_password.get_secret_value(),
                self.daraja_certificate,
                self.b2c_shortcode,
            )
        except DarajaConfigError as exc:
            raise ConfigError(f"DARAJA_CERTIFICATE is invalid: {exc}") from None

    def require_bot_token(self) -> str:
        if self.telegram_bot_token is None:
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN is not set: put the token from @BotFather in .env "
                "or the environment"
            )
        return self.telegram_bot_token.get_secret_value()


def _seconds(value: timedelta) -> str:
    return f"{value.total_seconds():g} s"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings or raise ConfigError with one line naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None


def _one_line(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    message = str(error.get("msg", "invalid value"))
    message = message.removeprefix("Value error, ")
    loc = error.get("loc") or ()
    if loc:
        name = str(loc[0]).upper()
        value = error.get("input")
        shown = "" if any(word in name.lower() for word in NEVER_ECHOED) else f" (got {value!r})"
        if message.startswith(repr(value)) or not isinstance(value, str | int | float):
            shown = ""
        return f"{name} is invalid: {message}{shown}"
    return f"Configuration is invalid: {message}"
