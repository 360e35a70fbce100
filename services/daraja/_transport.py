"""One HTTP exchange with Daraja: sent, timed, audited with its secrets redacted, classified."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import httpx

from services.clock import Clock
from services.daraja._audit import AuditSink, DarajaExchange
from services.daraja._config import DarajaConfig
from services.daraja._errors import (
    DarajaError,
    DarajaRejected,
    DarajaUnavailable,
    DarajaUnknownOutcome,
)
from services.daraja._redact import header_secrets, redact, redact_headers

logger = logging.getLogger(__name__)


@dataclass
class Reply:
    status: int
    body: object  # parsed JSON, or the text when it is not JSON


def error_fields(body: object) -> tuple[str, str, str] | None:
    """A Daraja error body's (errorCode, errorMessage, requestId), or None."""
    if isinstance(body, dict) and isinstance(body.get("errorCode"), str):
        return (
            body["errorCode"],
            str(body.get("errorMessage", "")),
            str(body.get("requestId", "")),
        )
    return None


def rejected(status: int, error: tuple[str, str, str]) -> DarajaRejected:
    return DarajaRejected(
        http_status=status, error_code=error[0], error_message=error[1], request_id=error[2]
    )


class Transport:
    def __init__(
        self, http: httpx.AsyncClient, config: DarajaConfig, audit: AuditSink, clock: Clock
    ) -> None:
        self._http = http
        self._config = config
        self._audit = audit
        self._clock = clock
        self._base = config.base_url.rstrip("/")
        self._recent_tokens: list[str] = []  # only for redaction of audit records

    def remember(self, token: str) -> None:
        """Redact this access token wherever it shows up in later exchanges."""
        if token not in self._recent_tokens:
            self._recent_tokens = [*self._recent_tokens[-3:], token]

    async def exchange(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        body: dict[str, object] | None,
    ) -> Reply:
        """Send one request and keep it in the audit log.

        Raises DarajaUnavailable (nothing sent) or DarajaUnknownOutcome (sent, no answer).
        """
        url = self._base + path
        started_at = self._clock.now()
        started = time.monotonic()
        status: int | None = None
        parsed: object = None
        failure: DarajaError | None = None
        cause: httpx.HTTPError | None = None
        try:
            response = await self._http.request(
                method,
                url,
                headers=headers,
                content=None if body is None else json.dumps(body).encode(),
                timeout=self._config.timeouts.for_httpx(),
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            failure, cause = DarajaUnavailable(f"Daraja unreachable ({_describe(exc)})"), exc
        except httpx.HTTPError as exc:
            failure, cause = (
                DarajaUnknownOutcome(f"no answer from Daraja ({_describe(exc)})"),
                exc,
            )
        else:
            status = response.status_code
            try:
                parsed = response.json()
            except ValueError:
                parsed = response.text[:2000]
        duration_ms = round((time.monotonic() - started) * 1000)
        secrets_ = (
            self._config.passkey,
            self._config.consumer_secret,
            *self._recent_tokens,
            *header_secrets(headers),
        )
        await self._audit.record(
            DarajaExchange(
                operation=operation,
                method=method,
                url=url,
                request_headers=redact_headers(headers),
                request_body=redact(body, secrets_),
                status=status,
                response_body=redact(parsed, secrets_),
                error=None if failure is None else str(failure),
                started_at=started_at,
                duration_ms=duration_ms,
            )
        )
        if failure is not None:
            logger.warning("Daraja %s failed after %dms: %s", operation, duration_ms, failure)
            raise failure from cause
        assert status is not None
        if status >= 400:
            logger.warning("Daraja %s answered HTTP %d in %dms", operation, status, duration_ms)
        return Reply(status, parsed)


def _describe(exc: httpx.HTTPError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
