"""What Daraja refuses, and how: its error bodies, its token, its field and password checks."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from sandbox.daraja._state import BUY_GOODS, NAIROBI, PAYBILL, SandboxState

REJECTED_CALLBACK_WORDS = ("mpesa", "m-pesa", "safaricom", "sql", "query", "exec", "ngrok")
_REJECTED_CALLBACK_HOSTS = ("ngrok", "loca.lt", "localtunnel", "serveo", "trycloudflare")
_PHONE = re.compile(r"254[17][0-9]{8}")


class Refusal(Exception):
    """Answered as Daraja's error body: requestId, errorCode, errorMessage."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.status, self.code, self.message = status, code, message


def bad(field_name: str) -> Refusal:
    return Refusal(400, "400.002.02", f"Bad Request - Invalid {field_name}")


def wrong_credentials() -> Refusal:
    return Refusal(500, "500.001.1001", "Wrong credentials")


@web.middleware
async def daraja_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except Refusal as refusal:
        return error_response(refusal)
    except web.HTTPMethodNotAllowed:
        return error_response(Refusal(405, "405.001", "Method Not Allowed"))
    except web.HTTPNotFound:
        return error_response(Refusal(404, "404.001.01", "Resource not found"))


def error_response(refusal: Refusal) -> web.Response:
    body = {
        "requestId": f"{secrets.randbelow(99999)}-{secrets.randbelow(9999999)}-1",
        "errorCode": refusal.code,
        "errorMessage": refusal.message,
    }
    return web.json_response(body, status=refusal.status)


def issue_token(state: SandboxState, request: web.Request) -> web.Response:
    """GET /oauth/v1/generate: a new token, which invalidates the previous one."""
    expected = base64.b64encode(f"{state.consumer_key}:{state.consumer_secret}".encode())
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme != "Basic" or not secrets.compare_digest(given.encode(), expected):
        raise Refusal(400, "400.008.01", "Invalid Authentication passed")
    if request.query.get("grant_type") != "client_credentials":
        raise Refusal(400, "400.008.02", "Invalid grant type passed")
    state.token = secrets.token_urlsafe(21)
    state.token_expires = state.clock() + timedelta(seconds=state.token_ttl)
    state.stats.tokens_issued += 1
    expires: int | str = state.token_ttl if state.expires_in_as_number else str(state.token_ttl)
    return web.json_response({"access_token": state.token, "expires_in": expires})


def check_token(state: SandboxState, request: web.Request) -> None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    valid = (
        scheme == "Bearer"
        and not state.reject_all_tokens
        and state.token is not None
        and state.token_expires is not None
        and state.clock() < state.token_expires
        and secrets.compare_digest(token.encode(), state.token.encode())
    )
    if not valid:
        raise Refusal(404, "404.001.03", "Invalid Access Token")


async def json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        # Daraja does not read the body then, and blames the first field.
        raise bad("BusinessShortCode")
    try:
        body = json.loads(await request.read())
    except ValueError as exc:
        raise bad("BusinessShortCode") from exc
    if not isinstance(body, dict):
        raise bad("BusinessShortCode")
    return body


def check_credentials(state: SandboxState, body: dict[str, Any]) -> None:
    """BusinessShortCode, Timestamp and Password, as every M-Pesa Express request carries."""
    shortcode = str(body.get("BusinessShortCode", ""))
    if not shortcode.isdigit():
        raise bad("BusinessShortCode")
    timestamp = body.get("Timestamp")
    if not isinstance(timestamp, str) or not re.fullmatch(r"[0-9]{14}", timestamp):
        raise bad("Timestamp")
    try:
        sent_at = datetime.strptime(timestamp, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI)
    except ValueError as exc:
        raise bad("Timestamp") from exc
    if shortcode != state.shortcode:
        raise Refusal(500, "500.001.1001", "Merchant does not exist")
    expected = base64.b64encode(f"{shortcode}{state.passkey}{timestamp}".encode()).decode()
    password = body.get("Password")
    if not isinstance(password, str) or not secrets.compare_digest(password, expected):
        raise wrong_credentials()
    if abs(sent_at - state.clock()) > state.timestamp_tolerance:
        raise wrong_credentials()


def check_push_fields(body: dict[str, Any]) -> None:
    if not str(body.get("BusinessShortCode", "")).isdigit():
        raise bad("BusinessShortCode")
    if body.get("TransactionType") not in (PAYBILL, BUY_GOODS):
        raise bad("TransactionType")
    amount = body.get("Amount")
    if isinstance(amount, str) and amount.isdigit():
        amount = int(amount)
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= 250_000:
        raise bad("Amount")
    for name in ("PartyA", "PhoneNumber"):
        if not _PHONE.fullmatch(str(body.get(name, ""))):
            raise bad(name)
    if not str(body.get("PartyB", "")).isdigit():
        raise bad("PartyB")
    if not _callback_url_ok(body.get("CallBackURL")):
        raise bad("CallBackURL")
    reference = body.get("AccountReference")
    if not isinstance(reference, str) or not 0 < len(reference) <= 12:
        raise bad("AccountReference")
    description = body.get("TransactionDesc")
    if not isinstance(description, str) or not 0 < len(description) <= 13:
        raise bad("TransactionDesc")


def _callback_url_ok(url: object) -> bool:
    if not isinstance(url, str) or not url or any(c.isspace() for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    lowered = url.lower()
    if any(word in lowered for word in REJECTED_CALLBACK_WORDS):
        return False
    return not any(host in parts.hostname for host in _REJECTED_CALLBACK_HOSTS)
