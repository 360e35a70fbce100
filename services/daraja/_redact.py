"""Secrets taken out of what we keep of each exchange: passkey, keys, tokens, callback secret."""

from __future__ import annotations

from collections.abc import Mapping

REDACTED = "[redacted]"
_SECRET_KEYS = frozenset(
    {
        "password",
        "passkey",
        "access_token",
        "consumer_secret",
        "authorization",
        "securitycredential",
        "initiatorpassword",
    }
)
# URLs whose last path segment is our callback secret.
_SECRET_URL_KEYS = frozenset({"CallBackURL", "ResultURL", "QueueTimeOutURL"})


def redact(value: object, secrets_: tuple[str, ...]) -> object:
    """`value` (decoded JSON) with secret fields and every occurrence of `secrets_` replaced."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            if str(key).lower() in _SECRET_KEYS:
                out[str(key)] = REDACTED
            elif str(key) in _SECRET_URL_KEYS and isinstance(item, str):
                out[str(key)] = _redact_callback_url(item)
            else:
                out[str(key)] = redact(item, secrets_)
        return out
    if isinstance(value, list):
        return [redact(item, secrets_) for item in value]
    if isinstance(value, str):
        for secret in secrets_:
            if secret:
                value = value.replace(secret, REDACTED)
        return value
    return value


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (REDACTED if k.lower() == "authorization" else v) for k, v in headers.items()}


def header_secrets(headers: Mapping[str, str]) -> tuple[str, ...]:
    """The credential in an Authorization header, to redact wherever it is echoed."""
    value = headers.get("Authorization", "")
    _, _, credential = value.partition(" ")
    return (credential,) if credential else ()


def _redact_callback_url(url: str) -> str:
    head, _, _ = url.rstrip("/").rpartition("/")
    return f"{head}/{REDACTED}" if head else REDACTED
