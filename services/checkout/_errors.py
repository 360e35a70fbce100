"""What the checkout refuses; the web layer maps each branch to its HTTP status."""

from __future__ import annotations

from services.errors import CallsheetError, Conflict, InvalidInput, NotFound


class CheckoutError(CallsheetError):
    pass


class BadDeposit(CheckoutError, InvalidInput):
    """A /deposit field that cannot be used as typed."""


class LinkNotValid(CheckoutError, NotFound):
    """No deposit has this token (404), or its link has expired (`expired`: 410)."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("This link has expired or is not valid.")
        self.expired = expired


class TooMany(CheckoutError, Conflict):
    """Too many prompts or requests for one link or one address: 429."""


class NothingToPay(CheckoutError, Conflict):
    """Everything is paid already."""


class CheckoutOff(CheckoutError, Conflict):
    """M-Pesa is not set up, so no link can be made."""


class LinkChanged(CheckoutError, Conflict):
    """Another /paylink replaced the link this one was replacing."""
