"""The Callsheet-Signature header, in the scheme of Stripe's: `t=<unix>,v1=<hex>` where the
hex is HMAC-SHA256, keyed with the endpoint's secret, of "<t>.<body>". Receivers refuse a
`t` more than TOLERANCE seconds from their clock, so a captured delivery cannot be replayed
later (README, "Webhooks", has the recipe)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

HEADER = "Callsheet-Signature"
TOLERANCE = 300  # seconds: the replay window receivers should allow


def new_secret() -> str:
    return "whsec_" + secrets.token_hex(24)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"
