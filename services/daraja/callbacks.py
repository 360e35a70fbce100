"""The STK callback Daraja POSTs to us, parsed into an `StkCallback`.

The body is parsed only after the web layer has checked the callback secret.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from services.daraja._config import NAIROBI
from services.daraja._errors import MalformedCallback
from services.daraja._results import CONTROL, ID_MAX, StkCallback
from services.money import MAX_AMOUNT, MIN_AMOUNT
from services.phones import PhoneError, normalise_phone

_DATE = re.compile(r"[0-9]{14}")
RECEIPT = re.compile(r"[A-Z0-9]{10}")  # an M-Pesa receipt number, e.g. QJK3AB12CD


def parse_callback(body: bytes | object) -> StkCallback:
    """Turn a callback body (raw bytes or decoded JSON) into an StkCallback.

    Raises MalformedCallback for anything that is not an STK callback. Odd
    metadata (a non-whole amount, a masked phone) is parsed as None and
    explained in `problems` rather than refused: the raw body is kept and
    the payment is flagged instead of credited.
    """
    if isinstance(body, bytes | bytearray | str):
        try:
            data: object = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise MalformedCallback(f"body is not JSON ({type(exc).__name__})") from exc
    else:
        data = body
    stk = _dig(data, "Body", "stkCallback")
    checkout = _request_id(stk, "CheckoutRequestID")
    if not checkout:
        raise MalformedCallback("CheckoutRequestID is missing or not a string")
    merchant = _request_id(stk, "MerchantRequestID")
    code = _result_code(stk.get("ResultCode"))
    desc = stk.get("ResultDesc", "")
    if not isinstance(desc, str):
        raise MalformedCallback("ResultDesc is not a string")

    items = _items(stk.get("CallbackMetadata"))
    problems: list[str] = []
    amount = _amount(items, problems)
    receipt = items.get("MpesaReceiptNumber")
    if receipt is not None and not (isinstance(receipt, str) and RECEIPT.fullmatch(receipt)):
        # Kept out of every column, subject and message; the payment is flagged instead.
        problems.append(f"MpesaReceiptNumber {str(receipt)[:40]!r} is not a receipt number")
        receipt = None
    when = _transaction_date(items, problems)
    phone = _phone(items, problems)
    if code == 0:
        if amount is None and "Amount" not in items:
            problems.append("a success without an Amount")
        if receipt is None and "MpesaReceiptNumber" not in items:
            problems.append("a success without an MpesaReceiptNumber")
    return StkCallback(
        merchant_request_id=merchant,
        checkout_request_id=checkout,
        result_code=code,
        result_desc=desc,
        amount=amount,
        receipt=receipt,
        transaction_date=when,
        phone=phone,
        problems=tuple(problems),
    )


def _request_id(stk: dict[str, Any], name: str) -> str:
    """An id Daraja gave us, as we can store and look it up: a short printable string."""
    value = stk.get(name)
    if not isinstance(value, str):
        raise MalformedCallback(f"{name} is missing or not a string")
    if len(value) > ID_MAX:
        raise MalformedCallback(f"{name} is longer than {ID_MAX} characters")
    if CONTROL.search(value):
        raise MalformedCallback(f"{name} contains control characters")
    return value


def _dig(data: object, *keys: str) -> dict[str, Any]:
    path = ""
    for key in keys:
        path = f"{path}.{key}" if path else key
        if not isinstance(data, dict) or key not in data:
            raise MalformedCallback(f"{path} is missing")
        data = data[key]
    if not isinstance(data, dict):
        raise MalformedCallback(f"{path} is not an object")
    return data


def _result_code(raw: object) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().isdigit() and len(raw.strip()) < 10:
        return int(raw.strip())
    raise MalformedCallback(f"ResultCode {raw!r} is not a number")


def _items(metadata: object) -> dict[str, object]:
    """CallbackMetadata items by Name; an item without Value maps to None."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise MalformedCallback("CallbackMetadata is not an object")
    raw_items = metadata.get("Item", [])
    if not isinstance(raw_items, list):
        raise MalformedCallback("CallbackMetadata.Item is not a list")
    items: dict[str, object] = {}
    for entry in raw_items:
        if not isinstance(entry, dict) or not isinstance(entry.get("Name"), str):
            raise MalformedCallback("a CallbackMetadata item has no Name")
        items[entry["Name"]] = entry.get("Value")
    return items


def _amount(items: dict[str, object], problems: list[str]) -> int | None:
    if "Amount" not in items:
        return None
    raw = items["Amount"]
    value: Decimal | None = None
    if isinstance(raw, bool):
        value = None
    elif isinstance(raw, int | str):
        try:
            value = Decimal(str(raw).strip())
        except InvalidOperation:
            value = None
    elif isinstance(raw, float):
        value = Decimal(raw) if raw == raw and abs(raw) != float("inf") else None
    if value is None or not value.is_finite():
        problems.append(f"Amount {raw!r} is not a number")
        return None
    if value != value.to_integral_value():
        problems.append(f"Amount {raw!r} is not whole shillings")
        return None
    if not MIN_AMOUNT <= value <= MAX_AMOUNT:
        problems.append(f"Amount {raw!r} is outside 1–{MAX_AMOUNT:,}")
        return None
    return int(value)


def _transaction_date(items: dict[str, object], problems: list[str]) -> datetime | None:
    raw = items.get("TransactionDate")
    if raw is None:
        return None
    text = str(raw) if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
    if not _DATE.fullmatch(text):
        problems.append(f"TransactionDate {raw!r} is not YYYYMMDDHHmmss")
        return None
    try:
        local = datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        problems.append(f"TransactionDate {raw!r} is not a date")
        return None
    return local.replace(tzinfo=NAIROBI)


def _phone(items: dict[str, object], problems: list[str]) -> str | None:
    raw = items.get("PhoneNumber")
    if raw is None:
        return None
    if isinstance(raw, int | str) and not isinstance(raw, bool):
        try:
            return normalise_phone(str(raw))
        except PhoneError:
            pass
    problems.append(f"PhoneNumber {raw!r} is not a usable phone number")
    return None
