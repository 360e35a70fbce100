"""What /webhooks refuses, on the branches of services/errors.py."""

from __future__ import annotations

from services.errors import CallsheetError, InvalidInput, NotFound


class WebhookError(CallsheetError):
    """Anything /webhooks refuses."""


class WebhookNotFound(WebhookError, NotFound):
    pass


class InvalidWebhook(WebhookError, InvalidInput):
    """A command, URL or event list that cannot be used as typed."""


class AddressRefused(InvalidWebhook):
    """Not a public https address: refused when added, and before each delivery."""
