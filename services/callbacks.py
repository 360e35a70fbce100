"""Daraja's callbacks: committed before Daraja hears 200, settled just after by a worker.

Safaricom does not resend a callback we acknowledged, so the answer waits for the raw body
to be durably stored, and for nothing else. Requests that arrive together share one insert
and one commit (group commit: each waits for the commit of the batch it joined). The
settling worker then takes the stored rows in batches (`PaymentService.apply_callbacks`,
one transaction each); it is woken by every commit, so a lone callback is settled at once.
Rows a crash left unsettled are found by the reconciler's sweep of stranded callbacks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

from tortoise import connections

from models import CallbackStatus
from services.clock import Clock
from services.daraja import MalformedCallback, StkCallback, parse_callback
from services.payments import PaymentService

log = logging.getLogger(__name__)

INSERT_BATCH = 500  # rows per insert (4 parameters each: 2,000, far under SQLite's 32,766)
SETTLE_BATCH = 50  # callbacks per settling transaction: short, so ingestion never waits long
RETRY_FIRST = 0.2  # seconds before a failed batch is tried again; doubles up to RETRY_CAP
RETRY_CAP = 10.0
SOLO_AFTER = 3  # a batch that failed this often is retried one callback at a time
# While callbacks are still coming in, one small settling batch this often: Daraja waits on
# our answers, nobody waits on the settling of a burst (a lone callback is settled at once).
BUSY_PAUSE = 0.2
BUSY_BATCH = 20


@dataclass(frozen=True)
class _Received:
    body: str
    remote_ip: str | None
    parsed: StkCallback | None  # None: malformed, kept for a person to read


class CallbackService:
    def __init__(self, payments: PaymentService, clock: Clock) -> None:
        self.payments = payments
        self.clock = clock
        self._queue: list[tuple[_Received, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._pending: deque[int] = deque()  # stored ids the worker has not settled yet
        self._parsed: dict[int, StkCallback] = {}  # their bodies, parsed on arrival
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = asyncio.Event()
        self._receiving = 0  # requests between their arrival and their answer
        self._quiet = asyncio.Event()  # set while _receiving is 0
        self._quiet.set()
        self._last_received = float("-inf")  # loop time of the latest arrival

    # receiving (the HTTP request waits for this)

    async def receive(self, body: bytes, remote_ip: str | None) -> None:
        """Store the raw body durably; raises MalformedCallback (after storing it too)."""
        self._receiving += 1
        self._quiet.clear()
        self._last_received = asyncio.get_running_loop().time()
        try:
            text = body.decode("utf-8", errors="replace")
            try:
                parsed = parse_callback(body)
            except MalformedCallback:
                await self._store(_Received(text, remote_ip, None))
                raise
            await self._store(_Received(text, remote_ip, parsed))
        finally:
            self._receiving -= 1
            if not self._receiving:
                self._quiet.set()

    async def _store(self, row: _Received) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((row, done))
        if self._flusher is None or self._flusher.done():
            # A task of its own, so that a request cancelled meanwhile cannot cut a commit.
            self._flusher = asyncio.create_task(self._flush(), name="callback-inbox")
        await done

    async def _flush(self) -> None:
        """Insert whatever has queued up, in one statement, until the queue is empty."""
        while self._queue:
            batch, self._queue = self._queue[:INSERT_BATCH], self._queue[INSERT_BATCH:]
            try:
                stored = await self._insert([row for row, _ in batch])
            except Exception as exc:  # noqa: BLE001  (handed to each waiting request; its 500 logs it)
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self.submit(stored)  # before the 200s go out: `settled()` then includes them
            for _, done in batch:
                if not done.done():
                    done.set_result(None)

    async def _insert(self, rows: list[_Received]) -> dict[int, StkCallback]:
        """One multi-row INSERT; on its own (no transaction) it is committed when it returns.
        Returns the rows the worker should settle: id → the callback as parsed here."""
        conn = connections.get("default")
        now = self.clock.now()
        postgres = conn.capabilities.dialect == "postgres"
        values: list[object] = []
        groups: list[str] = []
        for row in rows:
            checkout = row.parsed.checkout_request_id if row.parsed else None
            values += [row.body, row.remote_ip, checkout, now]
            first = len(values) - 4
            marks = (f"${first + k}" for k in range(1, 5)) if postgres else iter("????")
            groups.append(f"({', '.join(marks)}, '{CallbackStatus.RECEIVED.value}')")
        sql = (
            "INSERT INTO daraja_callback (body, remote_ip, checkout_request_id, received_at,"
            f" status) VALUES {', '.join(groups)} RETURNING id, body"
        )
        # RETURNING promises no order: rows are told apart by their body (equal bodies are
        # the same callback, whichever id each gets).
        parsed = {row.body: row.parsed for row in rows if row.parsed is not None}
        stored = await conn.execute_query_dict(sql, values)
        return {r["id"]: parsed[r["body"]] for r in stored if r["body"] in parsed}

    # settling (the worker)

    def submit(self, stored: dict[int, StkCallback]) -> None:
        """Wake the worker for these stored callbacks (id → parsed)."""
        if stored:
            self._parsed.update(stored)
            self._pending.extend(sorted(stored))
            self._idle.clear()
            self._wake.set()

    async def settled(self) -> None:
        """Until every callback stored by this process so far has been settled."""
        await self._idle.wait()

    def stop(self) -> None:
        """Finish the batch in progress, start no other (what is left waits for the sweep)."""
        self._stopping.set()
        self._wake.set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        last_batch = -BUSY_PAUSE
        while not self._stopping.is_set():
            if not self._pending:
                self._idle.set()
                await self._wake.wait()
                self._wake.clear()
                continue
            now = loop.time()
            pause = last_batch + BUSY_PAUSE - now
            if not self._quiet.is_set() and pause > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._quiet.wait(), pause)
                continue
            last_batch = now
            # A lull between two waves of a burst gets a small batch too: on SQLite a batch
            # holds the only connection, and arrivals wait for it.
            busy = now - self._last_received < BUSY_PAUSE
            size = 1 if failures >= SOLO_AFTER else BUSY_BATCH if busy else SETTLE_BATCH
            ids = [self._pending.popleft() for _ in range(min(size, len(self._pending)))]
            try:
                await self.payments.apply_callbacks(
                    ids, parsed={i: self._parsed[i] for i in ids if i in self._parsed}
                )
            except Exception:  # the loop outlives one bad batch (logged with its traceback)
                failures += 1
                if size == 1 and failures > SOLO_AFTER + 2:
                    log.exception("callback %s cannot be settled now; left to the sweep", ids[0])
                    self._parsed.pop(ids[0], None)
                    failures = SOLO_AFTER  # the next one alone too, until one succeeds
                else:
                    log.exception("settling callbacks %s failed; trying again", ids)
                    self._pending.extendleft(reversed(ids))
                delay = min(RETRY_CAP, RETRY_FIRST * 2 ** min(failures, 10))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                continue
            failures = 0
            for i in ids:
                self._parsed.pop(i, None)
            await asyncio.sleep(0)  # requests waiting on the loop go first
        self._idle.set()
