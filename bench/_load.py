"""Runs in its own process: the HTTP client side of a load test, and a bare aiohttp server.

Kept apart from the process under test so that the client's CPU is not charged to it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp import web

HEADERS = {"Content-Type": "application/json"}


def post_all(url: str, bodies: Sequence[bytes], concurrency: int) -> dict[str, Any]:
    """POST every body to `url` with `concurrency` requests in flight; latencies in seconds."""
    return asyncio.run(_post_all(url, bodies, concurrency))


async def _post_all(url: str, bodies: Sequence[bytes], concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    pending = iter(bodies)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)

    async def worker(session: aiohttp.ClientSession) -> None:
        for body in pending:
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=HEADERS) as reply:
                    await reply.read()
                    statuses[reply.status] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors[type(exc).__name__] += 1
                continue
            latencies.append(time.perf_counter() - started)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started_at = time.time()  # wall clock, to compare with times the app records
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        wall = time.perf_counter() - started
    return {
        "latencies": latencies,
        "wall": wall,
        "started_at": started_at,
        "statuses": dict(statuses),
        "errors": dict(errors),
    }


async def _ok(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"ResultCode": 0, "ResultDesc": "Accepted"})


def serve_bare(port: int) -> None:
    """An aiohttp server whose only handler reads the body and answers 200: the ceiling."""
    app = web.Application()
    app.router.add_post("/{tail:.*}", _ok)
    app.router.add_get("/healthz", _ok)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)
