"""The Mini App's one lock: initData checked against the bot token (services/webapp)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest

from services.webapp import InvalidInitData, check_init_data
from services.webapp.initdata import sign_init_data, signature

# The signed initData the Telegram Mini Apps documentation (tma.js, @telegram-apps/init-data-node)
# publishes with its bot token: produced by Telegram's scheme, not by our own signer, so a
# mistake our signer and our checker shared could not make this pass.
VECTOR_TOKEN = "5768337691:AAH5YkoiEuPk8-FZa32hStHTqXiLPtAEhx8"
VECTOR = (
    "query_id=AAHdF6IQAAAAAN0XohDhrOrc"
    "&user=%7B%22id%22%3A279058397%2C%22first_name%22%3A%22Vladislav%22%2C%22last_name%22%3A"
    "%22Kibenko%22%2C%22username%22%3A%22vdkfrost%22%2C%22language_code%22%3A%22ru%22%2C"
    "%22is_premium%22%3Atrue%7D"
    "&auth_date=1662771648"
    "&hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2"
)
SIGNED_AT = datetime.fromtimestamp(1662771648, UTC)
TOKEN = "123456:TEST-token"


def signed(fields: dict[str, str], token: str = TOKEN) -> str:
    return urlencode({**fields, "hash": signature(fields, token)})


def login(at: datetime, user_id: int = 42) -> dict[str, str]:
    return {
        "auth_date": str(int(at.timestamp())),
        "query_id": "AAH-query",
        "user": json.dumps({"id": user_id, "first_name": "Wanjiku", "username": "wanjiku"}),
    }


def test_telegrams_published_vector_is_accepted_and_names_the_person() -> None:
    data = check_init_data(VECTOR, VECTOR_TOKEN, now=SIGNED_AT + timedelta(minutes=1))
    assert data.user_id == 279058397
    assert data.first_name == "Vladislav"
    assert data.username == "vdkfrost"
    assert data.auth_date == SIGNED_AT


def test_the_vector_under_another_bots_token_is_refused() -> None:
    with pytest.raises(InvalidInitData, match="not signed by this bot"):
        check_init_data(VECTOR, TOKEN, now=SIGNED_AT)


@pytest.mark.parametrize(
    "change",
    [
        ("%22id%22%3A279058397", "%22id%22%3A279058398"),  # another person
        ("auth_date=1662771648", "auth_date=1662771649"),
        ("query_id=AAHdF6IQAAAAAN0XohDhrOrc", "query_id=AAHdF6IQAAAAAN0XohDhrOrd"),
        ("hash=c501b71e", "hash=c501b71f"),
        ("hash=c501b71e775f74ce10e377dea85a7ea24ecd640b223ea86dfe453e0eaed2e2b2", "hash=C501"),
    ],
)
def test_one_changed_character_is_refused(change: tuple[str, str]) -> None:
    tampered = VECTOR.replace(*change)
    assert tampered != VECTOR
    with pytest.raises(InvalidInitData, match="not signed by this bot"):
        check_init_data(tampered, VECTOR_TOKEN, now=SIGNED_AT)


def test_an_added_field_is_refused() -> None:
    with pytest.raises(InvalidInitData, match="not signed by this bot"):
        check_init_data(VECTOR + "&start_param=admin", VECTOR_TOKEN, now=SIGNED_AT)


def test_a_day_old_login_is_accepted_a_minute_later_it_is_not() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    raw = signed(login(now - timedelta(hours=24)))
    assert check_init_data(raw, TOKEN, now=now).user_id == 42
    with pytest.raises(InvalidInitData, match="more than a day old"):
        check_init_data(raw, TOKEN, now=now + timedelta(minutes=1))
    with pytest.raises(InvalidInitData, match="more than a day old"):
        check_init_data(VECTOR, VECTOR_TOKEN, now=now)


def test_a_login_dated_in_the_future_is_refused() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with pytest.raises(InvalidInitData, match="future"):
        check_init_data(signed(login(now + timedelta(hours=1))), TOKEN, now=now)


def test_missing_or_empty_hash_is_refused() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    fields = login(now)
    with pytest.raises(InvalidInitData, match="no hash"):
        check_init_data(urlencode(fields), TOKEN, now=now)
    with pytest.raises(InvalidInitData, match="no hash"):
        check_init_data(urlencode({**fields, "hash": ""}), TOKEN, now=now)
    with pytest.raises(InvalidInitData, match="no initData"):
        check_init_data("", TOKEN, now=now)


def test_a_field_given_twice_is_refused_even_when_one_copy_is_signed() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    raw = signed(login(now, user_id=42))
    other = urlencode({"user": json.dumps({"id": 7, "first_name": "Mallory"})})
    for doubled in (f"{raw}&{other}", f"{other}&{raw}"):
        with pytest.raises(InvalidInitData, match="'user' twice"):
            check_init_data(doubled, TOKEN, now=now)


def test_signed_data_without_a_user_or_auth_date_is_refused() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    no_user = {k: v for k, v in login(now).items() if k != "user"}
    with pytest.raises(InvalidInitData, match="names no user"):
        check_init_data(signed(no_user), TOKEN, now=now)
    no_date = {k: v for k, v in login(now).items() if k != "auth_date"}
    with pytest.raises(InvalidInitData, match="auth_date"):
        check_init_data(signed(no_date), TOKEN, now=now)
    bad_user = {**login(now), "user": '{"first_name": "x"}'}
    with pytest.raises(InvalidInitData, match="no id"):
        check_init_data(signed(bad_user), TOKEN, now=now)


def test_garbage_is_refused_with_a_reason() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    with pytest.raises(InvalidInitData, match="not a query string"):
        check_init_data("just some words", TOKEN, now=now)


def test_what_the_demo_signs_is_what_the_server_accepts() -> None:
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    raw = sign_init_data(TOKEN, user_id=501, first_name="Achieng", auth_date=now)
    data = check_init_data(raw, TOKEN, now=now)
    assert (data.user_id, data.first_name, data.auth_date) == (501, "Achieng", now)
    with pytest.raises(InvalidInitData, match="not signed by this bot"):
        check_init_data(raw, VECTOR_TOKEN, now=now)
