"""The Daraja stand-in refuses what Daraja refuses, with Daraja's bodies (raw HTTP)."""

import base64
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiohttp import web

from sandbox.daraja import (
    BUY_GOODS,
    SANDBOX_PASSKEY,
    DarajaSandbox,
    Fault,
    Outcome,
)

NAIROBI = ZoneInfo("Africa/Nairobi")
KEY, SECRET = "consumer-key", "consumer-secret"


class Receiver:
    """Our side of the callback: records what arrives, answers 200."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.read())
        return web.json_response({"ResultCode": 0, "ResultDesc": "Accepted"})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/daraja/stk/callback/{secret}", self.handle)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/daraja/stk/callback/9f8e7d6c5b4a"

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
async def sandbox() -> AsyncIterator[DarajaSandbox]:
    async with DarajaSandbox(KEY, SECRET, callback_delay=0.01) as sb:
        yield sb


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def basic(key: str = KEY, secret: str = SECRET) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


async def token(http: httpx.AsyncClient, sb: DarajaSandbox) -> str:
    reply = await http.get(
        f"{sb.base_url}/oauth/v1/generate",
        params={"grant_type": "client_credentials"},
        headers={"Authorization": basic()},
    )
    assert reply.status_code == 200
    return str(reply.json()["access_token"])


def push_body(callback_url: str, **changes: Any) -> dict[str, Any]:
    timestamp = datetime.now(UTC).astimezone(NAIROBI).strftime("%Y%m%d%H%M%S")
    body: dict[str, Any] = {
        "BusinessShortCode": 174379,
        "Password": base64.b64encode(f"174379{SANDBOX_PASSKEY}{timestamp}".encode()).decode(),
        "Timestamp": timestamp,
        "TransactionType": "CustomerPayBillOnline",
        "Amount": 1500,
        "PartyA": "254712345678",
        "PartyB": 174379,
        "PhoneNumber": "254712345678",
        "CallBackURL": callback_url,
        "AccountReference": "EV12-JANE",
        "TransactionDesc": "Deposit",
    }
    body.update(changes)
    return body


async def push(
    http: httpx.AsyncClient, sb: DarajaSandbox, body: dict[str, Any], tok: str | None = None
) -> httpx.Response:
    return await http.post(
        f"{sb.base_url}/mpesa/stkpush/v1/processrequest",
        json=body,
        headers={"Authorization": f"Bearer {tok or await token(http, sb)}"},
    )


async def query(
    http: httpx.AsyncClient, sb: DarajaSandbox, checkout_id: str, tok: str | None = None
) -> httpx.Response:
    body = push_body("http://x")
    fields = {k: body[k] for k in ("BusinessShortCode", "Password", "Timestamp")}
    return await http.post(
        f"{sb.base_url}/mpesa/stkpushquery/v1/query",
        json={**fields, "CheckoutRequestID": checkout_id},
        headers={"Authorization": f"Bearer {tok or await token(http, sb)}"},
    )


def assert_error(reply: httpx.Response, status: int, code: str, message: str) -> None:
    assert reply.status_code == status
    body = reply.json()
    assert set(body) == {"requestId", "errorCode", "errorMessage"}
    assert (body["errorCode"], body["errorMessage"]) == (code, message)


# OAuth


async def test_oauth_issues_a_string_expires_in_and_invalidates_the_previous_token(
    sandbox: DarajaSandbox, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    reply = await http.get(
        f"{sandbox.base_url}/oauth/v1/generate?grant_type=client_credentials",
        headers={"Authorization": basic()},
    )
    assert reply.json()["expires_in"] == "3599"
    first = reply.json()["access_token"]
    second = await token(http, sandbox)
    assert sandbox.stats.tokens_issued == 2
    assert_error(
        await push(http, sandbox, push_body(receiver.url), first),
        404,
        "404.001.03",
        "Invalid Access Token",
    )
    assert (await push(http, sandbox, push_body(receiver.url), second)).status_code == 200


async def test_oauth_refuses_wrong_keys_and_wrong_grant(
    sandbox: DarajaSandbox, http: httpx.AsyncClient
) -> None:
    url = f"{sandbox.base_url}/oauth/v1/generate"
    wrong = await http.get(
        url, params={"grant_type": "client_credentials"}, headers={"Authorization": basic(KEY, "x")}
    )
    assert_error(wrong, 400, "400.008.01", "Invalid Authentication passed")
    missing = await http.get(url, params={"grant_type": "client_credentials"})
    assert_error(missing, 400, "400.008.01", "Invalid Authentication passed")
    grant = await http.get(
        url, params={"grant_type": "password"}, headers={"Authorization": basic()}
    )
    assert_error(grant, 400, "400.008.02", "Invalid grant type passed")
    assert sandbox.stats.tokens_issued == 0


async def test_expired_token_is_refused(
    sandbox: DarajaSandbox, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    tok = await token(http, sandbox)
    sandbox.expire_tokens()
    reply = await push(http, sandbox, push_body(receiver.url), tok)
    assert_error(reply, 404, "404.001.03", "Invalid Access Token")


# STK push refusals


async def test_push_without_json_content_type_is_an_invalid_shortcode(
    sandbox: DarajaSandbox, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    import json

    reply = await http.post(
        f"{sandbox.base_url}/mpesa/stkpush/v1/processrequest",
        content=json.dumps(push_body(receiver.url)),
        headers={"Authorization": f"Bearer {await token(http, sandbox)}"},
    )
    assert_error(reply, 400, "400.002.02", "Bad Request - Invalid BusinessShortCode")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"BusinessShortCode": "abc"}, "BusinessShortCode"),
        ({"Timestamp": "2026-12-05 14:30"}, "Timestamp"),
        ({"TransactionType": "CustomerPayBill"}, "TransactionType"),
        ({"Amount": 0}, "Amount"),
        ({"Amount": 1.5}, "Amount"),
        ({"Amount": 250_001}, "Amount"),
        ({"PartyA": "0712345678"}, "PartyA"),
        ({"PhoneNumber": "254202345678"}, "PhoneNumber"),
        ({"PhoneNumber": "2547123456789"}, "PhoneNumber"),
        ({"AccountReference": "EV12-JANE-DOE"}, "AccountReference"),
        ({"TransactionDesc": "Deposit for EV"}, "TransactionDesc"),
        ({"CallBackURL": "not a url"}, "CallBackURL"),
        ({"CallBackURL": "https://example.com/mpesa/callback"}, "CallBackURL"),
        ({"CallBackURL": "https://example.com/cb/safaricom"}, "CallBackURL"),
        ({"CallBackURL": "https://example.com/cb?query=1"}, "CallBackURL"),
        ({"CallBackURL": "https://abc.ngrok-free.app/cb"}, "CallBackURL"),
        ({"CallBackURL": "https://example.com/exec/cb"}, "CallBackURL"),
        ({"CallBackURL": "https://example.com/cb/a b"}, "CallBackURL"),
    ],
)
async def test_push_refuses_invalid_fields(
    sandbox: DarajaSandbox,
    http: httpx.AsyncClient,
    receiver: Receiver,
    changes: dict[str, Any],
    field: str,
) -> None:
    reply = await push(http, sandbox, push_body(receiver.url, **changes))
    assert_error(reply, 400, "400.002.02", f"Bad Request - Invalid {field}")
    assert sandbox.pushes[-1].error_code == "400.002.02"
    assert sandbox.stats.pushes_accepted == 0


async def test_push_refuses_wrong_password_and_stale_timestamp(
    sandbox: DarajaSandbox, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    good = push_body(receiver.url)
    wrong_password = push_body(receiver.url, Password=base64.b64encode(b"nope").decode())
    assert_error(
        await push(http, sandbox, wrong_password), 500, "500.001.1001", "Wrong credentials"
    )
    # A UTC timestamp instead of Nairobi time is three hours off.
    utc = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    password = base64.b64encode(f"174379{SANDBOX_PASSKEY}{utc}".encode()).decode()
    utc_body = push_body(receiver.url, Timestamp=utc, Password=password)
    assert_error(await push(http, sandbox, utc_body), 500, "500.001.1001", "Wrong credentials")
    # Body timestamp differs from the one inside the password.
    earlier = (datetime.now(UTC) - timedelta(seconds=30)).astimezone(NAIROBI)
    mismatch = {**good, "Timestamp": earlier.strftime("%Y%m%d%H%M%S")}
    assert_error(await push(http, sandbox, mismatch), 500, "500.001.1001", "Wrong credentials")
    other = push_body(receiver.url, BusinessShortCode=600000)
    assert_error(await push(http, sandbox, other), 500, "500.001.1001", "Merchant does not exist")


async def test_second_push_while_a_prompt_is_open_cannot_lock_the_subscriber(
    sandbox: DarajaSandbox, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    sandbox.next_outcome("254712345678", Outcome.HOLD)
    first = await push(http, sandbox, push_body(receiver.url))
    assert first.status_code == 200
    second = await push(http, sandbox, push_body(receiver.url, Amount=200))
    assert second.status_code == 500
    assert second.json()["errorCode"] == "500.001.1001"
    assert "Unable to lock subscriber" in second.json()["errorMessage"]
    await sandbox.release(first.json()["CheckoutRequestID"], Outcome.CANCELLED)
    third = await push(http, sandbox, push_body(receiver.url, Amount=200))
    assert third.status_code == 200


async def test_spike_arrest_and_busy_fault(
    sandbox: DarajaSandbox, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    sandbox.spike_limit = 1
    tok = await token(http, sandbox)
    assert (await push(http, sandbox, push_body(receiver.url), tok)).status_code == 200
    other_phone = push_body(receiver.url, PartyA="254722000111", PhoneNumber="254722000111")
    assert_error(
        await push(http, sandbox, other_phone, tok), 500, "500.003.02", "Spike arrest violation"
    )
    sandbox.spike_limit = None
    await sandbox.set_fault(Fault.BUSY)
    assert_error(
        await push(http, sandbox, other_phone, tok), 500, "500.003.02", "Spike arrest violation"
    )


async def test_unknown_path_and_wrong_method_have_daraja_bodies(
    sandbox: DarajaSandbox, http: httpx.AsyncClient
) -> None:
    assert_error(
        await http.get(f"{sandbox.base_url}/mpesa/nothing"), 404, "404.001.01", "Resource not found"
    )
    assert_error(
        await http.get(f"{sandbox.base_url}/mpesa/stkpush/v1/processrequest"),
        405,
        "405.001",
        "Method Not Allowed",
    )


# Callbacks


async def test_accepted_push_reply_and_success_callback_have_daraja_shapes(
    sandbox: DarajaSandbox, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    reply = await push(http, sandbox, push_body(receiver.url))
    accepted = reply.json()
    assert set(accepted) == {
        "MerchantRequestID",
        "CheckoutRequestID",
        "ResponseCode",
        "ResponseDescription",
        "CustomerMessage",
    }
    assert accepted["ResponseCode"] == "0"
    assert accepted["CheckoutRequestID"].startswith("ws_CO_")
    [delivered] = await sandbox.wait_for_callback(accepted["CheckoutRequestID"])
    assert delivered.status == 200
    assert delivered.url == receiver.url
    stk = delivered.body["Body"]["stkCallback"]
    assert stk["ResultCode"] == 0
    items = {item["Name"]: item.get("Value") for item in stk["CallbackMetadata"]["Item"]}
    assert items["Amount"] == 1500.0
    assert re.fullmatch(r"QJK[A-Z0-9]{7}", items["MpesaReceiptNumber"])
    assert items["Balance"] is None
    assert items["PhoneNumber"] == 254712345678
    assert re.fullmatch(r"20\d{12}", str(items["TransactionDate"]))
    assert len(receiver.bodies) == 1


async def test_buy_goods_with_wrong_till_fails_later_with_2028(
    http: httpx.AsyncClient, receiver: Receiver
) -> None:
    async with DarajaSandbox(
        KEY, SECRET, account_type=BUY_GOODS, till="5544332", callback_delay=0
    ) as sb:
        body = push_body(receiver.url, TransactionType=BUY_GOODS, PartyB=174379)
        reply = await push(http, sb, body)
        assert reply.status_code == 200
        [delivered] = await sb.wait_for_callback(reply.json()["CheckoutRequestID"])
        assert delivered.body["Body"]["stkCallback"]["ResultCode"] == 2028


async def test_same_amount_to_same_phone_within_two_minutes_fails_with_17(
    sandbox: DarajaSandbox, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    tok = await token(http, sandbox)
    first = (await push(http, sandbox, push_body(receiver.url), tok)).json()
    await sandbox.wait_for_callback(first["CheckoutRequestID"])
    second = (await push(http, sandbox, push_body(receiver.url), tok)).json()
    [delivered] = await sandbox.wait_for_callback(second["CheckoutRequestID"])
    assert delivered.body["Body"]["stkCallback"]["ResultCode"] == 17


async def test_receipts_are_unique(
    sandbox: DarajaSandbox, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    tok = await token(http, sandbox)
    receipts = set()
    for amount in range(1, 6):
        reply = (await push(http, sandbox, push_body(receiver.url, Amount=amount), tok)).json()
        [delivered] = await sandbox.wait_for_callback(reply["CheckoutRequestID"])
        items = delivered.body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]
        receipts.add(next(i["Value"] for i in items if i["Name"] == "MpesaReceiptNumber"))
    assert len(receipts) == 5


async def test_callback_to_a_dead_receiver_is_recorded_not_retried(
    sandbox: DarajaSandbox, http: httpx.AsyncClient
) -> None:
    reply = await push(http, sandbox, push_body("http://127.0.0.1:9/daraja/stk/callback/abc"))
    [delivered] = await sandbox.wait_for_callback(reply.json()["CheckoutRequestID"])
    assert delivered.status is None
    assert delivered.error is not None


# Query


async def test_query_follows_the_push(
    sandbox: DarajaSandbox, http: httpx.AsyncClient, receiver: Receiver
) -> None:
    tok = await token(http, sandbox)
    sandbox.next_outcome(None, Outcome.HOLD)
    checkout = (await push(http, sandbox, push_body(receiver.url), tok)).json()["CheckoutRequestID"]
    pending = await query(http, sandbox, checkout, tok)
    assert_error(pending, 500, "500.001.1001", "The transaction is being processed")
    await sandbox.release(checkout, Outcome.WRONG_PIN)
    done = (await query(http, sandbox, checkout, tok)).json()
    assert (done["ResultCode"], done["ResultDesc"]) == (
        "2001",
        "The initiator information is invalid.",
    )
    unknown = await query(http, sandbox, "ws_CO_000", tok)
    assert_error(unknown, 500, "500.001.1001", "The transaction does not Exist")
