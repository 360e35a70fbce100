"""Outbound webhooks (SPEC §12): signed JSON POSTs of what happened, to the addresses
managers add with /webhooks, retried for 3 days.

    _addresses.py   public https addresses only, checked when added and before each POST
    _signing.py     Callsheet-Signature: t=<unix>,v1=<HMAC-SHA256 of "t.body">
    _emit.py        events written in the transaction of the change, with their payloads
    _claims.py      deliveries claimed with a lease, so two senders never send one at once
    _sender.py      the background loop: POST, record the attempt, retry, disable
    _service.py     what /webhooks does
"""

from services.webhooks._addresses import Target, refusal, resolve
from services.webhooks._emit import (
    assignment_data,
    emit,
    event_data,
    payment_data,
    payout_data,
    refund_data,
)
from services.webhooks._errors import (
    AddressRefused,
    InvalidWebhook,
    WebhookError,
    WebhookNotFound,
)
from services.webhooks._sender import GIVE_UP, WebhookSender, body_of, build_http, next_try
from services.webhooks._service import Added, EndpointLog, WebhookService, valid_events
from services.webhooks._signing import HEADER, TOLERANCE, new_secret, signature

__all__ = [
    "GIVE_UP",
    "HEADER",
    "TOLERANCE",
    "Added",
    "AddressRefused",
    "EndpointLog",
    "InvalidWebhook",
    "Target",
    "WebhookError",
    "WebhookNotFound",
    "WebhookSender",
    "WebhookService",
    "assignment_data",
    "body_of",
    "build_http",
    "emit",
    "event_data",
    "new_secret",
    "next_try",
    "payment_data",
    "payout_data",
    "refund_data",
    "refusal",
    "resolve",
    "signature",
    "valid_events",
]
