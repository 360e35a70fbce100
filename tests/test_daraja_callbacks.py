"""Parsing STK callback bodies: the documented one, odd amounts, malformed and random bodies."""

import contextlib
import json
import re
from datetime import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.daraja import NAIROBI, MalformedCallback, parse_callback, result_reason

DOC_SUCCESS = {
    "Body": {
        "stkCallback": {
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": "ws_CO_191220191020363925",
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {
                "Item": [
                    {"Name": "Amount", "Value": 1.00},
                    {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": 20191219102115},
                    {"Name": "PhoneNumber", "Value": 254708374149},
                ]
            },
        }
    }
}


def with_amount(value: object) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(json.dumps(DOC_SUCCESS))
    body["Body"]["stkCallback"]["CallbackMetadata"]["Item"][0]["Value"] = value
    return body


def test_documented_success_callback() -> None:
    callback = parse_callback(json.dumps(DOC_SUCCESS).encode())
    assert callback.amount == 1
    assert callback.receipt == "NLJ7RT61SV"
    assert callback.transaction_date == datetime(2019, 12, 19, 10, 21, 15, tzinfo=NAIROBI)
    assert callback.phone == "+254708374149"


@pytest.mark.parametrize("value", [1, 1.0, "1", "1.00"])
def test_amount_may_be_int_float_or_string(value: object) -> None:
    assert parse_callback(with_amount(value)).amount == 1


@pytest.mark.parametrize("value", [1.5, "1.5", "abc", None, True, -3])
def test_unusable_amount_is_flagged_not_guessed(value: object) -> None:
    callback = parse_callback(with_amount(value))
    assert callback.amount is None
    if value is not None:
        assert any("Amount" in problem for problem in callback.problems)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "body is not JSON"),
        (b"[]", "Body is missing"),
        ({"Body": {}}, "Body.stkCallback is missing"),
        ({"Body": {"stkCallback": []}}, "Body.stkCallback is not an object"),
        (
            {"Body": {"stkCallback": {"MerchantRequestID": "m", "ResultCode": 0}}},
            "CheckoutRequestID is missing",
        ),
        (
            {
                "Body": {
                    "stkCallback": {
                        "MerchantRequestID": "m",
                        "CheckoutRequestID": "c",
                        "ResultCode": "x",
                    }
                }
            },
            "ResultCode 'x' is not a number",
        ),
    ],
)
def test_malformed_callbacks_say_why(body: object, reason: str) -> None:
    with pytest.raises(MalformedCallback, match=re.escape(reason)):
        parse_callback(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)
stk_like = st.fixed_dictionaries(
    {
        "Body": st.fixed_dictionaries(
            {
                "stkCallback": st.fixed_dictionaries(
                    {
                        "MerchantRequestID": json_values,
                        "CheckoutRequestID": st.text(max_size=5) | json_values,
                        "ResultCode": st.integers() | json_values,
                        "ResultDesc": st.text(max_size=5) | json_values,
                        "CallbackMetadata": st.fixed_dictionaries(
                            {
                                "Item": st.lists(
                                    st.fixed_dictionaries(
                                        {
                                            "Name": st.sampled_from(
                                                [
                                                    "Amount",
                                                    "MpesaReceiptNumber",
                                                    "TransactionDate",
                                                    "PhoneNumber",
                                                    "Balance",
                                                ]
                                            ),
                                            "Value": json_values,
                                        }
                                    ),
                                    max_size=6,
                                )
                            }
                        )
                        | json_values,
                    }
                )
            }
        )
    }
)


@given(json_values | stk_like)
def test_any_json_parses_or_raises_malformed_callback(body: object) -> None:
    with contextlib.suppress(MalformedCallback):
        parse_callback(json.dumps(body).encode())
    with contextlib.suppress(MalformedCallback):
        parse_callback(body)


@given(st.binary(max_size=64))
def test_any_bytes_parse_or_raise_malformed_callback(body: bytes) -> None:
    with contextlib.suppress(MalformedCallback):
        parse_callback(body)


def test_every_documented_result_code_has_a_reason() -> None:
    for code in (0, 1, 2, 3, 4, 8, 17, 26, 1001, 1019, 1025, 1032, 1037, 2001, 2028, 8006, 9999):
        assert not result_reason(code).startswith("M-Pesa reported result")
    assert result_reason(17) == (
        "same amount to the same phone within 2 minutes; wait 2 minutes before resending"
    )
    assert result_reason(4242, "Odd") == "M-Pesa reported result 4242: Odd"
