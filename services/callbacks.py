"""Daraja's callbacks: committed before Daraja hears 200, settled just after by a worker.

Safaricom does not resend a callback we acknowledged, so the answer waits for the raw body
to be durably stored, and for nothing else. Requests that arrive together share one insert
and one commit (group commit: each waits for the commit of the batch it joined). The
settling worker then takes the stored rows in batches (`PaymentService.apply_callbacks`,
one transaction each); it is woken by every commit, so a lone callback is settled at once.
Rows a crash left unsettled are found by the reconciler's sweep of stranded callbacks.

A row that cannot be stored fails its shared INSERT; the rows of that INSERT are then stored
one by one, so only the bad one gets an error. Ids are checked on arrival (parse_callback)
and NUL, which PostgreSQL text cannot hold, never reaches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import deque
from dataclasses import dataclass

from tortoise import connections

from models import CallbackStatus
from services.clock import Clock
from services.daraja import MalformedCallback, StkCallback, parse_callback
from services.payments import PaymentService
from services.worker import Failure, Worker, isolated

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
IP_MAX = 64  # daraja_callback.remote_ip


@dataclass(frozen=True)
class _Received:
    body: str
    remote_ip: str | None
    parsed: StkCallback | None  # None: malformed, kept for a person to read


class CallbackService(Worker):
    name = "callback settler"

    def __init__(self, payments: PaymentService, clock: Clock) -> None:
        super().__init__(idle_seconds=3600.0, max_pause=RETRY_CAP)
        self.payments = payments
        self.clock = clock
        self._queue: list[tuple[_Received, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._pending: deque[int] = deque()  # stored ids the worker has not settled yet
        self._parsed: dict[int, StkCallback] = {}  # their bodies, parsed on arrival
        self._idle = asyncio.Event()
        self._idle.set()
        self._failures = 0  # settling batches that failed in a row
        self._last_batch = -BUSY_PAUSE
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
            # NUL cannot be stored in PostgreSQL text: shown as U+FFFD, as undecodable bytes are.
            text = body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")
            ip = remote_ip[:IP_MAX] if remote_ip else None  # a proxy's header, cut to the column
            try:
                parsed = parse_callback(body)
            except MalformedCallback:
                await self._store(_Received(text, ip, None))
                raise
            await self._store(_Received(text, ip, parsed))
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
            rows = [row for row, _ in batch]
            stored = await isolated(
                f"storing {len(rows)} callback(s)", functools.partial(self._insert, rows)
            )
            if isinstance(stored, Failure) and len(batch) > 1:
                # One bad row fails the shared INSERT: each is stored (or refused) on its own.
                for row, done in batch:
                    alone = await isolated(
                        "storing a callback alone", functools.partial(self._insert, [row])
                    )
                    self._answer([done], alone)
                continue
            self._answer([done for _, done in batch], stored)

    def _answer(
        self, waiting: list[asyncio.Future[None]], stored: dict[int, StkCallback] | Failure
    ) -> None:
        """Tell the waiting requests: stored (200), or the error (their 500)."""
        if isinstance(stored, Failure):
            for done in waiting:
                if not done.done():
                    done.set_exception(stored.error)
            return
        self.submit(stored)  # before the 200s go out: `settled()` then includes them
        for done in waiting:
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

    async def run(self) -> None:
        await super().run()
        self._idle.set()

    async def round(self) -> int:
        """Settle one batch of stored callbacks; 0 when none is waiting."""
        if not self._pending:
            self._idle.set()
            return 0
        loop = asyncio.get_running_loop()
        now = loop.time()
        pause = self._last_batch + BUSY_PAUSE - now
        if not self._quiet.is_set() and pause > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), pause)
            return 1
        self._last_batch = now
        # A lull between two waves of a burst gets a small batch too: on SQLite a batch
        # holds the only connection, and arrivals wait for it.
        busy = now - self._last_received < BUSY_PAUSE
        size = 1 if self._failures >= SOLO_AFTER else BUSY_BATCH if busy else SETTLE_BATCH
        ids = [self._pending.popleft() for _ in range(min(size, len(self._pending)))]
        parsed = {i: self._parsed[i] for i in ids if i in self._parsed}
        outcome = await isolated(
            f"settling callbacks {ids}",
            functools.partial(self.payments.apply_callbacks, ids, parsed=parsed),
        )
        if isinstance(outcome, Failure):
            self._failures += 1
            if size == 1 and self._failures > SOLO_AFTER + 2:
                log.warning("callback %s cannot be settled now; left to the sweep", ids[0])
                self._parsed.pop(ids[0], None)
                self._failures = SOLO_AFTER  # the next one alone too, until one succeeds
            else:
                self._pending.extendleft(reversed(ids))
            delay = min(RETRY_CAP, RETRY_FIRST * 2 ** min(self._failures, 10))
            with contextlib.suppress(TimeoutError):  # new arrivals do not cut this pause short
                await asyncio.wait_for(self._stopping.wait(), delay)
            return 1
        self._failures = 0
        for i in ids:
            self._parsed.pop(i, None)
        await asyncio.sleep(0)  # requests waiting on the loop go first
        return len(ids)
