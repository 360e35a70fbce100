"""The Daraja client against the sandbox over real HTTP: tokens, push, query, audit."""

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from sandbox.daraja import SANDBOX_PASSKEY, DarajaSandbox, Fault, Outcome
from services.daraja import (
    NAIROBI,
    DarajaAuthError,
    DarajaClient,
    DarajaConfig,
    DarajaConfigError,
    DarajaRejected,
    DarajaTimeouts,
    DarajaUnavailable,
    DarajaUnknownOutcome,
    InMemoryTokenStore,
    ListAuditSink,
    QueryStatus,
    ResultKind,
    TransactionType,
    fit_description,
    fit_reference,
    new_callback_secret,
    parse_callback,
    stk_password,
)
from tests.test_sandbox_daraja import Receiver

KEY, SECRET = "consumer-key", "s3cret-consumer-value"
PHONE = "+254712345678"


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime.now(UTC))


@pytest.fixture
async def sandbox(clock: FixedClock) -> AsyncIterator[DarajaSandbox]:
    async with DarajaSandbox(KEY, SECRET, callback_delay=0.01, clock=clock.now) as sb:
        yield sb


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def audit() -> ListAuditSink:
    return ListAuditSink()


@pytest.fixture
def store() -> InMemoryTokenStore:
    return InMemoryTokenStore()


def config(sb: DarajaSandbox, receiver: Receiver, **changes: Any) -> DarajaConfig:
    fields: dict[str, Any] = {
        "base_url": sb.base_url,
        "consumer_key": KEY,
        "consumer_secret": SECRET,
        "shortcode": "174379",
        "passkey": SANDBOX_PASSKEY,
        "callback_url": receiver.url,
        "timeouts": DarajaTimeouts(connect=1, read=2, write=1, pool=1),
    }
    fields.update(changes)
    return DarajaConfig(**fields)


@pytest.fixture
def client(
    http: httpx.AsyncClient,
    sandbox: DarajaSandbox,
    receiver: Receiver,
    store: InMemoryTokenStore,
    audit: ListAuditSink,
    clock: FixedClock,
) -> DarajaClient:
    return DarajaClient(http, config(sandbox, receiver), store, audit, clock)


# tokens


async def test_token_is_fetched_once_and_reused(
    client: DarajaClient, sandbox: DarajaSandbox
) -> None:
    await client.stk_push(PHONE, 100, "EV1", "Deposit")
    await client.stk_push("+254722000111", 100, "EV1", "Deposit")
    assert sandbox.stats.tokens_issued == 1
    assert sandbox.stats.pushes_accepted == 2


async def test_token_is_refetched_shortly_before_expiry(
    client: DarajaClient, sandbox: DarajaSandbox, clock: FixedClock
) -> None:
    sandbox.expires_in_as_number = True
    sandbox.token_ttl = 600
    await client.stk_query("ws_CO_1")
    clock.current += timedelta(seconds=500)
    await client.stk_query("ws_CO_1")
    assert sandbox.stats.tokens_issued == 1
    clock.current += timedelta(seconds=50)  # inside the 60 s margin
    await client.stk_query("ws_CO_1")
    assert sandbox.stats.tokens_issued == 2


async def test_refused_token_is_refreshed_once_and_the_push_goes_through(
    client: DarajaClient, sandbox: DarajaSandbox
) -> None:
    await client.stk_query("ws_CO_1")
    sandbox.expire_tokens()
    accepted = await client.stk_push(PHONE, 100, "EV1", "Deposit")
    assert accepted.checkout_request_id.startswith("ws_CO_")
    assert sandbox.stats.tokens_issued == 2
    assert [p.error_code for p in sandbox.pushes] == ["404.001.03", None]


async def test_token_refused_again_after_refresh_is_an_error_not_a_loop(
    client: DarajaClient, sandbox: DarajaSandbox
) -> None:
    sandbox.reject_all_tokens = True
    with pytest.raises(DarajaAuthError) as caught:
        await client.stk_push(PHONE, 100, "EV1", "Deposit")
    assert caught.value.error_code == "404.001.03"
    assert caught.value.human_reason == "M-Pesa refused our access token; tell the admin"
    assert len(sandbox.pushes) == 2
    assert sandbox.stats.tokens_issued == 2


