"""Fuzzing with hypothesis: the parsers behind every command form, Daraja's answers into the
client, and random (valid-shaped) Telegram updates through the real webhook of a running app.

(Phones, amounts and raw Daraja callbacks are fuzzed in test_phones_money and
test_daraja_client.) Examples stay few so the suite stays fast."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from bot.app import Callsheet
from handlers.common import CREW_COMMANDS, MANAGER_COMMANDS
from models import Payment
from sandbox.telegram import SandboxUser, TelegramSandbox
from services.clock import ManualClock
from services.daraja import (
    DarajaClient,
    DarajaConfig,
    DarajaError,
    DarajaTimeouts,
    InMemoryTokenStore,
    ListAuditSink,
)
from services.errors import CallsheetError
from services.ids import MAX_ID, parse_id
from services.ledger import clean_reason
from services.payments import clean_purpose
from services.people import clean_email, clean_name, required_skills
from tests.conftest import BOT_TOKEN, BOT_USERNAME, Mailbox, People, app_settings, free_port

T = TypeVar("T")
FEW = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
WEBHOOK_SECRET = "fuzz-webhook-secret_123"

texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=300
) | st.sampled_from(["", " ", "|", "||||", "#0", "#99999999999", "0712345678", "x" * 4096])


# --- the field parsers behind inline forms and conversation steps ----------------------------


@FEW
@given(texts)
def test_field_parsers_return_clean_values_or_refuse_clearly(text: str) -> None:
    for parse in (clean_name, clean_email, required_skills, clean_purpose, clean_reason):
        try:
            parse(text)
        except CallsheetError as exc:
            assert str(exc) and len(str(exc)) < 500  # shown to the user as it is


@FEW
@given(texts)
def test_ids_are_within_what_a_row_can_have(text: str) -> None:
    ident = parse_id(text)
    assert ident is None or 0 < ident <= MAX_ID


@FEW
@given(st.lists(texts, max_size=6))
def test_pipe_separated_forms_split_into_the_parts_typed(parts: list[str]) -> None:
    line = " | ".join(p.replace("|", "") for p in parts)
    assert [p.strip() for p in line.split("|")] == [p.replace("|", "").strip() for p in parts] or (
        not parts
    )


# --- Daraja's answers into the client ----------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
daraja_like = st.fixed_dictionaries(
    {},
    optional={
        "access_token": st.text(max_size=30) | st.integers(),
        "expires_in": st.sampled_from(["3599", "0", "-1", "x", 3599, None]),
        "ResponseCode": st.sampled_from(["0", "1", 0, None, "x"]),
        "MerchantRequestID": st.text(max_size=30) | st.none(),
        "CheckoutRequestID": st.text(max_size=40) | st.none(),
        "ResultCode": st.sampled_from(["0", "1032", "1037", "17", 0, 1032, None, "x"]),
        "ResultDesc": st.text(max_size=40) | st.none(),
        "ResponseDescription": st.text(max_size=40),
        "errorCode": st.sampled_from(["500.003.02", "404.001.03", "400.002.02", "", None]),
        "errorMessage": st.text(max_size=40),
        "requestId": st.text(max_size=20),
    },
)
bodies = (
    json_values.map(json.dumps)
    | daraja_like.map(json.dumps)
    | st.binary(max_size=80).map(lambda b: b.decode("latin-1"))
)


def client_answering(status: int, body: str, token_status: int, token_body: str) -> DarajaClient:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/oauth"):
            return httpx.Response(token_status, text=token_body)
        return httpx.Response(status, text=body)

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    config = DarajaConfig(
        base_url="https://daraja.test",
        consumer_key="key",
        consumer_secret="secret",
        shortcode="174379",
        passkey="passkey",
        callback_url="https://callsheet.example/daraja/stk/callback/0f1e2d3c4b5a6978",
        timeouts=DarajaTimeouts(connect=1, read=1, write=1, pool=1),
    )
    clock = ManualClock(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))
    return DarajaClient(http, config, InMemoryTokenStore(), ListAuditSink(), clock)


good_token = json.dumps({"access_token": "tok", "expires_in": "3599"})


@FEW
@given(
    st.sampled_from([200, 200, 200, 201, 400, 401, 403, 404, 429, 500, 502, 503]),
    bodies,
    st.sampled_from([200, 200, 400, 401, 500]),
    st.just(good_token) | bodies,
)
def test_any_daraja_answer_is_a_result_or_a_daraja_error(
    status: int, body: str, token_status: int, token_body: str
) -> None:
    async def exercise() -> None:
        client = client_answering(status, body, token_status, token_body)
        for call in (
            lambda: client.stk_push("+254712345678", 100, "EV1", "Deposit"),
            lambda: client.stk_query("ws_CO_1"),
        ):
            with contextlib.suppress(DarajaError):
                await call()

    asyncio.run(exercise())


# --- Telegram updates through the real webhook --------------------------------------------------


def draw(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """`count` examples from `strategy`, for use inside a running event loop."""
    found: list[T] = []

    @settings(
        max_examples=count,
        database=None,
        derandomize=True,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(value: T) -> None:
        found.append(value)

    collect()
    return found


@pytest.fixture
async def tg() -> AsyncIterator[TelegramSandbox]:
    """Fuzzing types far faster than people: room for every reply within the chat limit."""
    sandbox = TelegramSandbox(chat_burst=500, overall_rate=1000)
    sandbox.add_bot(BOT_TOKEN, BOT_USERNAME, first_name="Sauti Crew")
    async with sandbox:
        yield sandbox


@pytest.fixture
async def webhook_app(
    tg: TelegramSandbox, database_url: str, smtp_server: tuple[Mailbox, int], clock: ManualClock
) -> AsyncIterator[Callsheet]:
    port = free_port()
    running = Callsheet(
        app_settings(
            tg,
            database_url,
            smtp_server[1],
            telegram_mode="webhook",
            telegram_webhook_secret=WEBHOOK_SECRET,
            http_port=port,
            public_base_url=f"http://127.0.0.1:{port}",
        ),
        clock=clock,
    )
    await running.start()
    yield running
    await running.stop()


@pytest.fixture
def webhook_people(webhook_app: Callsheet, tg: TelegramSandbox) -> People:
    return People(webhook_app, tg)


commands = sorted({c.name for c in [*MANAGER_COMMANDS, *CREW_COMMANDS]} | {"start", "cancel"})
message_texts = texts | st.builds(
    lambda c, a: f"/{c} {a}".strip(), st.sampled_from(commands), texts
)
callback_datas = st.text(max_size=40).filter(lambda d: len(d.encode()) <= 64) | st.builds(
    lambda area, action, ident: f"{area}:{action}:{ident}",
    st.sampled_from(["per", "out", "pay", "evt", "asg", "x"]),
    st.sampled_from(["card", "edit", "access", "resend", "check", "list", "hist", "page", "save"]),
    st.integers(min_value=-5, max_value=10**12) | st.text(max_size=8),
)


def odd_update(update_id: int, user: SandboxUser, kind: str, value: Any) -> dict[str, Any]:
    """Shapes the sandbox clients do not send but Telegram may: edits, unknown kinds,
    messages without text."""
    sender = {"id": user.id, "is_bot": False, "first_name": user.first_name}
    chat = {"id": user.id, "type": "private", "first_name": user.first_name}
    message = {"message_id": 900_000 + update_id, "date": 1_795_000_000, "chat": chat}
    if kind == "edited":
        return {
            "update_id": update_id,
            "edited_message": {**message, "from": sender, "text": value},
        }
    if kind == "sticker":
        return {
            "update_id": update_id,
            "message": {
                **message,
                "from": sender,
                "sticker": {
                    "file_id": "f",
                    "file_unique_id": "u",
                    "type": "regular",
                    "width": 1,
                    "height": 1,
                    "is_animated": False,
                    "is_video": False,
                },
            },
        }
    if kind == "channel":
        return {
            "update_id": update_id,
            "channel_post": {
                **message,
                "text": value,
                "chat": {"id": -1001, "type": "channel", "title": "News"},
            },
        }
    if kind == "unknown":
        return {"update_id": update_id, "some_future_kind": {"value": value}}
    return {"update_id": update_id, "message": {**message, "from": sender, "text": value or "."}}


async def settled(app: Callsheet) -> None:
    """Every update taken from the queue, and none still being handled."""
    application = app.application
    assert application is not None
    async with asyncio.timeout(30):
        while (  # noqa: ASYNC110  (PTB offers no event for "idle")
            not application.update_queue.empty()
            or application.update_processor.current_concurrent_updates
        ):
            await asyncio.sleep(0.02)


async def test_random_updates_through_the_webhook_never_crash_a_handler(
    webhook_app: Callsheet,
    webhook_people: People,
    tg: TelegramSandbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    people = webhook_people
    _, boss = await people.add("Achieng Otieno", "0700 000 001", manager=True)
    _, jane = await people.add("Jane Wanjiku", "0712 345 678")
    stranger = tg.user(4242, "Stranger")
    await tg.send_text(stranger, "/start")
    await tg.wait_for_bot_message(stranger.id, "Share my phone number")
    users = [boss, jane, stranger]
    caplog.set_level(logging.WARNING)
    payments_before = await Payment.all().count()

    # Through the sandbox: what real clients send, including forged button data.
    for who, text in draw(st.tuples(st.integers(0, 2), message_texts), 40):
        if text.strip():
            await tg.send_text(users[who], text[:4096])
    for who, data in draw(st.tuples(st.integers(0, 2), callback_datas), 30):
        last = tg.last_bot_message(users[who].id)
        if last is not None:
            await tg.press_forged(users[who], last["message_id"], data)

    # Posted straight to the endpoint: shapes the sandbox clients do not produce.
    url = f"http://127.0.0.1:{webhook_app.port}/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
    odd = st.tuples(
        st.integers(0, 2),
        st.sampled_from(["edited", "sticker", "channel", "unknown", "message"]),
        message_texts,
    )
    async with httpx.AsyncClient() as http:
        for n, (who, kind, value) in enumerate(draw(odd, 40)):
            update_id = 700_000_000 + n
            reply = await http.post(
                url, json=odd_update(update_id, users[who], kind, value[:4096]), headers=headers
            )
            assert reply.status_code == 200, reply.text
        for n, body in enumerate(draw(json_values, 30)):
            raw = {"update_id": 800_000_000 + n, "message": body} if n % 2 else body
            reply = await http.post(url, content=json.dumps(raw), headers=headers)
            assert reply.status_code in (200, 400), (raw, reply.status_code, reply.text)

    # The sandbox delivers in order: once this is answered, everything before it was taken.
    await tg.send_text(boss, "/help")
    await tg.wait_for(
        lambda: any(
            "Here is what you can do" in (m.get("text") or "")
            for m in tg.bot_messages(boss.id)[-3:]
        )
    )
    await settled(webhook_app)
    crashes = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert crashes == [], [r.getMessage() for r in crashes]
    assert not any(
        "went wrong on our side" in (m.get("text") or "")
        for u in users
        for m in tg.bot_messages(u.id)
    )
    assert await Payment.all().count() == payments_before
