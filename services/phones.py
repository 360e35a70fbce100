"""Kenyan mobile numbers: what crew type in chat, normalised to E.164."""

from __future__ import annotations

import functools
import re

import phonenumbers

from services.errors import InvalidInput


class PhoneError(InvalidInput, ValueError):
    """A phone number we cannot use; the message is written for the person who typed it."""


class InvalidPhone(PhoneError):
    def __init__(self, text: str, problem: str) -> None:
        self.text = text
        shown = text if len(text) <= 40 else text[:39] + "…"
        super().__init__(f"“{shown}” {problem}. Use a form like 0712 345 678 or +254 712 345 678.")


_EXPECTED_FORM = "is not a Kenyan mobile number"
# Separators people type between digit groups; letters are refused (phonenumbers
# would otherwise read "0712 ABC DEF" as a vanity number).
_SEPARATORS = re.compile(r"[\s\-‐‑‒–—.()/]")
_ALLOWED = re.compile(r"\+?[0-9]+")
_E164_MOBILE = re.compile(r"\+254[17][0-9]{8}")
_KENYA = 254


@functools.lru_cache(maxsize=4096)  # pure, and phonenumbers is slow: callbacks repeat payers
def normalise_phone(text: str) -> str:
    """Return `+2547XXXXXXXX` / `+2541XXXXXXXX`, or raise InvalidPhone saying what is wrong."""
    compact = _SEPARATORS.sub("", text)
    if not compact:
        raise InvalidPhone(text, "is empty, not a phone number")
    if len(compact) > 20 or not _ALLOWED.fullmatch(compact):
        raise InvalidPhone(text, _EXPECTED_FORM)
    try:
        number = phonenumbers.parse(compact, "KE")
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(text, _EXPECTED_FORM) from exc
    if number.country_code != _KENYA:
        raise InvalidPhone(text, "is not a Kenyan number (only +254 numbers can pay by M-Pesa)")
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if not _E164_MOBILE.fullmatch(e164):
        if len(e164) != len("+254712345678"):
            raise InvalidPhone(text, "has the wrong number of digits for a Kenyan mobile number")
        raise InvalidPhone(text, "is not a Kenyan mobile number (it should start 07 or 01)")
    return e164


def msisdn(e164: str) -> str:
    """Daraja's form of a number: `2547XXXXXXXX`, no plus."""
    if not _E164_MOBILE.fullmatch(e164):
        raise InvalidPhone(e164, _EXPECTED_FORM)
    return e164[1:]


def display_phone(e164: str) -> str:
    """`+254 712 345 678`, for messages to people."""
    if not _E164_MOBILE.fullmatch(e164):
        raise InvalidPhone(e164, _EXPECTED_FORM)
    return f"{e164[:4]} {e164[4:7]} {e164[7:10]} {e164[10:]}"


def looks_like_phone(text: str) -> bool:
    """Digits enough to be a phone number, in any of the ways Kenyans write one."""
    digits = re.sub(r"[\s\-+()]", "", text)
    return digits.isdigit() and len(digits) >= 9
