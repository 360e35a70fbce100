"""What can go wrong talking to Daraja, and what each failure means for the payer.

DarajaError
├── DarajaConfigError (ValueError)   our settings or arguments cannot work; nothing sent
├── DarajaUnavailable                not reached; nothing sent, safe to resend
├── DarajaUnknownOutcome             it may have reached Daraja; for a push: do not resend
│   └── DarajaDuplicateRequest       500.002.1001: this OriginatorConversationID was sent before
├── DarajaProtocolError              an answer outside Daraja's documented contract
├── DarajaRejected                   Daraja refused the request (an error body)
│   └── DarajaAuthError              refused our credentials, or our token twice
└── MalformedCallback (ValueError)   a callback or result body we cannot read
"""

from __future__ import annotations

from services.daraja._reasons import rejection_reason


class DarajaError(Exception):
    """Anything that went wrong talking to Daraja."""


class DarajaConfigError(DarajaError, ValueError):
    """Our own settings or arguments cannot work (found before any request is sent)."""


class DarajaUnavailable(DarajaError):
    """Daraja could not be reached and nothing was sent: safe to resend."""


class DarajaUnknownOutcome(DarajaError):
    """The request may have reached Daraja but we have no answer.

    For a push: a prompt may be on the payer's phone. Mark the payment unknown
    and reconcile (callback or query); do not resend.
    """


class DarajaDuplicateRequest(DarajaUnknownOutcome):
    """Daraja has seen this OriginatorConversationID before (500.002.1001).

    The first attempt reached Daraja: its outcome is settled by Transaction
    Status, never by sending again with a new id.
    """


class DarajaProtocolError(DarajaError):
    """Daraja answered with something that is not in its documented contract."""


class DarajaRejected(DarajaError):
    """Daraja refused the request (an error body); nothing happened on the payer's phone."""

    def __init__(
        self, *, http_status: int, error_code: str, error_message: str, request_id: str
    ) -> None:
        self.http_status = http_status
        self.error_code = error_code
        self.error_message = error_message
        self.request_id = request_id
        self.human_reason = rejection_reason(error_code, error_message)
        super().__init__(f"{error_code} {error_message} (requestId {request_id or '-'})")


class DarajaAuthError(DarajaRejected):
    """Daraja refused our credentials or our token even after a fresh one."""


class MalformedCallback(DarajaError, ValueError):
    """A callback or result body we cannot read; `reason` says what is wrong."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)