async def test_wrong_consumer_secret_is_an_auth_error(
    http: httpx.AsyncClient,
    sandbox: DarajaSandbox,
    receiver: Receiver,
    audit: ListAuditSink,
    clock: FixedClock,
) -> None:
    bad = DarajaClient(
        http, config(sandbox, receiver, consumer_secret="wrong"), InMemoryTokenStore(), audit, clock
    )
    with pytest.raises(DarajaAuthError) as caught:
        await bad.stk_push(PHONE, 100, "EV1", "Deposit")
    assert caught.value.error_code == "400.008.01"
    assert "consumer key/secret" in caught.value.human_reason
    assert sandbox.pushes == []


async def test_instances_sharing_a_store_never_fetch_two_tokens_at_once(
    http: httpx.AsyncClient,
    sandbox: DarajaSandbox,
    receiver: Receiver,
    store: InMemoryTokenStore,
    audit: ListAuditSink,
    clock: FixedClock,
) -> None:
    instances = [
        DarajaClient(http, config(sandbox, receiver), store, audit, clock) for _ in range(3)
    ]
    phones = ["+254712000001", "+254712000002", "+254712000003"]
    first = await asyncio.gather(
        *(c.stk_push(p, 10, "EV", "Dep") for c, p in zip(instances, phones, strict=True))
    )
    assert sandbox.stats.tokens_issued == 1
    # Each payer has answered before the next prompt (Daraja refuses one while one is open).
    for accepted in first:
        await sandbox.wait_for_result(accepted.checkout_request_id)
    # Daraja drops the token; every instance is refused, only one fetches.
    sandbox.expire_tokens()
    await asyncio.gather(
        *(c.stk_push(p, 20, "EV", "Dep") for c, p in zip(instances, phones, strict=True))
    )
    assert sandbox.stats.tokens_issued == 2
    assert sandbox.stats.pushes_accepted == 6


# the push


def test_password_matches_the_documented_test_vector() -> None:
    assert stk_password("174379", SANDBOX_PASSKEY, "20160216165627") == (
        "MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZi"
        "NzJhZGExZWQyYzkxOTIwMTYwMjE2MTY1NjI3"
    )


async def test_timestamp_is_nairobi_time_even_across_midnight(
    client: DarajaClient, sandbox: DarajaSandbox, clock: FixedClock
) -> None:
    clock.current = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
    await client.stk_push(PHONE, 1500, "EV12-JANE", "Deposit")
    body = sandbox.pushes[-1].body
    assert body["Timestamp"] == "20261206023000"
    assert body["Password"] == stk_password("174379", SANDBOX_PASSKEY, "20261206023000")
    assert sandbox.pushes[-1].content_type == "application/json"
    assert body["BusinessShortCode"] == body["PartyB"] == 174379
    assert body["PartyA"] == body["PhoneNumber"] == "254712345678"
    assert body["TransactionType"] == "CustomerPayBillOnline"


async def test_buy_goods_sends_the_till_as_party_b(
    http: httpx.AsyncClient, receiver: Receiver, clock: FixedClock
) -> None:
    async with DarajaSandbox(
        KEY, SECRET, account_type="CustomerBuyGoodsOnline", till="5544332", clock=clock.now
    ) as sb:
        cfg = config(sb, receiver, transaction_type=TransactionType.BUY_GOODS, party_b="5544332")
        client = DarajaClient(http, cfg, InMemoryTokenStore(), ListAuditSink(), clock)
        accepted = await client.stk_push(PHONE, 100, "EV1", "Deposit")
        [delivered] = await sb.wait_for_callback(accepted.checkout_request_id)
        assert parse_callback(delivered.body).succeeded
        assert sb.pushes[0].body["PartyB"] == 5544332


def test_paybill_with_a_different_party_b_is_refused_at_start_up() -> None:
    with pytest.raises(DarajaConfigError, match="PartyB is the paybill"):
        DarajaConfig(
            base_url="http://x",
            consumer_key="k",
            consumer_secret="s",
            shortcode="174379",
            passkey="p",
            callback_url="https://example.com/daraja/stk/callback/abc",
            party_b="5544332",
        )


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/mpesa/callback/abc",
        "https://x.ngrok-free.app/daraja/stk/callback/abc",
        "https://example.com/daraja/stk/callback/a b",
    ],
)
def test_callback_urls_daraja_refuses_are_refused_at_start_up(url: str) -> None:
    with pytest.raises(DarajaConfigError, match="callback URL"):
        DarajaConfig(
            base_url="http://x",
            consumer_key="k",
            consumer_secret="s",
            shortcode="174379",
            passkey="p",
            callback_url=url,
        )


