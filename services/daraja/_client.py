"""The Daraja client: one method per product, each a module beside this one."""

from __future__ import annotations

import httpx

from services.clock import Clock
from services.daraja._audit import AuditSink
from services.daraja._config import DarajaConfig
from services.daraja._results import StkPushAccepted, StkQueryResult
from services.daraja._session import Session
from services.daraja.auth import TokenStore
from services.daraja.mpesa_express import stk_push, stk_query


class DarajaClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        config: DarajaConfig,
        token_store: TokenStore,
        audit: AuditSink,
        clock: Clock,
    ) -> None:
        self._session = Session(http, config, token_store, audit, clock)

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
