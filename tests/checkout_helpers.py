"""What the checkout tests share: a manager and an event, a deposit made in the chat, and the
client's page read over real HTTP (its server-sent events awaited, never slept on)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from bot.app import Callsheet
from sandbox.telegram import SandboxUser, TelegramSandbox
from tests.conftest import People
from tests.event_setup import NEW_EVENT, said

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/pay/[A-Za-z0-9_\-]+)")


@dataclass
class Office:
    boss: SandboxUser
    tg: TelegramSandbox

    async def deposit(self, text: str) -> str:
        """The manager's /deposit; returns the link the reply gives."""
        reply = await said(self.tg, self.boss, f"/deposit {text}", "Send this link")
        found = LINK.search(reply["text"])
        assert found, reply["text"]
        return found.group(1)


async def office(tg: TelegramSandbox, people: People) -> Office:
    _, boss = await people.add(
        "Achieng Otieno", "0700 000 001", email="achieng@sauti.example", manager=True
    )
    await said(tg, boss, NEW_EVENT, "Event #1 created")
    return Office(boss, tg)


@asynccontextmanager
async def browser(app: Callsheet) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.port}", timeout=10) as client:
        yield client


def path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


async def press_pay(
    client: httpx.AsyncClient, link: str, phone: str = "0712 345 678"
) -> httpx.Response:
    """Pay as checkout.js presses it: the form's phone, an answer in JSON."""
    return await client.post(
        path(link), data={"phone": phone}, headers={"Accept": "application/json"}
    )


class Stream:
    """The page's event stream: each `data:` event as a dict."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next(self) -> dict[str, Any]:
        async for line in self.lines:
            if line.startswith("data: ") and line != "data: ":  # not the heartbeat's
                data: dict[str, Any] = json.loads(line.removeprefix("data: "))
                return data
        raise AssertionError("the event stream ended")

    async def until(self, state: str) -> dict[str, Any]:
        while True:
            data = await self.next()
            if data["state"] == state:
                return data


@asynccontextmanager
async def events(client: httpx.AsyncClient, link: str) -> AsyncIterator[Stream]:
    async with client.stream("GET", path(link) + "/events") as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        yield Stream(response)


def visible(html: str) -> str:
    """The page's text as read: tags dropped, spaces squeezed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())
