"""The Daraja client: one method per product, each a module beside this one."""

from __future__ import annotations

import httpx

from services.clock import Clock
from services.daraja._audit import AuditSink
from services.daraja._config import DarajaConfig
from services.daraja._initiated import RequestAccepted, require
from services.daraja._results import StkPushAccepted, StkQueryResult
from services.daraja._session import Session
from services.daraja.account_balance import account_balance
from services.daraja.auth import TokenStore
from services.daraja.b2c import B2CCommand, b2c_payment
from services.daraja.mpesa_express import stk_push, stk_query
from services.daraja.reversal import reversal
from services.daraja.security import Initiator
from services.daraja.transaction_status import transaction_status


class DarajaClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        config: DarajaConfig,
        token_store: TokenStore,
        audit: AuditSink,
        clock: Clock,
        initiator: Initiator | None = None,
    ) -> None:
        self._session = Session(http, config, token_store, audit, clock)
        self._initiator = initiator  # None: the operator APIs raise DarajaConfigError

    @property
    def payouts_configured(self) -> bool:
        return self._initiator is not None

    async def stk_push(
        self, phone_e164: str, amount: int, account_reference: str, transaction_desc: str
    ) -> StkPushAccepted:
        """Put a PIN prompt on the payer's phone.

        Raises DarajaRejected (nothing happened), DarajaUnavailable (nothing
        sent) or DarajaUnknownOutcome (a prompt may be showing: do not resend).
        """
        return await stk_push(
            self._session, phone_e164, amount, account_reference, transaction_desc
        )

    async def stk_query(self, checkout_request_id: str) -> StkQueryResult:
        """Ask Daraja what became of a push. Safe to repeat."""
        return await stk_query(self._session, checkout_request_id)

    # The operator APIs: each answers "accepted"; the outcome is POSTed to result_url
    # (parse it with `parse_result`), or a QueueTimeOut to timeout_url (`parse_queue_timeout`).

    async def b2c_payment(
        self,
        originator_id: str,
        phone: str,
        amount: int,
        remarks: str,
        occasion: str,
        result_url: str,
        timeout_url: str,
        command: B2CCommand = B2CCommand.BUSINESS,
    ) -> RequestAccepted:
        """Pay `amount` shillings to `phone` (E.164) from the B2C shortcode.

        `originator_id` is the payout's own id, stored before this call; resending
        the same id is always safe. Raises DarajaConfigError (bad argument, nothing
        sent), DarajaRejected / DarajaUnavailable (nothing happened: send again with
        the SAME id), DarajaUnknownOutcome or its DarajaDuplicateRequest (it may
        have been taken: settle it with Transaction Status, never with a new id).
        """
        return await b2c_payment(
            self._session,
            require(self._initiator),
            originator_id,
            phone,
            amount,
            remarks,
            occasion,
            result_url,
            timeout_url,
            command,
        )

    async def transaction_status(
        self,
        *,
        result_url: str,
        timeout_url: str,
        originator_id: str | None = None,
        transaction_id: str | None = None,
        remarks: str = "Payout check",
        occasion: str = "",
    ) -> RequestAccepted:
        """Ask the outcome of a payout (by our id) or any transaction (by receipt). Safe to repeat.

        Raises DarajaConfigError, DarajaRejected or DarajaUnavailable (ask again).
        """
        return await transaction_status(
            self._session,
            require(self._initiator),
            result_url=result_url,
            timeout_url=timeout_url,
            originator_id=originator_id,
            transaction_id=transaction_id,
            remarks=remarks,
            occasion=occasion,
        )

    async def account_balance(
        self, *, result_url: str, timeout_url: str, remarks: str = "Balance check"
    ) -> RequestAccepted:
        """Ask the B2C shortcode's balances. Safe to repeat; raises as transaction_status."""
        return await account_balance(
            self._session,
            require(self._initiator),
            result_url=result_url,
            timeout_url=timeout_url,
            remarks=remarks,
        )

    async def reversal(
        self,
        transaction_id: str,
        amount: int,
        remarks: str,
        *,
        result_url: str,
        timeout_url: str,
        occasion: str = "",
    ) -> RequestAccepted:
        """Reverse, in full, the payment received with receipt `transaction_id`.

        Raises as b2c_payment; after an unknown outcome, a second request is answered
        R000001 "already reversed" rather than paying twice.
        """
        return await reversal(
            self._session,
            require(self._initiator),
            transaction_id,
            amount,
            remarks,
            result_url=result_url,
            timeout_url=timeout_url,
            occasion=occasion,
        )