def test_generated_callback_secrets_never_contain_banned_words() -> None:
    for _ in range(200):
        secret = new_callback_secret()
        assert not re.search(r"mpesa|safaricom|sql|query|exec|ngrok", secret)


def test_reference_and_description_fit_the_prompt() -> None:
    assert fit_reference("  EV12 / Jane  ") == "EV12 Jane"
    assert fit_description("Deposit!") == "Deposit"
    with pytest.raises(DarajaConfigError, match="13 characters; M-Pesa allows 12"):
        fit_reference("EV12-JANE-DOE")
    with pytest.raises(DarajaConfigError, match="TransactionDesc"):
        fit_description("Deposit for EV12")
    with pytest.raises(DarajaConfigError, match="no letters or digits"):
        fit_reference("!!!")


async def test_invalid_arguments_are_refused_before_anything_is_sent(
    client: DarajaClient, sandbox: DarajaSandbox
) -> None:
    with pytest.raises(DarajaConfigError):
        await client.stk_push("0712345678", 100, "EV1", "Deposit")
    with pytest.raises(DarajaConfigError):
        await client.stk_push(PHONE, 0, "EV1", "Deposit")
    with pytest.raises(DarajaConfigError):
        await client.stk_push(PHONE, 100, "EV12-JANE-DOE", "Deposit")
    assert sandbox.pushes == []
    assert sandbox.stats.tokens_issued == 0


async def test_wrong_passkey_is_rejected_with_a_reason_for_the_manager(
    http: httpx.AsyncClient,
    sandbox: DarajaSandbox,
    receiver: Receiver,
    clock: FixedClock,
) -> None:
    bad = DarajaClient(
        http,
        config(sandbox, receiver, passkey="x" * 64),
        InMemoryTokenStore(),
        ListAuditSink(),
        clock,
    )
    with pytest.raises(DarajaRejected) as caught:
        await bad.stk_push(PHONE, 100, "EV1", "Deposit")
    assert caught.value.error_code == "500.001.1001"
    assert caught.value.request_id
    assert "credentials" in caught.value.human_reason


async def test_prompt_already_open_is_rejected_with_wait_a_minute(
    client: DarajaClient, sandbox: DarajaSandbox
) -> None:
    sandbox.next_outcome("254712345678", Outcome.HOLD)
    await client.stk_push(PHONE, 100, "EV1", "Deposit")
    with pytest.raises(DarajaRejected) as caught:
        await client.stk_push(PHONE, 200, "EV1", "Deposit")
    assert caught.value.human_reason == (
        "a prompt is already waiting on that phone; wait a minute and resend"
    )


async def test_busy_daraja_is_rejected_as_try_again(
    client: DarajaClient, sandbox: DarajaSandbox
) -> None:
    await sandbox.set_fault(Fault.BUSY)
    with pytest.raises(DarajaRejected) as caught:
        await client.stk_push(PHONE, 100, "EV1", "Deposit")
    assert caught.value.error_code == "500.003.02"
    assert caught.value.human_reason == "M-Pesa is busy right now; try again in a minute"


def test_field_refusal_reason_carries_daraja_message() -> None:
    error = DarajaRejected(
        http_status=400,
        error_code="400.002.02",
        error_message="Bad Request - Invalid CallBackURL",
        request_id="1-2-3",
    )
    assert error.human_reason == (
        "M-Pesa refused a field of the request: Bad Request - Invalid CallBackURL"
    )


async def test_slow_daraja_is_an_unknown_outcome_and_the_push_is_not_resent(
    http: httpx.AsyncClient,
    sandbox: DarajaSandbox,
    receiver: Receiver,
    clock: FixedClock,
) -> None:
    cfg = config(sandbox, receiver, timeouts=DarajaTimeouts(connect=1, read=0.2, write=1, pool=1))
    client = DarajaClient(http, cfg, InMemoryTokenStore(), ListAuditSink(), clock)
    await sandbox.set_fault(Fault.SLOW)
    with pytest.raises(DarajaUnknownOutcome) as caught:
        await client.stk_push(PHONE, 100, "EV1", "Deposit")
    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)
    assert len(sandbox.pushes) == 1
    # The prompt went out anyway: its callback still arrives.
    checkout = sandbox.pushes[0].checkout_id
    assert checkout is not None
    [delivered] = await sandbox.wait_for_callback(checkout)
    assert parse_callback(delivered.body).succeeded


