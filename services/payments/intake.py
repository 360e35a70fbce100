"""Daraja's callbacks, from the HTTP request to the settlement: the one owner of the
daraja_callback table.

A callback is committed before Daraja hears 200, and settled just after by a worker.
Safaricom does not resend a callback we acknowledged, so the answer waits for the raw body
to be durably stored, and for nothing else. Requests that arrive together share one insert
and one commit (group commit: each waits for the commit of the batch it joined). The
settling worker then takes the stored rows in batches (`Intake.apply`, one transaction
each); it is woken by every commit, so a lone callback is settled at once. Rows a crash left
unsettled are found by the reconciler's sweep of stranded callbacks (`Intake.apply_stranded`).

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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from tortoise import connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from models import CallbackStatus, DarajaCallback, Payment, PaymentStatus
from services.clock import Clock
from services.daraja import MalformedCallback, StkCallback, parse_callback
from services.payments._sql import for_update, numbered
from services.payments.settlement import Settler, from_callback
from services.worker import Failure, Worker, isolated

if TYPE_CHECKING:
    from services.payments.requests import PaymentService

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
STRANDED_AFTER = timedelta(seconds=30)  # a callback stored this long ago and never applied
STRANDED_BATCH = 100
# An unknown payment is matched to a callback by phone and amount only if asked this recently.
MATCH_UNKNOWN_WITHIN = timedelta(hours=1)


@dataclass(frozen=True)
class _Received:
    body: str
    remote_ip: str | None
    parsed: StkCallback | None  # None: malformed, kept for a person to read


class CallbackService(Worker):
    """Stores what Safaricom posts (the web view waits for this), then settles it."""

    name = "callback settler"

    def __init__(self, payments: PaymentService, clock: Clock) -> None:
        super().__init__(idle_seconds=3600.0, max_pause=RETRY_CAP)
        self.intake = payments.intake
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
            functools.partial(self.intake.apply, ids, parsed=parsed),
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


class Intake:
    """Claims stored callbacks and hands each to the settlement of its payment."""

    def __init__(self, settler: Settler) -> None:
        self.settler = settler
        self.clock = settler.clock

    async def apply(
        self,
        ids: Sequence[int],
        *,
        skip_locked: bool = True,
        parsed: Mapping[int, StkCallback] | None = None,
    ) -> dict[int, CallbackStatus]:
        """Apply stored callbacks (by row id) in one transaction; returns each one's outcome.

        Each row is claimed first: only rows still received or unmatched are taken, and on
        PostgreSQL a row another instance holds is skipped (`skip_locked`, for workers and the
        sweep) or waited for. Payments are locked in id order, so two instances settling
        overlapping batches wait for each other instead of deadlocking. `parsed` holds the
        bodies already parsed on arrival."""
        now = self.clock.now()
        outcomes: dict[int, CallbackStatus] = {}
        async with in_transaction() as conn:
            claimed = await self._claim(conn, ids, skip_locked, parsed or {})
            if not claimed:
                return outcomes
            checkouts = sorted({p.checkout_request_id for _, p in claimed})
            found = (
                await Payment.filter(checkout_request_id__in=checkouts)
                .order_by("id")
                .select_for_update()
                .using_db(conn)
            )
            by_checkout = {p.checkout_request_id: p for p in found}
            batch = self.settler.batch(conn)
            await batch.know_receipts([p.receipt for _, p in claimed if p.receipt])
            await batch.load_people(found)
            changes: list[list[Any]] = []
            for row_id, callback in claimed:
                payment = by_checkout.get(callback.checkout_request_id)
                if payment is None:
                    payment = await self._unknown_push_for(conn, callback)
                    if payment is not None:
                        by_checkout[callback.checkout_request_id] = payment
                        await batch.load_people([payment])
                if payment is None:
                    outcomes[row_id] = CallbackStatus.UNMATCHED
                    changes.append([CallbackStatus.UNMATCHED.value, None, None, row_id])
                    log.info("callback %s unmatched: %s", row_id, callback.checkout_request_id)
                    continue
                settlement = batch.receipt_unused(payment, from_callback(payment, callback))
                source = f"callback {row_id}"
                if await batch.settle(payment, settlement, source=source) or (
                    await batch.fill_in(payment, settlement, source=source)
                ):
                    status = (
                        CallbackStatus.FLAGGED if settlement.flag_reason else CallbackStatus.APPLIED
                    )
                    changes.append([status.value, payment.id, now, row_id])
                else:
                    status = CallbackStatus.DUPLICATE
                    changes.append([status.value, payment.id, None, row_id])
                    log.info("callback %s for payment %s: %s", row_id, payment.id, status.value)
                outcomes[row_id] = status
            await batch.write()
            await conn.execute_many(
                numbered(
                    conn,
                    "UPDATE daraja_callback SET status = ?, payment_id = ?, applied_at = ?"
                    " WHERE id = ?",
                ),
                changes,
            )
        self.settler.committed()
        return outcomes

    async def _claim(
        self,
        conn: BaseDBAsyncClient,
        ids: Sequence[int],
        skip_locked: bool,
        known: Mapping[int, StkCallback],
    ) -> list[tuple[int, StkCallback]]:
        marks = ", ".join("?" for _ in ids)
        claim = (
            f"SELECT id, body FROM daraja_callback WHERE id IN ({marks})"
            f" AND status IN ('{CallbackStatus.RECEIVED.value}',"
            f" '{CallbackStatus.UNMATCHED.value}')"
            " AND checkout_request_id IS NOT NULL ORDER BY id"
        ) + for_update(conn, skip_locked=skip_locked)
        claimed: list[tuple[int, StkCallback]] = []
        for row in await conn.execute_query_dict(numbered(conn, claim), list(ids)):
            try:
                claimed.append(
                    (row["id"], known.get(row["id"]) or parse_callback(row["body"].encode()))
                )
            except MalformedCallback:
                continue  # stored with an id, so it parsed once: never credit a guess
        return claimed

    async def _unknown_push_for(
        self, conn: BaseDBAsyncClient, parsed: StkCallback
    ) -> Payment | None:
        """A success for a push whose response never reached us: the one unknown payment
        with that phone and amount, asked for recently, gets this CheckoutRequestID."""
        if not parsed.succeeded or parsed.phone is None or parsed.amount is None:
            return None
        # While a push to this phone is in flight its own callback may be this one (Daraja
        # can call back before it answers the push): guessing now could credit the wrong
        # payment. The callback waits, unmatched, and that push applies it once answered.
        in_flight = Payment.filter(phone=parsed.phone, status=PaymentStatus.INITIATED)
        if await in_flight.using_db(conn).exists():
            return None
        candidates = (
            await Payment.filter(
                status=PaymentStatus.UNKNOWN,
                checkout_request_id__isnull=True,
                phone=parsed.phone,
                amount=parsed.amount,
                created_at__gte=self.clock.now() - MATCH_UNKNOWN_WITHIN,
            )
            .select_for_update()
            .using_db(conn)
        )
        if len(candidates) != 1:
            return None
        payment = candidates[0]
        # Only the latest request to that phone: a later one (a resend, or the number now
        # someone else's) may be what was paid.
        later = await Payment.filter(phone=parsed.phone, id__gt=payment.id).using_db(conn).exists()
        if later:
            return None
        await (
            Payment.filter(id=payment.id)
            .using_db(conn)
            .update(
                checkout_request_id=parsed.checkout_request_id,
                merchant_request_id=parsed.merchant_request_id,
                updated_at=self.clock.now(),
            )
        )
        payment.checkout_request_id = parsed.checkout_request_id
        log.info(
            "payment %s matched to %s by phone and amount", payment.id, parsed.checkout_request_id
        )
        return payment

    async def apply_waiting(self, checkout_request_id: str) -> None:
        """A callback that beat its push's response was stored unmatched: apply it now."""
        waiting = await DarajaCallback.filter(
            checkout_request_id=checkout_request_id,
            status__in=[CallbackStatus.RECEIVED, CallbackStatus.UNMATCHED],
        ).values_list("id", flat=True)
        if waiting:
            # Waits for a worker that holds the row (it may be marking it unmatched just now).
            await self.apply(list(waiting), skip_locked=False)  # type: ignore[arg-type]

    async def retry_unmatched(self) -> None:
        """A success callback that came while a push to its phone was in flight waited,
        unmatched (it might be that push's own). With the push given up as unknown, it may
        now match by phone and amount; without this it would wait forever, the manager would
        see 'not known', and a Resend would make the payer pay twice."""
        since = self.clock.now() - MATCH_UNKNOWN_WITHIN
        waiting = await DarajaCallback.filter(
            status=CallbackStatus.UNMATCHED, received_at__gte=since
        ).values_list("id", flat=True)
        if waiting:
            await self.apply(list(waiting), skip_locked=False)  # type: ignore[arg-type]

    async def apply_stranded(self, older_than: timedelta = STRANDED_AFTER) -> int:
        """Callbacks stored but never applied (the process died before its worker got to
        them): apply them now. A row another instance is applying is skipped, not doubled."""
        cutoff = self.clock.now() - older_than
        # Malformed bodies are stored without a CheckoutRequestID: kept for a person to read,
        # never re-parsed here round after round.
        stranded = (
            await DarajaCallback.filter(
                status=CallbackStatus.RECEIVED,
                received_at__lte=cutoff,
                checkout_request_id__isnull=False,
            )
            .order_by("id")
            .values_list("id", flat=True)
        )
        ids: list[int] = list(stranded)  # type: ignore[arg-type]
        for start in range(0, len(ids), STRANDED_BATCH):
            batch = ids[start : start + STRANDED_BATCH]
            outcomes = await isolated(
                f"stranded callbacks {batch[0]}-{batch[-1]}", functools.partial(self.apply, batch)
            )
            if isinstance(outcomes, Failure):  # one bad row: the others are applied alone
                outcomes = {}
                for i in batch:
                    one = await isolated(
                        f"stranded callback {i}", functools.partial(self.apply, [i])
                    )
                    if not isinstance(one, Failure):
                        outcomes.update(one)
            for row_id, status in outcomes.items():
                log.warning("stranded callback %s applied late: %s", row_id, status.value)
        return len(ids)
