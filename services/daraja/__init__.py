"""Safaricom Daraja client: OAuth token, M-Pesa Express (STK push and query), callbacks.

An STK push puts a PIN prompt on someone's phone, so it is never retried once
it may have reached Daraja; the only automatic retry is after Daraja refused
the access token (404.001.03), which it does before looking at the request.

Layout (one module per product, as mpesakit; private modules behind this
`__init__`, as httpx):

    _errors.py              the DarajaError tree (drawn in its docstring)
    _config.py              DarajaConfig, timeouts, callback URL rules
    auth.py                 the access token: fetching it, the shared TokenStore
    _audit.py               every exchange kept, redacted (_redact.py)
    _transport.py           one audited HTTP exchange
    _session.py             authorised POSTs: what every product sends through
    mpesa_express/          stk_push.py, stk_query.py
    callbacks.py            an STK callback body parsed into an StkCallback
    _results.py, _reasons.py    result types; result codes in plain English
    _client.py              DarajaClient: one method per product

Adding a product (B2C, Transaction Status, Account Balance, Reversal): a
package beside `mpesa_express/` (e.g. `b2c/payment_request.py`) with one
`async def` taking the `Session` that builds the body, calls `session.post`
and reads the reply into a result type in `_results.py`; then one method on
`DarajaClient` and its names in `__all__` below. Its asynchronous result
callback gets a parser beside `callbacks.py`.
"""

from services.daraja._audit import (
    AuditSink,
    DarajaExchange,
    DbAuditSink,
    ListAuditSink,
    exchanges_for,
)
from services.daraja._client import DarajaClient
from services.daraja._config import (
    CALLBACK_URL_REJECTED_WORDS,
    NAIROBI,
    DarajaConfig,
    DarajaTimeouts,
    TransactionType,
    callback_url_problem,
    new_callback_secret,
)
from services.daraja._errors import (
    DarajaAuthError,
    DarajaConfigError,
    DarajaError,
    DarajaProtocolError,
    DarajaRejected,
    DarajaUnavailable,
    DarajaUnknownOutcome,
    MalformedCallback,
)
from services.daraja._reasons import rejection_reason, result_reason
from services.daraja._redact import REDACTED
from services.daraja._results import (
    ID_MAX,
    QueryStatus,
    ResultKind,
    StkCallback,
    StkPushAccepted,
    StkQueryResult,
    result_kind,
)
from services.daraja.auth import (
    DARAJA_TOKEN,
    DbTokenStore,
    InMemoryTokenStore,
    TokenFetch,
    TokenStore,
)
from services.daraja.callbacks import RECEIPT, parse_callback
from services.daraja.mpesa_express import (
    ACCOUNT_REFERENCE_MAX,
    TRANSACTION_DESC_MAX,
    fit_description,
    fit_reference,
    nairobi_timestamp,
    stk_password,
)

__all__ = [
    "ACCOUNT_REFERENCE_MAX",
    "CALLBACK_URL_REJECTED_WORDS",
    "DARAJA_TOKEN",
    "ID_MAX",
    "NAIROBI",
    "RECEIPT",
    "REDACTED",
    "TRANSACTION_DESC_MAX",
    "AuditSink",
    "DarajaAuthError",
    "DarajaClient",
    "DarajaConfig",
    "DarajaConfigError",
    "DarajaError",
    "DarajaExchange",
    "DarajaProtocolError",
    "DarajaRejected",
    "DarajaTimeouts",
    "DarajaUnavailable",
    "DarajaUnknownOutcome",
    "DbAuditSink",
    "DbTokenStore",
    "InMemoryTokenStore",
    "ListAuditSink",
    "MalformedCallback",
    "QueryStatus",
    "ResultKind",
    "StkCallback",
    "StkPushAccepted",
    "StkQueryResult",
    "TokenFetch",
    "TokenStore",
    "TransactionType",
    "callback_url_problem",
    "exchanges_for",
    "fit_description",
    "fit_reference",
    "nairobi_timestamp",
    "new_callback_secret",
    "parse_callback",
    "rejection_reason",
    "result_kind",
    "result_reason",
    "stk_password",
]
