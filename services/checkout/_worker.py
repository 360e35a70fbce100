"""The checkout's background loop: due-date prompts, missed-instalment alerts, and invoices
found paid in full."""

from __future__ import annotations

from services.checkout._service import CheckoutService
from services.worker import Worker


class CheckoutWorker(Worker):
    name = "checkout"

    def __init__(self, checkout: CheckoutService, *, idle_seconds: float = 60.0) -> None:
        super().__init__(idle_seconds=idle_seconds)
        self.checkout = checkout

    async def round(self) -> int:
        """Only idles when nothing was due; each instalment is claimed before it is acted on."""
        return (
            await self.checkout.push_due()
            + await self.checkout.alert_missed()
            + await self.checkout.close_paid_invoices()
        )

    def stop(self) -> None:
        super().stop()
        self.checkout.close()  # the pages' event streams end before the server waits for them
