"""B2C, Transaction Status, Account Balance and Reversal: the client against the sandbox."""

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TypedDict

import httpx
import pytest
from aiohttp import web

from sandbox.daraja import (
    SANDBOX_INITIATOR,
    SANDBOX_INITIATOR_PASSWORD,
    DarajaSandbox,
    Delivery,
    Fault,
    Outcome,
    SandboxCertificate,
)
from services.daraja import (
    B2CResult,
    DarajaClient,
    DarajaConfigError,
    DarajaDuplicateRequest,
    DarajaRejected,
    DarajaUnknownOutcome,
    Initiator,
    InMemoryTokenStore,
    ListAuditSink,
    Product,
    RequestAccepted,
    ReversalResult,
    TransactionState,
    TransactionStatusResult,
    Verdict,
    load_certificate,
    parse_queue_timeout,
    parse_result,
    result_path,
    timeout_path,
)
from tests.test_daraja_client import KEY, SECRET, FixedClock, config
from tests.test_sandbox_daraja import Receiver

PHONE = "+254712345678"
CALLBACK_SECRET = "9f8e7d6c5b4a3f2e1d0c"


class Urls(TypedDict):
    result_url: str
    timeout_url: str


class ResultReceiver:
    """Our result and timeout endpoints: records each post by (product, kind), answers 200."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, str, object]] = []
        self.runner: web.AppRunner | None = None
        self.base = ""

    async def handle(self, request: web.Request) -> web.Response:
        assert request.match_info["secret"] == CALLBACK_SECRET
        kind = "timeout" if "/timeout/" in request.path else "result"
        self.posts.append((request.match_info["product"], kind, await request.json()))
        return web.json_response({"ResultCode": 0, "ResultDesc": "Accepted"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/daraja/{product}/{kind}/{secret}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base = f"http://127.0.0.1:{port}"

    def urls(self, product: Product) -> Urls:
        return {
            "result_url": self.base + result_path(product) + CALLBACK_SECRET,
            "timeout_url": self.base + timeout_path(product) + CALLBACK_SECRET,
        }

    def bodies(self, product: Product, kind: str = "result") -> list[object]:
        return [b for p, k, b in self.posts if p == product.value and k == kind]


@pytest.fixture
async def results() -> AsyncIterator[ResultReceiver]:
    r = ResultReceiver()
    await r.start()
    yield r
    assert r.runner is not None
    await r.runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 5, 11, 30, tzinfo=UTC))


@pytest.fixture
async def sandbox(clock: FixedClock) -> AsyncIterator[DarajaSandbox]:
    async with DarajaSandbox(
        KEY, SECRET, callback_delay=0.01, clock=clock.now, utility_balance=100_000
    ) as sb:
        yield sb


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def audit() -> ListAuditSink:
    return ListAuditSink()


def initiator(
    sb: DarajaSandbox, tmp: Path, password: str = SANDBOX_INITIATOR_PASSWORD
) -> Initiator:
    cert = sb.certificate.write(tmp / "sandbox-cert.pem")
    return Initiator.from_certificate(SANDBOX_INITIATOR, password, cert, sb.b2c_shortcode)


def make_client(
    http: httpx.AsyncClient,
    sb: DarajaSandbox,
    receiver: Receiver,
    audit: ListAuditSink,
    clock: FixedClock,
    operator: Initiator | None,
) -> DarajaClient:
    return DarajaClient(
        http, config(sb, receiver), InMemoryTokenStore(), audit, clock, initiator=operator
    )


@pytest.fixture
def client(
    http: httpx.AsyncClient,
    sandbox: DarajaSandbox,
    receiver: Receiver,
    audit: ListAuditSink,
    clock: FixedClock,
    tmp_path: Path,
) -> DarajaClient:
    return make_client(http, sandbox, receiver, audit, clock, initiator(sandbox, tmp_path))


async def pay(
    client: DarajaClient, results: ResultReceiver, originator: str, amount: int = 3500
) -> RequestAccepted:
    return await client.b2c_payment(
        originator, PHONE, amount, "Wages EV12", "EV12", **results.urls(Product.B2C)
    )


async def b2c_result(sandbox: DarajaSandbox, results: ResultReceiver, originator: str) -> B2CResult:
    await sandbox.wait_for_results(originator)
    parsed = parse_result(results.bodies(Product.B2C)[-1], Product.B2C)
    assert isinstance(parsed, B2CResult)
    return parsed


async def status_of(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver, **by: str
) -> TransactionStatusResult:
    accepted = await client.transaction_status(
        **results.urls(Product.TRANSACTION_STATUS), occasion="payout-7", **by
    )
    await sandbox.wait_for_results(accepted.originator_conversation_id)
    parsed = parse_result(
        results.bodies(Product.TRANSACTION_STATUS)[-1], Product.TRANSACTION_STATUS
    )
    assert isinstance(parsed, TransactionStatusResult)
    assert parsed.originator_conversation_id == accepted.originator_conversation_id
    assert parsed.reference["occasion"] == "payout-7"
    return parsed


# B2C


async def test_a_payout_is_accepted_then_its_result_says_paid(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    accepted = await pay(client, results, "cs-pay-1842-1")
    assert accepted.originator_conversation_id == "cs-pay-1842-1"
    assert accepted.conversation_id.startswith("AG_20261205_")
    result = await b2c_result(sandbox, results, "cs-pay-1842-1")
    assert result.verdict is Verdict.SUCCESS and result.succeeded
    assert result.result_code == "0"
    assert result.conversation_id == accepted.conversation_id
    assert result.amount == 3500
    assert result.receipt is not None and result.receipt == result.transaction_id
    assert result.receiver_name == "254712345678 - JANE WANJIKU"
    assert result.completed_at is not None and result.completed_at.hour == 14  # Nairobi
    assert result.utility_available == 96_500 == sandbox.utility_balance
    assert result.registered_customer is True
    assert result.problems == ()


async def test_no_secret_reaches_the_audit_log(
    client: DarajaClient, results: ResultReceiver, audit: ListAuditSink
) -> None:
    await pay(client, results, "cs-pay-audit-1")
    b2c = [e for e in audit.exchanges if e.operation == "b2c"]
    assert len(b2c) == 1
    body = b2c[0].request_body
    assert isinstance(body, dict)
    assert body["SecurityCredential"] == "[redacted]"
    assert body["ResultURL"].endswith("/daraja/b2c/result/[redacted]")
    assert body["QueueTimeOutURL"].endswith("/daraja/b2c/timeout/[redacted]")
    assert body["Occassion"] == "EV12" and body["Amount"] == "3500"
    everything = json.dumps([e.as_dict() for e in audit.exchanges], default=str)
    assert SANDBOX_INITIATOR_PASSWORD not in everything
    assert CALLBACK_SECRET not in everything


async def test_the_credential_is_pkcs1_v15_and_new_each_time(
    sandbox: DarajaSandbox, tmp_path: Path
) -> None:
    operator = initiator(sandbox, tmp_path)
    first, second = operator.credential(), operator.credential()
    assert len(first) == 344 and first != second
    assert sandbox.certificate.decrypts_to(first, SANDBOX_INITIATOR_PASSWORD)
    der = sandbox.certificate.write(tmp_path / "cert.cer", der=True)
    assert load_certificate(der).public_numbers() == operator.public_key.public_numbers()
    assert "Safaricom999" not in repr(operator)


@pytest.mark.parametrize("wrong", ["password", "certificate"])
async def test_a_wrong_password_or_certificate_stops_the_run_with_what_to_do(
    wrong: str,
    http: httpx.AsyncClient,
    sandbox: DarajaSandbox,
    receiver: Receiver,
    results: ResultReceiver,
    audit: ListAuditSink,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    if wrong == "password":
        operator = initiator(sandbox, tmp_path, password="Expired-90-days")
    else:
        other = SandboxCertificate().write(tmp_path / "production.pem")
        operator = Initiator.from_certificate(
            SANDBOX_INITIATOR, SANDBOX_INITIATOR_PASSWORD, other, sandbox.b2c_shortcode
        )
    client = make_client(http, sandbox, receiver, audit, clock, operator)
    await pay(client, results, "cs-pay-bad-1")
    result = await b2c_result(sandbox, results, "cs-pay-bad-1")
    assert result.result_code == "2001"
    assert result.verdict is Verdict.STOP_RUN
    assert "DARAJA_INITIATOR_PASSWORD" in result.reason
    assert "password has expired or is wrong" in result.reason
    assert sandbox.utility_balance == 100_000  # nothing moved


@pytest.mark.parametrize(
    ("code", "verdict", "words"),
    [
        ("1", Verdict.STOP_RUN, "top up"),
        ("21", Verdict.STOP_RUN, "role"),
        ("8006", Verdict.STOP_RUN, "locked"),
        ("2040", Verdict.LINE_FAILED, "not a registered M-Pesa customer"),
        ("SFC_IC0003", Verdict.LINE_FAILED, "does not exist on M-Pesa"),
        ("26", Verdict.LINE_FAILED, "busy"),
        ("15", Verdict.UNKNOWN, "being checked"),
    ],
)
async def test_each_scripted_result_code_is_classified_with_a_reason(
    code: str,
    verdict: Verdict,
    words: str,
    client: DarajaClient,
    sandbox: DarajaSandbox,
    results: ResultReceiver,
) -> None:
    sandbox.next_payout("254712345678", code)
    await pay(client, results, f"cs-pay-{code}")
    result = await b2c_result(sandbox, results, f"cs-pay-{code}")
    assert result.result_code == code
    assert result.verdict is verdict
    assert words in result.reason
    assert result.amount is None and result.receipt is None  # a failure has no parameters
    assert sandbox.utility_balance == 100_000


async def test_a_locked_credential_and_an_empty_account_stop_the_run(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    await pay(client, results, "cs-pay-big", amount=100_001)
    assert (await b2c_result(sandbox, results, "cs-pay-big")).result_code == "1"
    sandbox.lock_credential()
    await pay(client, results, "cs-pay-locked")
    locked = await b2c_result(sandbox, results, "cs-pay-locked")
    assert locked.result_code == "8006" and locked.verdict is Verdict.STOP_RUN


async def test_a_duplicate_id_is_unknown_and_pays_once(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    await pay(client, results, "cs-pay-dup-1")
    with pytest.raises(DarajaDuplicateRequest) as caught:
        await pay(client, results, "cs-pay-dup-1")
    assert isinstance(caught.value, DarajaUnknownOutcome)
    assert "Transaction Status" in str(caught.value)
    assert sandbox.utility_balance == 96_500
    assert sandbox.operator_stats.payouts_accepted == 1


async def test_a_timeout_after_sending_is_unknown_and_transaction_status_settles_it(
    http: httpx.AsyncClient,
    sandbox: DarajaSandbox,
    receiver: Receiver,
    results: ResultReceiver,
    audit: ListAuditSink,
    clock: FixedClock,
    tmp_path: Path,
) -> None:
    from services.daraja import DarajaTimeouts

    operator = initiator(sandbox, tmp_path)
    fast = DarajaClient(
        http,
        config(sandbox, receiver, timeouts=DarajaTimeouts(connect=1, read=0.3, write=1, pool=1)),
        InMemoryTokenStore(),
        audit,
        clock,
        initiator=operator,
    )
    await fast.b2c_payment("cs-pay-slow", PHONE, 100, "Wages", "EV12", **results.urls(Product.B2C))
    sandbox.fault, sandbox.slow_seconds = Fault.SLOW, 2.0
    sandbox.next_payout(None, delivery=Delivery.LOST)
    with pytest.raises(DarajaUnknownOutcome) as caught:
        await pay(fast, results, "cs-pay-slow-2")
    assert not isinstance(caught.value, DarajaDuplicateRequest)
    sandbox.fault = Fault.NONE
    with pytest.raises(DarajaDuplicateRequest):  # the same id again cannot pay twice
        await pay(fast, results, "cs-pay-slow-2")
    status = await status_of(fast, sandbox, results, originator_id="cs-pay-slow-2")
    assert status.state is TransactionState.COMPLETED
    assert status.original_originator_id == "cs-pay-slow-2"
    assert status.amount == 3500 and status.fee == Decimal("22.40")
    assert sandbox.utility_balance == 100_000 - 100 - 3500


async def test_a_5xx_after_sending_is_unknown_but_a_throttle_is_a_refusal(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    sandbox.fault = Fault.INTERNAL
    with pytest.raises(DarajaUnknownOutcome, match="HTTP 500"):
        await pay(client, results, "cs-pay-500")
    assert (await b2c_result(sandbox, results, "cs-pay-500")).succeeded  # it was taken
    sandbox.fault = Fault.BUSY
    with pytest.raises(DarajaRejected) as caught:
        await pay(client, results, "cs-pay-busy")
    assert caught.value.error_code == "500.003.02"
    assert sandbox.payout("cs-pay-busy") is None  # nothing happened: same id again is safe


async def test_a_lost_result_is_known_to_transaction_status_by_id_and_receipt(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    sandbox.next_payout(None, delivery=Delivery.LOST)
    await pay(client, results, "cs-pay-lost")
    status = await status_of(client, sandbox, results, originator_id="cs-pay-lost")
    assert results.bodies(Product.B2C) == []  # never posted
    assert status.state is TransactionState.COMPLETED and status.verdict is Verdict.SUCCESS
    assert status.receipt is not None
    assert status.credit_party == "254712345678 - JANE WANJIKU"
    payout = sandbox.payout("cs-pay-lost")
    assert payout is not None and payout.transaction_id == status.receipt
    by_receipt = await status_of(client, sandbox, results, transaction_id=status.receipt)
    assert by_receipt.state is TransactionState.COMPLETED
    assert by_receipt.original_originator_id == "cs-pay-lost"


async def test_transaction_status_of_a_failed_and_an_unknown_payout(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    sandbox.next_payout(None, "2040", Delivery.LOST)
    await pay(client, results, "cs-pay-unreg")
    failed = await status_of(client, sandbox, results, originator_id="cs-pay-unreg")
    assert failed.state is TransactionState.FAILED
    missing = await status_of(client, sandbox, results, originator_id="cs-pay-never")
    assert missing.state is TransactionState.NOT_FOUND


async def test_a_result_posted_twice_arrives_twice_identical(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    sandbox.next_payout(None, delivery=Delivery.TWICE)
    await pay(client, results, "cs-pay-twice")
    await sandbox.wait_for_results("cs-pay-twice", count=2)
    first, second = results.bodies(Product.B2C)
    assert first == second
    assert sandbox.utility_balance == 96_500


async def test_a_queue_timeout_is_not_a_failure(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    sandbox.next_payout(None, delivery=Delivery.QUEUE_TIMEOUT)
    accepted = await pay(client, results, "cs-pay-queue")
    await sandbox.wait_for_results("cs-pay-queue")
    assert results.bodies(Product.B2C) == []
    (posted,) = results.bodies(Product.B2C, "timeout")
    assert "SecurityCredential" not in json.dumps(posted)
    timeout = parse_queue_timeout(posted, Product.B2C)
    assert timeout.originator_conversation_id == "cs-pay-queue"
    assert timeout.conversation_id == accepted.conversation_id
    status = await status_of(client, sandbox, results, originator_id="cs-pay-queue")
    assert status.state is TransactionState.COMPLETED


async def test_a_result_can_arrive_before_the_accepted_answer(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    sandbox.next_payout(None, delivery=Delivery.BEFORE_RESPONSE)
    await pay(client, results, "cs-pay-early")
    (body,) = results.bodies(Product.B2C)  # already here when the call returned
    assert parse_result(body, Product.B2C).succeeded


async def test_bad_arguments_send_nothing(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    urls = results.urls(Product.B2C)
    cases: list[tuple[dict[str, object], str]] = [
        ({"remarks": "W"}, "Remarks 'W' needs at least 2"),
        ({"occasion": "x" * 101}, "Occassion is 101 characters; M-Pesa allows 100"),
        ({"amount": 5}, "outside M-Pesa's payout range KES 10–250,000"),
        ({"amount": 250_001}, "outside M-Pesa's payout range"),
        ({"phone": "0712345678"}, "0712345678"),
        ({"originator": "pay 1"}, "OriginatorConversationID 'pay 1' must be"),
        ({"result_url": "https://x.example/mpesa/result"}, "ResultURL contains 'mpesa'"),
    ]
    for change, message in cases:
        args: dict[str, object] = {
            "originator": "cs-pay-x",
            "phone": PHONE,
            "amount": 3500,
            "remarks": "Wages",
            "occasion": "EV12",
            **urls,
            **change,
        }
        with pytest.raises(DarajaConfigError, match=message):
            await client.b2c_payment(
                str(args["originator"]),
                str(args["phone"]),
                args["amount"],  # type: ignore[arg-type]
                str(args["remarks"]),
                str(args["occasion"]),
                str(args["result_url"]),
                str(args["timeout_url"]),
            )
    assert sandbox.operator_stats.payouts_accepted == 0
    assert sandbox.operator_stats.refused == []


async def test_without_an_operator_the_operator_apis_say_what_to_set(
    http: httpx.AsyncClient,
    sandbox: DarajaSandbox,
    receiver: Receiver,
    results: ResultReceiver,
    audit: ListAuditSink,
    clock: FixedClock,
) -> None:
    client = make_client(http, sandbox, receiver, audit, clock, None)
    assert not client.payouts_configured
    with pytest.raises(DarajaConfigError, match="DARAJA_INITIATOR_NAME"):
        await pay(client, results, "cs-pay-none")
    with pytest.raises(DarajaConfigError, match="DARAJA_CERTIFICATE"):
        await client.account_balance(**results.urls(Product.ACCOUNT_BALANCE))


# Account Balance, Reversal


async def test_account_balance_reports_the_utility_account_payouts_reduce(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    await pay(client, results, "cs-pay-bal")
    accepted = await client.account_balance(**results.urls(Product.ACCOUNT_BALANCE))
    await sandbox.wait_for_results(accepted.originator_conversation_id)
    (body,) = results.bodies(Product.ACCOUNT_BALANCE)
    balance = parse_result(body, Product.ACCOUNT_BALANCE)
    from services.daraja import AccountBalanceResult

    assert isinstance(balance, AccountBalanceResult)
    assert [a.name for a in balance.accounts] == [
        "Working Account",
        "Utility Account",
        "Charges Paid Account",
    ]
    assert balance.utility_available == 96_500
    assert balance.accounts[2].current == Decimal("-1540.00")


async def test_a_received_payment_is_reversed_once(
    client: DarajaClient,
    sandbox: DarajaSandbox,
    receiver: Receiver,
    results: ResultReceiver,
) -> None:
    sandbox.next_outcome(None, Outcome.SUCCESS)
    push = await client.stk_push(PHONE, 1500, "EV12-JANE", "Deposit")
    await sandbox.wait_for_callback(push.checkout_request_id)
    receipt = sandbox.checkouts[push.checkout_request_id].receipt
    assert receipt is not None and sandbox.utility_balance == 101_500
    urls = results.urls(Product.REVERSAL)

    async def reverse(transaction_id: str) -> ReversalResult:
        accepted = await client.reversal(transaction_id, 1500, "Refund EV12 deposit", **urls)
        await sandbox.wait_for_results(accepted.originator_conversation_id)
        parsed = parse_result(results.bodies(Product.REVERSAL)[-1], Product.REVERSAL)
        assert isinstance(parsed, ReversalResult)
        return parsed

    done = await reverse(receipt)
    assert done.verdict is Verdict.SUCCESS
    assert done.original_transaction_id == receipt and done.amount == 1500
    assert done.transaction_id is not None and done.transaction_id != receipt
    again = await reverse(receipt)
    assert again.result_code == "R000001" and again.verdict is Verdict.UNKNOWN
    unknown = await reverse("QJK0000000")
    assert unknown.result_code == "R000002" and unknown.verdict is Verdict.LINE_FAILED
    assert sandbox.utility_balance == 100_000


# parsing what Daraja posts


def test_results_are_read_by_key_with_string_codes() -> None:
    body = {
        "Result": {
            "ResultType": 0,
            "ResultCode": "0",
            "ResultDesc": "ok",
            "OriginatorConversationID": "1234-5678-1",
            "ConversationID": "AG_1",
            "TransactionID": "SG632NMUAB",
            "ResultParameters": {
                "ResultParameter": [
                    {"Key": "TransactionStatus", "Value": "Completed"},
                    {"Key": "Originator Conversation ID", "Value": "cs-pay-9"},
                    {"Key": "Amount", "Value": "3500.00"},
                    {"Key": "ReceiptNo", "Value": "SG632NMUAB"},
                    {"Key": "FinalisedTime", "Value": 20261206224852},
                ]
            },
            "ReferenceData": {"ReferenceItem": {"Key": "Occasion", "Value": "payout-9"}},
        }
    }
    status = parse_result(body, Product.TRANSACTION_STATUS)
    assert isinstance(status, TransactionStatusResult)
    assert status.state is TransactionState.COMPLETED
    assert status.original_originator_id == "cs-pay-9"
    assert status.amount == 3500
    assert status.finalised_at == datetime(2026, 12, 6, 19, 48, 52, tzinfo=UTC)
    assert status.reference["occasion"] == "payout-9"


def test_an_account_balance_string_may_arrive_html_escaped() -> None:
    text = (
        "Working Account|KES|700000.00|700000.00|0.00|0.00&amp;"
        "Utility Account|KES|228037.60|228037.60|0.00|0.00"
    )
    body = {
        "Result": {
            "ResultCode": 0,
            "ResultDesc": "ok",
            "OriginatorConversationID": "1-2-1",
            "ConversationID": "AG_2",
            "ResultParameters": {"ResultParameter": {"Key": "AccountBalance", "Value": text}},
        }
    }
    from services.daraja import AccountBalanceResult

    balance = parse_result(body, Product.ACCOUNT_BALANCE)
    assert isinstance(balance, AccountBalanceResult)
    assert balance.utility_available == 228_037  # cents dropped: never more than there is


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "no Result object"),
        ({"Result": {"ResultCode": None}}, "ResultCode None is not a code"),
        (
            {"Result": {"ResultCode": 0, "OriginatorConversationID": "", "ConversationID": "x"}},
            "OriginatorConversationID '' is not an id",
        ),
    ],
)
def test_a_malformed_result_says_what_is_wrong(body: object, reason: str) -> None:
    from services.daraja import MalformedCallback

    with pytest.raises(MalformedCallback) as caught:
        parse_result(body, Product.B2C)
    assert caught.value.reason == reason


def test_a_paid_amount_with_cents_is_flagged_not_rounded() -> None:
    body = {
        "Result": {
            "ResultCode": 0,
            "ResultDesc": "ok",
            "OriginatorConversationID": "cs-pay-1",
            "ConversationID": "AG_3",
            "ResultParameters": {
                "ResultParameter": [{"Key": "TransactionAmount", "Value": 3500.5}]
            },
        }
    }
    result = parse_result(body, Product.B2C)
    assert isinstance(result, B2CResult)
    assert result.amount is None
    assert result.problems == ("TransactionAmount 3500.5 is not whole shillings",)


def test_an_unreadable_certificate_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(DarajaConfigError, match=r"cannot read the certificate .*No such file"):
        load_certificate(tmp_path / "missing.cer")
    junk = tmp_path / "junk.cer"
    junk.write_bytes(b"not a certificate")
    with pytest.raises(DarajaConfigError, match=r"is not an X\.509 certificate in PEM or DER"):
        load_certificate(junk)


async def test_results_wait_for_the_sandbox_not_the_clock(
    client: DarajaClient, sandbox: DarajaSandbox, results: ResultReceiver
) -> None:
    await asyncio.gather(*(pay(client, results, f"cs-pay-many-{i}", 100) for i in range(5)))
    for i in range(5):
        assert (await b2c_result(sandbox, results, f"cs-pay-many-{i}")).succeeded
    assert sandbox.utility_balance == 99_500
