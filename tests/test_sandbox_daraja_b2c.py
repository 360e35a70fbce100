"""The Daraja stand-in's operator endpoints refuse what Daraja refuses (raw HTTP)."""

import base64
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.check import run_checks
from bot.cli import _secrets
from bot.logs import RedactSecrets
from bot.settings import ConfigError, load_settings
from sandbox.daraja import (
    SANDBOX_INITIATOR,
    SANDBOX_INITIATOR_PASSWORD,
    DarajaSandbox,
)
from services.daraja import Initiator, Product
from tests.test_daraja_b2c import ResultReceiver
from tests.test_sandbox_daraja import KEY, SECRET, assert_error, token


@pytest.fixture
async def sandbox() -> AsyncIterator[DarajaSandbox]:
    async with DarajaSandbox(KEY, SECRET, callback_delay=0.01) as sb:
        yield sb


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


@pytest.fixture
async def results() -> AsyncIterator[ResultReceiver]:
    r = ResultReceiver()
    await r.start()
    yield r
    assert r.runner is not None
    await r.runner.cleanup()


def credential(sb: DarajaSandbox, tmp: Path, password: str = SANDBOX_INITIATOR_PASSWORD) -> str:
    cert = sb.certificate.write(tmp / "c.pem")
    return Initiator.from_certificate(SANDBOX_INITIATOR, password, cert, "174379").credential()


def b2c_body(sb: DarajaSandbox, tmp: Path, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "OriginatorConversationID": "cs-pay-1",
        "InitiatorName": SANDBOX_INITIATOR,
        "SecurityCredential": credential(sb, tmp),
        "CommandID": "BusinessPayment",
        "Amount": "3500",
        "PartyA": "174379",
        "PartyB": "254712345678",
        "Remarks": "Wages EV12",
        "QueueTimeOutURL": "http://127.0.0.1:9/daraja/b2c/timeout/abc123",
        "ResultURL": "http://127.0.0.1:9/daraja/b2c/result/abc123",
        "Occassion": "EV12",
    }
    body.update(changes)
    return body


async def post(
    http: httpx.AsyncClient, sb: DarajaSandbox, path: str, body: dict[str, Any]
) -> httpx.Response:
    return await http.post(
        sb.base_url + path, json=body, headers={"Authorization": f"Bearer {await token(http, sb)}"}
    )


B2C = "/mpesa/b2c/v3/paymentrequest"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"Remarks": "W"}, "Remarks"),
        ({"Remarks": "x" * 101}, "Remarks"),
        ({"Occassion": ""}, "Occassion"),
        ({"PartyB": "0712345678"}, "PartyB"),
        ({"PartyB": "254812345678"}, "PartyB"),
        ({"Amount": "12.50"}, "Amount"),
        ({"Amount": 0}, "Amount"),
        ({"CommandID": "Salary"}, "CommandID"),
        ({"PartyA": "short-code"}, "PartyA"),
        ({"SecurityCredential": ""}, "SecurityCredential"),
        ({"OriginatorConversationID": ""}, "OriginatorConversationID"),
        ({"ResultURL": "https://x.example/mpesa/result"}, "ResultURL"),
        ({"QueueTimeOutURL": "not a url"}, "QueueTimeOutURL"),
    ],
)
async def test_b2c_refuses_bad_fields(
    change: dict[str, Any],
    field: str,
    http: httpx.AsyncClient,
    sandbox: DarajaSandbox,
    tmp_path: Path,
) -> None:
    reply = await post(http, sandbox, B2C, b2c_body(sandbox, tmp_path, **change))
    assert_error(reply, 400, "400.002.02", f"Bad Request - Invalid {field}")
    assert sandbox.payouts == {}


async def test_b2c_refuses_a_duplicate_id_and_pays_once(
    http: httpx.AsyncClient, sandbox: DarajaSandbox, tmp_path: Path
) -> None:
    first = await post(http, sandbox, B2C, b2c_body(sandbox, tmp_path))
    assert first.status_code == 200
    assert first.json()["ResponseDescription"] == "Accept the service request successfully."
    again = await post(http, sandbox, B2C, b2c_body(sandbox, tmp_path, Amount="10"))
    assert_error(again, 500, "500.002.1001", "Duplicate OriginatorConversationID.")
    assert sandbox.utility_balance == 1_000_000 - 3500


async def test_a_bad_credential_is_accepted_then_fails_with_2001(
    http: httpx.AsyncClient, sandbox: DarajaSandbox, results: ResultReceiver, tmp_path: Path
) -> None:
    urls = results.urls(Product.B2C)
    cases = {
        "cs-pay-wrong-pw": {"SecurityCredential": credential(sandbox, tmp_path, "guess")},
        "cs-pay-garbage": {"SecurityCredential": base64.b64encode(b"x" * 256).decode()},
        "cs-pay-not-b64": {"SecurityCredential": "***"},
        "cs-pay-wrong-op": {"InitiatorName": "someone"},
    }
    for originator, change in cases.items():
        body = b2c_body(
            sandbox,
            tmp_path,
            OriginatorConversationID=originator,
            ResultURL=urls["result_url"],
            QueueTimeOutURL=urls["timeout_url"],
            **change,
        )
        assert (await post(http, sandbox, B2C, body)).status_code == 200
        (delivered,) = await sandbox.wait_for_results(originator)
        assert delivered.status == 200
        assert delivered.body["Result"]["ResultCode"] == 2001
        assert delivered.body["Result"]["ResultDesc"] == "The initiator information is invalid."
    assert sandbox.utility_balance == 1_000_000


