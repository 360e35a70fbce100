"""A local stand-in for Safaricom Daraja (OAuth, STK push, STK query, callbacks).

It refuses what Daraja refuses, with Daraja's error bodies, and lets a test or
the demo choose what the payer does. Imports nothing of Callsheet's.

    _state.py       settings, records, open prompts (SandboxState) and the public types
    _checks.py      what it refuses: error bodies, OAuth and the token, fields, password
    _stk.py         the STK push and query endpoints
    _callbacks.py   the payer's answer and the callback it POSTs
    _operator*.py   B2C, Transaction Status, Account Balance, Reversal: checks, results
    _security.py    its own RSA key and certificate (`sandbox.certificate.write(path)` for
                    DARAJA_CERTIFICATE); a SecurityCredential must decrypt with it
    _sandbox.py     DarajaSandbox: the server and the hooks tests and the demo drive it with
"""

from sandbox.daraja._checks import REJECTED_CALLBACK_WORDS
from sandbox.daraja._operator_state import (
    PAYOUT_RESULTS,
    SANDBOX_B2C_SHORTCODE,
    SANDBOX_INITIATOR,
    SANDBOX_INITIATOR_PASSWORD,
    DeliveredResult,
    Delivery,
    Payout,
)
from sandbox.daraja._sandbox import DarajaSandbox
from sandbox.daraja._security import SandboxCertificate
from sandbox.daraja._state import (
    BUY_GOODS,
    PAYBILL,
    SANDBOX_PASSKEY,
    SANDBOX_SHORTCODE,
    DeliveredCallback,
    Fault,
    Outcome,
    ReceivedPush,
    SandboxStats,
)

__all__ = [
    "BUY_GOODS",
    "PAYBILL",
    "PAYOUT_RESULTS",
    "REJECTED_CALLBACK_WORDS",
    "SANDBOX_B2C_SHORTCODE",
    "SANDBOX_INITIATOR",
    "SANDBOX_INITIATOR_PASSWORD",
    "SANDBOX_PASSKEY",
    "SANDBOX_SHORTCODE",
    "DarajaSandbox",
    "DeliveredCallback",
    "DeliveredResult",
    "Delivery",
    "Fault",
    "Outcome",
    "Payout",
    "ReceivedPush",
    "SandboxCertificate",
    "SandboxStats",
]
