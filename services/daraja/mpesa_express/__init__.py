"""M-Pesa Express (Lipa na M-Pesa Online): the STK push and its query."""

from services.daraja.mpesa_express._password import nairobi_timestamp, stk_password
from services.daraja.mpesa_express.stk_push import (
    ACCOUNT_REFERENCE_MAX,
    TRANSACTION_DESC_MAX,
    fit_description,
    fit_reference,
    stk_push,
)
from services.daraja.mpesa_express.stk_query import stk_query

__all__ = [
    "ACCOUNT_REFERENCE_MAX",
    "TRANSACTION_DESC_MAX",
    "fit_description",
    "fit_reference",
    "nairobi_timestamp",
    "stk_password",
    "stk_push",
    "stk_query",
]