async def test_operator_requests_need_a_valid_token(
    http: httpx.AsyncClient, sandbox: DarajaSandbox, tmp_path: Path
) -> None:
    reply = await http.post(
        sandbox.base_url + B2C,
        json=b2c_body(sandbox, tmp_path),
        headers={"Authorization": "Bearer not-a-token"},
    )
    assert_error(reply, 404, "404.001.03", "Invalid Access Token")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (
            "/mpesa/transactionstatus/v1/query",
            {"CommandID": "TransactionStatusQuery", "PartyA": "174379", "IdentifierType": "4"},
            "TransactionID",
        ),
        (
            "/mpesa/accountbalance/v1/query",
            {"CommandID": "AccountBalance", "PartyA": "174379", "IdentifierType": "1"},
            "IdentifierType",
        ),
        (
            "/mpesa/reversal/v1/request",
            {
                "CommandID": "TransactionReversal",
                "TransactionID": "QJK1234567",
                "Amount": "100",
                "ReceiverParty": "174379",
                "RecieverIdentifierType": "2",
            },
            "RecieverIdentifierType",
        ),
    ],
)
async def test_queries_and_reversals_refuse_bad_fields(
    path: str,
    body: dict[str, Any],
    field: str,
    http: httpx.AsyncClient,
    sandbox: DarajaSandbox,
    tmp_path: Path,
) -> None:
    full = {
        "Initiator": SANDBOX_INITIATOR,
        "SecurityCredential": credential(sandbox, tmp_path),
        "Remarks": "Checking",
        "ResultURL": "http://127.0.0.1:9/daraja/x/result/abc123",
        "QueueTimeOutURL": "http://127.0.0.1:9/daraja/x/timeout/abc123",
        **body,
    }
    reply = await post(http, sandbox, path, full)
    assert_error(reply, 400, "400.002.02", f"Bad Request - Invalid {field}")


# start-up and `callsheet check`


def operator_settings(sandbox: DarajaSandbox, tmp_path: Path, **changes: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "daraja_initiator_name": SANDBOX_INITIATOR,
        "daraja_initiator_password": SANDBOX_INITIATOR_PASSWORD,
        "daraja_certificate": str(sandbox.certificate.write(tmp_path / "sandbox.pem")),
        "daraja_shortcode": "174379",
    }
    values.update(changes)
    return values


def test_settings_build_the_operator(sandbox: DarajaSandbox, tmp_path: Path) -> None:
    settings = load_settings(**operator_settings(sandbox, tmp_path, daraja_b2c_rate=50))
    assert settings.payouts_configured and settings.daraja_b2c_rate == 50
    operator = settings.daraja_initiator()
    assert operator is not None and operator.shortcode == "174379"
    assert sandbox.certificate.decrypts_to(operator.credential(), SANDBOX_INITIATOR_PASSWORD)
    assert load_settings().daraja_initiator() is None  # payouts off


def test_the_operator_password_is_redacted_from_logs(
    sandbox: DarajaSandbox, tmp_path: Path
) -> None:
    settings = load_settings(**operator_settings(sandbox, tmp_path))
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "payout with %s", (SANDBOX_INITIATOR_PASSWORD,), None
    )
    assert RedactSecrets(_secrets(settings)).filter(record)
    assert SANDBOX_INITIATOR_PASSWORD not in record.getMessage()


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        (
            {"daraja_certificate": "/nowhere/cert.cer"},
            "DARAJA_CERTIFICATE is invalid: cannot read the certificate /nowhere/cert.cer "
            "(No such file or directory)",
        ),
        (
            {"daraja_initiator_password": None},
            "DARAJA_INITIATOR_PASSWORD is required when DARAJA_INITIATOR_NAME is set",
        ),
        (
            {"daraja_initiator_name": "", "daraja_initiator_password": None},
            "DARAJA_INITIATOR_NAME is required when DARAJA_CERTIFICATE is set",
        ),
        ({"daraja_b2c_shortcode": "60O992"}, "DARAJA_B2C_SHORTCODE is invalid: must be"),
    ],
)
def test_a_broken_operator_is_one_line_at_start_up(
    changes: dict[str, Any], line: str, sandbox: DarajaSandbox, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**operator_settings(sandbox, tmp_path, **changes))
    message = str(caught.value)
    assert "\n" not in message
    assert line in message
    assert SANDBOX_INITIATOR_PASSWORD not in message


async def test_check_reports_the_operator_and_a_certificate_gone_since_start(
    sandbox: DarajaSandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stk = {
        "daraja_base_url": sandbox.base_url,
        "daraja_consumer_key": KEY,
        "daraja_consumer_secret": SECRET,
        "daraja_passkey": "x" * 10,
        "daraja_callback_secret": "a1b2c3d4e5f6",
        "public_base_url": "https://callsheet.example.co.ke",
        "database_url": f"sqlite://{tmp_path}/db.sqlite3",
    }
    settings = load_settings(**operator_settings(sandbox, tmp_path), **stk)
    await run_checks(settings)
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["daraja"] == "ok (OAuth token issued; payouts as testapi from 174379)"
    assert "payouts" not in lines
    (tmp_path / "sandbox.pem").unlink()
    assert await run_checks(settings) == 1
    lines = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    assert lines["payouts"] == (
        "failed: DARAJA_CERTIFICATE is invalid: cannot read the certificate "
        f"{tmp_path}/sandbox.pem (No such file or directory)"
    )
