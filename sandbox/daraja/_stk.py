"""The STK push and STK query endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from typing import Any

from aiohttp import web

from sandbox.daraja._callbacks import CallbackSender
from sandbox.daraja._checks import (
    Refusal,
    check_credentials,
    check_push_fields,
    check_token,
    json_body,
)
from sandbox.daraja._state import NAIROBI, Checkout, Fault, Outcome, ReceivedPush, SandboxState

_RULE_LIMITED = (17, "Rule limited.")
_DAILY_LIMIT = (4, "Declined due to limit rule: would exceed daily transfer limit.")
PAYER_DAILY = 500_000  # KES a customer may pay in a day (Nairobi's), all payments together
_WRONG_PARTY = (2028, "The request is not permitted according to product assignment.")


class StkEndpoints:
    def __init__(self, state: SandboxState, callbacks: CallbackSender) -> None:
        self._state = state
        self._callbacks = callbacks

    async def push(self, request: web.Request) -> web.Response:
        """POST /mpesa/stkpush/v1/processrequest"""
        state = self._state
        record = ReceivedPush(
            body=None,
            content_type=request.content_type,
            authorization=request.headers.get("Authorization", ""),
        )
        state.pushes.append(record)
        try:
            check_token(state, request)
            record.body = body = await json_body(request)
            checkout = self._accept(body)
        except Refusal as refusal:
            record.error_code = refusal.code
            raise
        record.checkout_id = checkout.checkout_id
        state.stats.pushes_accepted += 1
        outcome = self._choose_outcome(checkout.phone)
        transaction = body["TransactionType"]
        party_b = str(body["PartyB"])
        forced: tuple[int, str] | None = None
        if transaction != state.account_type or party_b != state.receiving_party():
            forced = _WRONG_PARTY
        elif self._paid_recently(checkout.phone, checkout.amount):
            forced = _RULE_LIMITED
        elif self._paid_today(checkout.phone) + checkout.amount > PAYER_DAILY:
            forced = _DAILY_LIMIT
        if outcome is Outcome.HOLD:
            state.held[checkout.checkout_id] = asyncio.Event()
        if outcome is Outcome.BEFORE_RESPONSE and forced is None:
            await self._callbacks.finish(checkout, Outcome.SUCCESS, None)
        else:
            self._callbacks.spawn(self._callbacks.later(checkout, outcome, forced))
        async with state.changed:
            state.changed.notify_all()  # for wait_for_pushes
        held = state.hold_answers_after is not None and (
            state.stats.pushes_accepted > state.hold_answers_after
        )
        if held:
            await state.stopping.wait()
        elif state.fault is Fault.SLOW:
            # The push was taken (a prompt is on the phone); only the answer is late.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.stopping.wait(), state.slow_seconds)
        return web.json_response(
            {
                "MerchantRequestID": checkout.merchant_id,
                "CheckoutRequestID": checkout.checkout_id,
                "ResponseCode": "0",
                "ResponseDescription": "Success. Request accepted for processing",
                "CustomerMessage": "Success. Request accepted for processing",
            }
        )

    async def query(self, request: web.Request) -> web.Response:
        """POST /mpesa/stkpushquery/v1/query"""
        state = self._state
        check_token(state, request)
        body = await json_body(request)
        check_credentials(state, body)
        state.stats.queries += 1
        checkout = state.checkouts.get(str(body.get("CheckoutRequestID", "")))
        if checkout is None:
            raise Refusal(500, "500.001.1001", "The transaction does not Exist")
        if checkout.result is None:
            raise Refusal(500, "500.001.1001", "The transaction is being processed")
        return web.json_response(
            {
                "ResponseCode": "0",
                "ResponseDescription": "The service request has been accepted successfully",
                "MerchantRequestID": checkout.merchant_id,
                "CheckoutRequestID": checkout.checkout_id,
                "ResultCode": str(checkout.result[0]),
                "ResultDesc": checkout.result[1],
            }
        )

    def _accept(self, body: dict[str, Any]) -> Checkout:
        state = self._state
        check_push_fields(body)
        check_credentials(state, body)
        if state.fault is Fault.BUSY or self._spiking():
            raise Refusal(500, "500.003.02", "Spike arrest violation")
        phone = body["PhoneNumber"]
        if any(c.phone == phone and c.result is None for c in state.checkouts.values()):
            raise Refusal(
                500,
                "500.001.1001",
                "Unable to lock subscriber, a transaction is already in process for the "
                "current subscriber",
            )
        now = state.clock().astimezone(NAIROBI)
        serial = len(state.checkouts) + 1
        checkout = Checkout(
            checkout_id=(
                state.next_checkout_ids.popleft()
                if state.next_checkout_ids
                else f"ws_CO_{now:%d%m%Y%H%M%S}{serial:03d}{phone[-9:]}"
            ),
            merchant_id=f"{secrets.token_hex(2)}-{secrets.token_hex(2)}-{serial}",
            phone=phone,
            amount=int(body["Amount"]),
            callback_url=body["CallBackURL"],
        )
        state.checkouts[checkout.checkout_id] = checkout
        return checkout

    def _spiking(self) -> bool:
        state = self._state
        if state.spike_limit is None:
            return False
        now = time.monotonic()
        while state.push_times and now - state.push_times[0] > 1.0:
            state.push_times.popleft()
        state.push_times.append(now)
        return len(state.push_times) > state.spike_limit

    def _paid_recently(self, phone: str, amount: int) -> bool:
        """Safaricom's rule 17, by the sandbox's clock: a test (or the demo) that moves it a
        month on may ask the same phone for the same amount again."""
        now = self._state.clock()
        return any(
            p == phone and a == amount and (now - t).total_seconds() < 120
            for t, p, a in self._state.paid
        )

    def _paid_today(self, phone: str) -> int:
        """What this phone paid today, the sandbox's clock in Nairobi (M-Pesa's daily limit)."""
        today = self._state.clock().astimezone(NAIROBI).date()
        return sum(
            a
            for t, p, a in self._state.paid
            if p == phone and t.astimezone(NAIROBI).date() == today
        )

    def _choose_outcome(self, phone: str) -> Outcome:
        state = self._state
        for key in (phone, None):
            if state.queued[key]:
                return state.queued[key].popleft()
        return state.sticky.get(phone, state.default_outcome)
