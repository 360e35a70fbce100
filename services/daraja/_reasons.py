"""Daraja's result codes and error codes in plain English, for the manager."""

from __future__ import annotations

_RESULT_REASONS: dict[int, str] = {
    0: "paid",
    1: "insufficient M-Pesa balance",
    2: "the amount is below M-Pesa's minimum",
    3: "the amount is above M-Pesa's maximum",
    4: "the payer's daily M-Pesa limit is exceeded",
    8: "the payment would take the till/paybill over its balance limit",
    17: "same amount to the same phone within 2 minutes; wait 2 minutes before resending",
    26: "M-Pesa is busy right now; try again in a minute",
    1001: "another M-Pesa prompt is already open on that phone; wait a minute and resend",
    1019: "the prompt expired before the payer answered",
    1025: "the prompt could not be sent (the message was too long)",
    1032: "cancelled by the payer",
    1037: "the phone could not be reached (off, out of coverage, or no answer)",
    2001: "wrong PIN",
    2028: "the paybill/till settings do not match the transaction type (check DARAJA_PARTY_B)",
    8006: "the payer's M-Pesa PIN is locked",
    9999: "M-Pesa could not send the prompt; try again",
}


def result_reason(code: int, description: str = "") -> str:
    """What a ResultCode means, in plain English for the manager."""
    known = _RESULT_REASONS.get(code)
    if known is not None:
        return known
    detail = f": {description}" if description else ""
    return f"M-Pesa reported result {code}{detail}"


def rejection_reason(error_code: str, error_message: str) -> str:
    """What a Daraja errorCode means, in plain English for the manager."""
    message = error_message.lower()
    if error_code == "500.001.1001":
        if "lock subscriber" in message or "already in process" in message:
            return "a prompt is already waiting on that phone; wait a minute and resend"
        if "wrong credentials" in message:
            return "M-Pesa refused our credentials (shortcode, passkey or clock); tell the admin"
        if "merchant does not exist" in message:
            return "M-Pesa does not know our shortcode; tell the admin"
        return (
            "M-Pesa could not process the request (wrong credentials, or a prompt is "
            "already waiting on that phone — wait a minute and resend)"
        )
    if error_code == "400.002.02":
        return f"M-Pesa refused a field of the request: {error_message}"
    if error_code == "500.003.02":
        return "M-Pesa is busy right now; try again in a minute"
    if error_code == "500.003.03":
        return "M-Pesa's request quota for our account is used up; try again later"
    if error_code == "500.003.1001":
        return "M-Pesa had an internal error; try again in a minute"
    if error_code == "404.001.03":
        return "M-Pesa refused our access token; tell the admin"
    if error_code.startswith("400.008"):
        return "M-Pesa refused our API keys (consumer key/secret); tell the admin"
    if error_code in ("404.001.01", "405.001"):
        return "the M-Pesa address is wrong (check DARAJA_BASE_URL); tell the admin"
    return f"M-Pesa refused the request ({error_code}: {error_message})"


# Results of B2C, Transaction Status, Account Balance and Reversal (codes kept as strings:
# they may be alphanumeric). What happened, then what the manager should do.
_OPERATOR = "ask the M-Pesa org portal admin to reset it, then update DARAJA_INITIATOR_PASSWORD"
_PAYOUT_REASONS: dict[str, str] = {
    "0": "done",
    "1": "the M-Pesa utility account cannot cover it: top up the B2C account, then retry",
    "2": "the amount is below M-Pesa's minimum for a payout",
    "3": "the amount is above M-Pesa's maximum for a payout (KES 250,000)",
    "4": "the recipient's daily M-Pesa limit would be passed; pay the rest tomorrow",
    "8": "the recipient's M-Pesa balance would pass its maximum (KES 500,000)",
    "11": "the paying M-Pesa account is not active: call Safaricom's business care",
    "15": "M-Pesa has seen this payout id before: its outcome is being checked",
    "17": "M-Pesa had an internal failure; the payment did not go through",
    "21": (
        "the API operator lacks the role for this: ask the M-Pesa org portal admin to give "
        "DARAJA_INITIATOR_NAME the ORG B2C API Initiator, Transaction Status, Balance Query "
        "and Reversals roles"
    ),
    "26": "M-Pesa was busy; the payment did not go through",
    "2001": (
        "The API operator's password has expired or is wrong, or DARAJA_CERTIFICATE is not "
        f"the one for DARAJA_ENV: {_OPERATOR}"
    ),
    "2006": "the paying account's status does not allow it: call Safaricom's business care",
    "2028": "this shortcode is not allowed to pay out (B2C): check DARAJA_B2C_SHORTCODE",
    "2040": "the number is not a registered M-Pesa customer; ask them for their M-Pesa number",
    "8006": f"The API operator's credential is locked (too many wrong tries): {_OPERATOR}",
    "SFC_IC0003": "the number does not exist on M-Pesa; check the phone number",
    "R000001": "this payment was already reversed",
    "R000002": "M-Pesa does not know that transaction (wrong receipt number)",
}


def payout_reason(code: str, description: str = "") -> str:
    """What a B2C / Transaction Status / Account Balance / Reversal ResultCode means."""
    known = _PAYOUT_REASONS.get(code.strip())
    if known is not None:
        return known
    detail = f": {description}" if description else ""
    return f"M-Pesa reported result {code}{detail}"
