"""The Timestamp and Password every M-Pesa Express request carries."""

from __future__ import annotations

import base64
from datetime import datetime

from services.daraja._config import NAIROBI
from services.daraja._errors import DarajaConfigError


def nairobi_timestamp(now: datetime) -> str:
    """Daraja's `Timestamp`: YYYYMMDDHHmmss in Nairobi time."""
    if now.tzinfo is None:
        raise DarajaConfigError("the clock must return an aware datetime")
    return now.astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, timestamp: str) -> str:
    return base64.b64encode(f"{shortcode}{passkey}{timestamp}".encode()).decode("ascii")
