"""The payer's answer to a prompt, and the one callback Daraja POSTs about it."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from typing import Any

import aiohttp

from sandbox.daraja._state import NAIROBI, Checkout, DeliveredCallback, Outcome, SandboxState

logger = logging.getLogger(__name__)

RESULTS: dict[Outcome, tuple[int, str]] = {
    Outcome.CANCELLED: (1032, "Request cancelled by user"),
    Outcome.UNREACHABLE: (1037, "DS timeout user cannot be reached"),
    Outcome.WRONG_PIN: (2001, "The initiator information is invalid."),
    Outcome.INSUFFICIENT: (1, "The balance is insufficient for the transaction."),
    Outcome.EXPIRED: (1019, "Transaction has expired"),
}
SUCCESS = (0, "The service request is processed successfully.")


class CallbackSender:
    def __init__(self, state: SandboxState) -> None:
        self._state = state

    def spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            await coro

        task = asyncio.get_running_loop().create_task(run())
        self._state.tasks.add(task)
        task.add_done_callback(self._state.tasks.discard)

    async def later(
        self, checkout: Checkout, outcome: Outcome, forced: tuple[int, str] | None
    ) -> None:
        """The payer reads the prompt, then answers (or a HOLD waits for its release)."""
        state = self._state
        await asyncio.sleep(state.callback_delay)  # the payer reading the prompt
        if forced is not None:
            await self.finish(checkout, Outcome.SUCCESS, forced)
            return
        if outcome is Outcome.HOLD:
            await state.held[checkout.checkout_id].wait()
            if state.stopping.is_set():
                return
            outcome = state.held_outcome.pop(checkout.checkout_id, Outcome.SUCCESS)
        await self.finish(checkout, outcome, None)

    async def finish(
        self, checkout: Checkout, outcome: Outcome, forced: tuple[int, str] | None
    ) -> None:
        state = self._state
        result = forced or RESULTS.get(outcome, SUCCESS)
        async with state.changed:
            checkout.result = result
            state.changed.notify_all()
        body = self._callback_body(checkout, outcome, result)
        if result[0] == 0:
            state.paid.append((state.clock(), checkout.phone, checkout.amount))
            state.utility_balance += checkout.amount  # a paybill's takings land in Utility
        if outcome is Outcome.NO_CALLBACK:
            return
        if outcome is Outcome.DUPLICATE_CONCURRENT:
            await asyncio.gather(self._deliver(checkout, body), self._deliver(checkout, body))
            return
        await self._deliver(checkout, body)
        if outcome is Outcome.DUPLICATE:
            await self._deliver(checkout, body)

    def _callback_body(
        self, checkout: Checkout, outcome: Outcome, result: tuple[int, str]
    ) -> dict[str, Any]:
        callback: dict[str, Any] = {
            "MerchantRequestID": checkout.merchant_id,
            "CheckoutRequestID": checkout.checkout_id,
            "ResultCode": result[0],
            "ResultDesc": result[1],
        }
        if result[0] == 0:
            amount = checkout.amount
            if outcome is Outcome.AMOUNT_MISMATCH:
                amount = amount - 1 if amount > 1 else amount + 1
            now = self._state.clock().astimezone(NAIROBI)
            checkout.receipt = self.new_receipt()
            callback["CallbackMetadata"] = {
                "Item": [
                    {"Name": "Amount", "Value": float(amount)},
                    {"Name": "MpesaReceiptNumber", "Value": checkout.receipt},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": int(now.strftime("%Y%m%d%H%M%S"))},
                    {"Name": "PhoneNumber", "Value": int(checkout.phone)},
                ]
            }
        return {"Body": {"stkCallback": callback}}

    def new_receipt(self) -> str:
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        while True:
            receipt = "QJK" + "".join(secrets.choice(alphabet) for _ in range(7))
            if receipt not in self._state.receipts:
                self._state.receipts.add(receipt)
                return receipt

    async def _deliver(self, checkout: Checkout, body: dict[str, Any]) -> None:
        # One attempt only: Daraja does not retry reliably.
        state = self._state
        assert state.session is not None
        status: int | None = None
        error: str | None = None
        try:
            async with state.session.post(checkout.callback_url, json=body) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        logger.info("sandbox callback %s -> %s", checkout.checkout_id, status or error)
        async with state.changed:
            state.callbacks_delivered.append(
                DeliveredCallback(checkout.checkout_id, checkout.callback_url, body, status, error)
            )
            state.changed.notify_all()