async def test_daraja_down_is_unavailable_and_nothing_was_received(
    client: DarajaClient, sandbox: DarajaSandbox
) -> None:
    await client.stk_query("ws_CO_1")  # token cached, so the push itself meets the closed port
    await sandbox.set_fault(Fault.DOWN)
    with pytest.raises(DarajaUnavailable):
        await client.stk_push(PHONE, 100, "EV1", "Deposit")
    assert sandbox.pushes == []
    await sandbox.set_fault(Fault.NONE)
    assert (await client.stk_push(PHONE, 100, "EV1", "Deposit")).checkout_request_id


# outcomes: callback and query


@pytest.mark.parametrize(
    ("outcome", "code", "kind", "reason"),
    [
        (Outcome.CANCELLED, 1032, ResultKind.CANCELLED, "cancelled by the payer"),
        (Outcome.UNREACHABLE, 1037, ResultKind.TIMEOUT, "the phone could not be reached"),
        (Outcome.WRONG_PIN, 2001, ResultKind.FAILED, "wrong PIN"),
        (Outcome.INSUFFICIENT, 1, ResultKind.FAILED, "insufficient M-Pesa balance"),
        (Outcome.EXPIRED, 1019, ResultKind.TIMEOUT, "the prompt expired"),
    ],
)
async def test_failure_callbacks_parse_to_a_reason(
    client: DarajaClient,
    sandbox: DarajaSandbox,
    receiver: Receiver,
    outcome: Outcome,
    code: int,
    kind: ResultKind,
    reason: str,
) -> None:
    sandbox.next_outcome("254712345678", outcome)
    accepted = await client.stk_push(PHONE, 100, "EV1", "Deposit")
    await sandbox.wait_for_callback(accepted.checkout_request_id)
    callback = parse_callback(receiver.bodies[-1])
    assert callback.checkout_request_id == accepted.checkout_request_id
    assert callback.merchant_request_id == accepted.merchant_request_id
    assert (callback.result_code, callback.kind) == (code, kind)
    assert callback.reason.startswith(reason)
    assert (callback.amount, callback.receipt) == (None, None)
    queried = await client.stk_query(accepted.checkout_request_id)
    assert (queried.status, queried.result_code) == (QueryStatus.FAILED, code)
    assert queried.reason.startswith(reason)


async def test_success_callback_parses_amount_receipt_date_and_phone(
    client: DarajaClient, sandbox: DarajaSandbox, receiver: Receiver, clock: FixedClock
) -> None:
    clock.current = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
    accepted = await client.stk_push(PHONE, 1500, "EV12-JANE", "Deposit")
    await sandbox.wait_for_callback(accepted.checkout_request_id)
    callback = parse_callback(receiver.bodies[-1])
    assert callback.succeeded and callback.kind is ResultKind.PAID
    assert callback.amount == 1500
    assert callback.receipt is not None and re.fullmatch(r"[A-Z0-9]{10}", callback.receipt)
    assert callback.transaction_date == datetime(2026, 12, 6, 2, 30, tzinfo=NAIROBI)
    assert callback.phone == PHONE
    assert callback.problems == ()
    queried = await client.stk_query(accepted.checkout_request_id)
    assert queried.status is QueryStatus.COMPLETED
    assert queried.reason == "paid"


async def test_duplicate_and_early_callbacks_arrive_as_daraja_sends_them(
    client: DarajaClient, sandbox: DarajaSandbox, receiver: Receiver
) -> None:
    sandbox.next_outcome(None, Outcome.BEFORE_RESPONSE)
    early = await client.stk_push("+254712000001", 100, "EV1", "Deposit")
    # The callback was in before the push returned.
    assert parse_callback(receiver.bodies[0]).checkout_request_id == early.checkout_request_id
    sandbox.next_outcome(None, Outcome.DUPLICATE_CONCURRENT)
    twice = await client.stk_push("+254712000002", 100, "EV1", "Deposit")
    first, second = await sandbox.wait_for_callback(twice.checkout_request_id, count=2)
    assert first.body == second.body
    assert parse_callback(first.body).receipt == parse_callback(second.body).receipt


