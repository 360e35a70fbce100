"""Safaricom Daraja client: OAuth token, M-Pesa Express (STK push and query), callbacks,
and the operator APIs: B2C payouts, Transaction Status, Account Balance, Reversal.

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
    security.py             the SecurityCredential and the API operator (Initiator)
    _initiated.py           what the operator APIs share: "accepted", unknown outcomes
    b2c/                    payment_request.py: pay a person
    transaction_status/     query.py: the outcome of any transaction
    account_balance/        query.py: the shortcode's balances
    reversal/               request.py: give back a received payment in full
    callbacks.py            an STK callback body parsed into an StkCallback
    results.py              operator result / QueueTimeOut posts parsed into types
    urls.py                 where those results are posted (PUBLIC_BASE_URL/daraja/…/<secret>)
    _results.py, _reasons.py    result types; result codes in plain English
    _client.py              DarajaClient: one method per product

The operator APIs only answer "accepted" (RequestAccepted); the outcome comes
later to the ResultURL: `parse_result(body, Product.B2C)` gives a typed result
whose `verdict` is SUCCESS, LINE_FAILED, STOP_RUN (2001, 8006, 21, 1: every
further payout fails too) or UNKNOWN, and whose `reason` tells the manager what
to do. A B2C payout whose outcome is unknown (DarajaUnknownOutcome, including
DarajaDuplicateRequest for 500.002.1001; a QueueTimeout; a result that never
came) is settled by Transaction Status, never by paying again with a new id.

Adding a product: a package beside `mpesa_express/` with one `async def`
taking the `Session`, one method on `DarajaClient`, its names in `__all__`.
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
    DarajaDuplicateRequest,
    DarajaError,
    DarajaProtocolError,
    DarajaRejected,
    DarajaUnavailable,
    DarajaUnknownOutcome,
    MalformedCallback,
)
from services.daraja._initiated import REMARKS_MAX, REMARKS_MIN, RequestAccepted, fit_remarks
from services.daraja._reasons import payout_reason, rejection_reason, result_reason
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
from services.daraja.b2c import B2C_MAX_AMOUNT, B2C_MIN_AMOUNT, B2CCommand
from services.daraja.callbacks import RECEIPT, parse_callback
from services.daraja.mpesa_express import (
    ACCOUNT_REFERENCE_MAX,
    TRANSACTION_DESC_MAX,
    fit_description,
    fit_reference,
    nairobi_timestamp,
    stk_password,
)
from services.daraja.results import (
    STOP_RUN_CODES,
    AccountBalanceResult,
    AccountLine,
    AnyResult,
    B2CResult,
    OperatorResult,
    Product,
    QueueTimeout,
    ReversalResult,
    TransactionState,
    TransactionStatusResult,
    Verdict,
    parse_queue_timeout,
    parse_result,
    verdict,
)
from services.daraja.security import Initiator, load_certificate, security_credential
from services.daraja.urls import result_path, result_url, timeout_path, timeout_url

__all__ = [
    "ACCOUNT_REFERENCE_MAX",
    "B2C_MAX_AMOUNT",
    "B2C_MIN_AMOUNT",
    "CALLBACK_URL_REJECTED_WORDS",
    "DARAJA_TOKEN",
    "ID_MAX",
    "NAIROBI",
    "RECEIPT",
    "REDACTED",
    "REMARKS_MAX",
    "REMARKS_MIN",
    "STOP_RUN_CODES",
    "TRANSACTION_DESC_MAX",
    "AccountBalanceResult",
    "AccountLine",
    "AnyResult",
    "AuditSink",
    "B2CCommand",
    "B2CResult",
    "DarajaAuthError",
    "DarajaClient",
    "DarajaConfig",
    "DarajaConfigError",
    "DarajaDuplicateRequest",
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
    "Initiator",
    "ListAuditSink",
    "MalformedCallback",
    "OperatorResult",
    "Product",
    "QueryStatus",
    "QueueTimeout",
    "RequestAccepted",
    "ResultKind",
    "ReversalResult",
    "StkCallback",
    "StkPushAccepted",
    "StkQueryResult",
    "TokenFetch",
    "TokenStore",
    "TransactionState",
    "TransactionStatusResult",
    "TransactionType",
    "Verdict",
    "callback_url_problem",
    "exchanges_for",
    "fit_description",
    "fit_reference",
    "fit_remarks",
    "load_certificate",
    "nairobi_timestamp",
    "new_callback_secret",
    "parse_callback",
    "parse_queue_timeout",
    "parse_result",
    "payout_reason",
    "rejection_reason",
    "result_kind",
    "result_path",
    "result_reason",
    "result_url",
    "security_credential",
    "stk_password",
    "timeout_path",
    "timeout_url",
    "verdict",
]
