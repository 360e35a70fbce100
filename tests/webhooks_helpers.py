"""A webhook receiver (a real aiohttp server), the signature check a receiver writes (the
README's recipe), and waiting for the sender's attempts."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from services.clock import ManualClock
from services.webhooks import WebhookSender

SECRET = re.compile(r"whsec_[0-9a-f]{48}")


class SignatureError(Exception):
    pass


def verify(secret: str, header: str, body: bytes, now: int, tolerance: int = 300) -> Any:
    """What a receiver does with each POST, as README "Webhooks" says: split the header,
    HMAC-SHA256 "<t>.<body>" with the secret, compare in constant time, refuse a t more than
    5 minutes from now; only then trust (and parse) the body."""
    fields = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(fields["t"])
    signed = f"{timestamp}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields.get("v1", "")):
        raise SignatureError("signature does not match")
    if abs(now - timestamp) > tolerance:
        raise SignatureError("timestamp outside the tolerance")
    return json.loads(body)


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: int  # the test clock's time when it arrived


class Receiver:
    """Answers 500 to the first `failures` posts, then 200 (`failures=None`: always 500)."""

    def __init__(self, clock: ManualClock, failures: int | None = 0) -> None:
        self.clock = clock
        self.failures = failures
        self.posts: list[Received] = []
        self.accepted: list[Received] = []
        self.changed = asyncio.Condition()
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        got = Received(
            dict(request.headers), await request.read(), int(self.clock.now().timestamp())
        )
        failing = self.failures is None or len(self.posts) < self.failures
        async with self.changed:
            self.posts.append(got)
            if not failing:
                self.accepted.append(got)
            self.changed.notify_all()
        return web.Response(status=500 if failing else 200)

    async def wait_posts(self, count: int, timeout: float = 10) -> list[Received]:
        async with asyncio.timeout(timeout), self.changed:
            await self.changed.wait_for(lambda: len(self.posts) >= count)
        return self.posts


async def receiving(clock: ManualClock, failures: int | None = 0) -> AsyncIterator[Receiver]:
    receiver = Receiver(clock, failures)
    app = web.Application()
    app.router.add_post("/hook", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def attempts_recorded(sender: WebhookSender, count: int, timeout: float = 10) -> None:
    async with asyncio.timeout(timeout), sender.changed:
        await sender.changed.wait_for(lambda: sender.recorded >= count)
