"""Kenyan mobile numbers (placeholder until the Daraja branch lands its fuller version)."""

from __future__ import annotations

import re

import phonenumbers

from services.errors import CallsheetError


class PhoneError(CallsheetError):
    pass


class InvalidPhone(PhoneError):
    pass


def normalise_phone(text: str) -> str:
    raw = re.sub(r"[\s\-()]", "", text or "")
    if re.fullmatch(r"[71]\d{8}", raw):
        raw = "0" + raw
    elif re.fullmatch(r"254[71]\d{8}", raw):
        raw = "+" + raw
    try:
        number = phonenumbers.parse(raw, "KE")
    except phonenumbers.NumberParseException:
        number = None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if number else ""
    if not re.fullmatch(r"\+254[71]\d{8}", e164):
        shown = text.strip()[:40]
        raise InvalidPhone(
            f"“{shown}” is not a Kenyan mobile number. "
            "Use a form like 0712 345 678 or +254 712 345 678."
        )
    return e164
