"""What every product module (STK push, STK query, B2C to come) sends its requests through."""

from __future__ import annotations

import logging
from datetime import datetime

import httpx

from services.clock import Clock
from services.daraja._audit import AuditSink
from services.daraja._config import DarajaConfig
from services.daraja._errors import DarajaAuthError
from services.daraja._transport import Reply, Transport, error_fields
from services.daraja.auth import Tokens, TokenStore

logger = logging.getLogger(__name__)

_TOKEN_REFUSED = "404.001.03"


class Session:
    """One Daraja account: its settings, its clock, and authorised, audited POSTs."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        config: DarajaConfig,
        token_store: TokenStore,
        audit: AuditSink,
        clock: Clock,
    ) -> None:
        self.config = config
        self._clock = clock
        self._transport = Transport(http, config, audit, clock)
        self._tokens = Tokens(self._transport, config, token_store, clock)

    def now(self) -> datetime:
        return self._clock.now()

    async def post(self, operation: str, path: str, body: dict[str, object]) -> Reply:
        """POST with the access token; a refused token is replaced and the POST resent once.

        Daraja refuses the token (404.001.03) before it looks at the request, so
        resending then cannot put a second prompt on anyone's phone.
        """
        token = await self._tokens.current()
        reply = await self._post(operation, path, body, token)
        error = error_fields(reply.body)
        if error is None or error[0] != _TOKEN_REFUSED:
            return reply
        # Refused before processing, so resending is safe; once only, never a loop.
        logger.warning("Daraja refused the token on %s; fetching a new one", operation)
        token = await self._tokens.fresh(stale=token)
        reply = await self._post(operation, path, body, token)
        error = error_fields(reply.body)
        if error is not None and error[0] == _TOKEN_REFUSED:
            raise DarajaAuthError(
                http_status=reply.status,
                error_code=error[0],
                error_message=error[1],
                request_id=error[2],
            )
        return reply

    async def _post(self, operation: str, path: str, body: dict[str, object], token: str) -> Reply:
        return await self._transport.exchange(
            operation,
            "POST",
            path,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            body=body,
        )
