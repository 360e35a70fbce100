import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.money import (
    MAX_AMOUNT,
    AmountError,
    AmountHasCents,
    AmountNotANumber,
    AmountOutOfRange,
    format_kes,
    parse_amount,
)
from services.phones import InvalidPhone, PhoneError, display_phone, msisdn, normalise_phone


@pytest.mark.parametrize(
    "typed",
    [
        "0712345678",
        "0712 345 678",
        "0712-345-678",
        "712345678",
        "254712345678",
        "+254712345678",
        "+254 712 345 678",
        "+254-712-345-678",
        " 0712\u00a0345\u00a0678 ",
    ],
)
def test_safaricom_07_numbers_in_every_common_form(typed: str) -> None:
    assert normalise_phone(typed) == "+254712345678"


@pytest.mark.parametrize("typed", ["0110345678", "110345678", "254110345678", "+254 110 345 678"])
def test_01_prefix_numbers_are_mobile_too(typed: str) -> None:
    assert normalise_phone(typed) == "+254110345678"


def test_refusal_quotes_the_input_and_shows_the_expected_form() -> None:
    with pytest.raises(InvalidPhone) as caught:
        normalise_phone("0712 345")
    assert str(caught.value) == (
        "“0712 345” has the wrong number of digits for a Kenyan mobile number. "
        "Use a form like 0712 345 678 or +254 712 345 678."
    )


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("+1 202 555 0123", "not a Kenyan number"),
        ("+255 712 345 678", "not a Kenyan number"),
        ("020 123 4567", "should start 07 or 01"),
        ("07123456789", "wrong number of digits"),
        ("0712 ABC DEF", "is not a Kenyan mobile number"),
        ("call me", "is not a Kenyan mobile number"),
        ("++254712345678", "is not a Kenyan mobile number"),
    ],
)
def test_refused_numbers_say_why(typed: str, says: str) -> None:
    with pytest.raises(InvalidPhone, match=says):
        normalise_phone(typed)


def test_msisdn_is_the_daraja_form() -> None:
    assert msisdn("+254712345678") == "254712345678"
    assert display_phone("+254712345678") == "+254 712 345 678"
    with pytest.raises(InvalidPhone):
        msisdn("0712345678")


@given(st.text(max_size=40))
def test_any_text_is_a_number_or_our_error(text: str) -> None:
    try:
        result = normalise_phone(text)
    except PhoneError:
        return
    assert normalise_phone(result) == result
    assert len(msisdn(result)) == 12


@given(st.sampled_from("17"), st.integers(min_value=0, max_value=99_999_999))
def test_valid_numbers_round_trip_in_every_form(first: str, rest: int) -> None:
    national = f"{first}{rest:08d}"
    e164 = f"+254{national}"
    for typed in (f"0{national}", national, f"254{national}", e164, display_phone(e164)):
        assert normalise_phone(typed) == e164
    assert normalise_phone(msisdn(e164)) == e164


@pytest.mark.parametrize(
    ("typed", "amount"),
    [
        ("1500", 1500),
        ("1,500", 1500),
        ("KES 1,500", 1500),
        ("Ksh1500", 1500),
        ("ksh. 1500", 1500),
        ("Kshs 250,000", 250_000),
        ("1500.00", 1500),
        ("1500/=", 1500),
        ("1500 KES", 1500),
        (" 1 ", 1),
    ],
)
def test_amounts_as_people_type_them(typed: str, amount: int) -> None:
    assert parse_amount(typed) == amount


@pytest.mark.parametrize(
    ("typed", "error", "says"),
    [
        ("1500.50", AmountHasCents, "has cents"),
        ("0", AmountOutOfRange, "not a positive amount"),
        ("-1500", AmountOutOfRange, "not a positive amount"),
        ("KES -5", AmountOutOfRange, "not a positive amount"),
        ("250,001", AmountOutOfRange, "too large. An amount must be between KES 1 and KES 250,000"),
        ("9" * 5000, AmountOutOfRange, "too large"),
        ("fifteen hundred", AmountNotANumber, "is not an amount. Use whole shillings"),
        ("1,50", AmountNotANumber, "is not an amount"),
        ("", AmountNotANumber, "is not an amount"),
        ("USD 10", AmountNotANumber, "is not an amount"),
    ],
)
def test_refused_amounts_say_why(typed: str, error: type[AmountError], says: str) -> None:
    with pytest.raises(error, match=says):
        parse_amount(typed)


def test_format_kes() -> None:
    assert format_kes(1500) == "KES 1,500"
    assert format_kes(250_000) == "KES 250,000"


@given(st.text(max_size=40))
def test_any_text_is_an_amount_or_our_error(text: str) -> None:
    try:
        amount = parse_amount(text)
    except AmountError:
        return
    assert 1 <= amount <= MAX_AMOUNT


@given(st.integers(min_value=1, max_value=MAX_AMOUNT))
def test_formatted_amounts_parse_back(amount: int) -> None:
    assert parse_amount(format_kes(amount)) == amount
    assert parse_amount(str(amount)) == amount
