"""The one loop every background worker runs on (STYLE.md rule 16).

A `Worker` does rounds until it is stopped: `round()` does what is due and returns how much
it did; after an idle round it waits for `wake()`, `stop()` or `idle_seconds`. A round that
raises is logged and retried after an exponential pause: the loop never ends until `stop()`.

Items inside a round go through `isolated()`: an item that raises comes back as a `Failure`
for its owner to count against that item (and park it after a limit), never against its
neighbours. These two are the only places that catch every exception.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")

ERROR_LIMIT = 500  # the width of the last_error / error columns


@dataclass(frozen=True)
class Failure:
    """What became of an item that raised something its owner did not expect."""

    error: Exception

    def text(self, limit: int = ERROR_LIMIT) -> str:
        return describe(self.error, limit)


def describe(error: BaseException, limit: int = ERROR_LIMIT) -> str:
    """The error as an operator reads it, cut to fit its column."""
    said = str(error).strip()
    text = f"{type(error).__name__}: {said}" if said else type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def isolated(what: str, call: Callable[[], Awaitable[T]]) -> T | Failure:
    """Run one item; whatever it raises (but cancellation) comes back as a Failure, logged
    with its traceback under `what` (an id an operator can look up)."""
    try:
        return await call()
    except Exception as exc:  # one bad item must not stop or repeat its neighbours
        log.exception("%s failed", what)
        return Failure(exc)


def backoff(attempt: int, base: float = 2.0, cap: float = 3600.0) -> float:
    """Exponential backoff with jitter: attempt 1 → 1-2 s, 2 → 2-4 s, 3 → 4-8 s, …"""
    return random.uniform(0.5, 1.0) * min(cap, base ** min(attempt, 64))


class Worker:
    """A background loop. Subclasses implement `round()`; `run()` is the task's body."""

    name = "worker"

    def __init__(self, *, idle_seconds: float, max_pause: float = 30.0) -> None:
        self.idle_seconds = idle_seconds
        self.max_pause = max_pause  # the longest wait after failed rounds
        self.failed_rounds = 0  # in a row; an operator's health signal
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    async def round(self) -> int:
        """Do what is due; 0 means nothing was, and the loop waits before the next round."""
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def stop(self) -> None:
        """Finish the round in progress (never cut mid-transaction), start no other."""
        self._stopping.set()
        self._wake.set()

    def wake(self) -> None:
        """Work has arrived: start the next round now."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                done = await self.round()
            except Exception:  # the loop outlives any round (logged with its traceback)
                self.failed_rounds += 1
                log.exception(
                    "%s: round failed (%s in a row); trying again", self.name, self.failed_rounds
                )
                await self.pause(backoff(self.failed_rounds, cap=self.max_pause))
                continue
            self.failed_rounds = 0
            if not done:
                await self.pause(self.idle_seconds)

    async def pause(self, seconds: float) -> None:
        """Until `seconds` pass, work arrives (`wait_for_work`) or `stop()`."""
        if self._stopping.is_set():
            return
        waiter = asyncio.ensure_future(self.wait_for_work(seconds))
        stopper = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            stopper.cancel()

    async def wait_for_work(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)
        self._wake.clear()