async def test_amount_mismatch_is_visible_after_parsing(
    client: DarajaClient, sandbox: DarajaSandbox, receiver: Receiver
) -> None:
    sandbox.next_outcome(None, Outcome.AMOUNT_MISMATCH)
    accepted = await client.stk_push(PHONE, 1500, "EV1", "Deposit")
    await sandbox.wait_for_callback(accepted.checkout_request_id)
    assert parse_callback(receiver.bodies[-1]).amount == 1499


async def test_query_pending_then_completed_and_not_found(
    client: DarajaClient, sandbox: DarajaSandbox
) -> None:
    sandbox.next_outcome(None, Outcome.HOLD)
    accepted = await client.stk_push(PHONE, 100, "EV1", "Deposit")
    pending = await client.stk_query(accepted.checkout_request_id)
    assert pending.status is QueryStatus.PENDING
    assert pending.reason == "waiting for the payer to answer the prompt"
    await sandbox.release(accepted.checkout_request_id)
    assert (await client.stk_query(accepted.checkout_request_id)).status is QueryStatus.COMPLETED
    missing = await client.stk_query("ws_CO_000000")
    assert missing.status is QueryStatus.NOT_FOUND


async def test_payment_without_callback_is_found_by_query(
    client: DarajaClient, sandbox: DarajaSandbox, receiver: Receiver
) -> None:
    sandbox.next_outcome(None, Outcome.NO_CALLBACK)
    accepted = await client.stk_push(PHONE, 100, "EV1", "Deposit")
    assert await sandbox.wait_for_result(accepted.checkout_request_id) == (
        0,
        "The service request is processed successfully.",
    )
    assert (await client.stk_query(accepted.checkout_request_id)).status is QueryStatus.COMPLETED
    assert receiver.bodies == []


# audit


async def test_audit_has_timings_and_never_a_secret(
    client: DarajaClient, sandbox: DarajaSandbox, audit: ListAuditSink
) -> None:
    await client.stk_query("ws_CO_1")
    sandbox.expire_tokens()
    # The payer has not answered when the query comes (on a busy machine the sandbox's
    # payer, 10 ms after the push, sometimes answered first).
    sandbox.next_outcome(None, Outcome.HOLD)
    accepted = await client.stk_push(PHONE, 100, "EV1", "Deposit")
    await client.stk_query(accepted.checkout_request_id)
    operations = [(e.operation, e.status) for e in audit.exchanges]
    assert operations == [
        ("oauth", 200),
        ("stk_query", 500),
        ("stk_push", 404),
        ("oauth", 200),
        ("stk_push", 200),
        ("stk_query", 500),  # still waiting for the PIN
    ]
    assert all(e.duration_ms >= 0 and e.started_at.tzinfo is not None for e in audit.exchanges)
    push = audit.exchanges[4]
    assert push.url == f"{sandbox.base_url}/mpesa/stkpush/v1/processrequest"
    assert isinstance(push.request_body, dict)
    assert push.request_body["Amount"] == 100
    assert push.request_body["CallBackURL"].endswith("/daraja/stk/callback/[redacted]")
    assert isinstance(push.response_body, dict)
    assert push.response_body["CheckoutRequestID"] == accepted.checkout_request_id

    serialised = json.dumps([e.as_dict() for e in audit.exchanges])
    passwords = {p.body["Password"] for p in sandbox.pushes if p.body}
    tokens = {p.authorization.removeprefix("Bearer ") for p in sandbox.pushes}
    assert len(tokens) == 2
    for secret in (SANDBOX_PASSKEY, SECRET, *passwords, *tokens, "9f8e7d6c5b4a"):
        assert secret not in serialised
    assert "Bearer" not in serialised and "Basic" not in serialised


async def test_audit_records_a_timeout_with_its_error(
    http: httpx.AsyncClient, sandbox: DarajaSandbox, receiver: Receiver, clock: FixedClock
) -> None:
    cfg = config(sandbox, receiver, timeouts=DarajaTimeouts(connect=1, read=0.2, write=1, pool=1))
    audit = ListAuditSink()
    client = DarajaClient(http, cfg, InMemoryTokenStore(), audit, clock)
    await sandbox.set_fault(Fault.SLOW)
    with pytest.raises(DarajaUnknownOutcome):
        await client.stk_push(PHONE, 100, "EV1", "Deposit")
    last = audit.exchanges[-1]
    assert (last.operation, last.status) == ("stk_push", None)
    assert last.error is not None and "ReadTimeout" in last.error
    assert last.duration_ms >= 200
