"""setWebhook and its siblings, and delivering updates to the webhook with Telegram's retries."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlsplit

import aiohttp

from ._checks import _Checks
from ._params import (
    LOOPBACK_HOSTS,
    SECRET_TOKEN,
    Files,
    _param_bool,
    _param_int,
    _param_json,
    _param_str,
)
from ._records import JSON, bad_request
from ._state import _Bot, _Webhook

logger = logging.getLogger(__name__)


class _Webhooks(_Checks):
    """The webhook methods, and one delivery task per bot with a webhook set."""

    async def _set_webhook(self, bot: _Bot, params: JSON, files: Files) -> tuple[bool, str]:
        url = _param_str(params, "url") or ""
        if not url:
            return await self._delete_webhook(bot, params, files)
        parts = urlsplit(url)
        local = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        if not (parts.scheme == "https" or local) or not parts.hostname:
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = _param_str(params, "secret_token")
        if secret is not None and not SECRET_TOKEN.fullmatch(secret):
            raise bad_request("secret token contains unallowed characters")
        max_connections = _param_int(params, "max_connections") or 40
        if not 1 <= max_connections <= 100:
            raise bad_request("invalid max_connections specified")
        self._set_allowed_updates(bot, _param_json(params, "allowed_updates"))
        if _param_bool(params, "drop_pending_updates"):
            bot.updates.clear()
        unchanged = (
            bot.webhook is not None
            and bot.webhook.url == url
            and bot.webhook.secret_token == secret
        )
        bot.webhook = _Webhook(url, secret, max_connections)
        await self._restart_delivery(bot)
        self._changes.notify()
        return True, "Webhook is already set" if unchanged else "Webhook was set"

    async def _delete_webhook(self, bot: _Bot, params: JSON, files: Files) -> tuple[bool, str]:
        if _param_bool(params, "drop_pending_updates"):
            bot.updates.clear()
        had_webhook = bot.webhook is not None
        bot.webhook = None
        await self._stop_delivery(bot)
        self._changes.notify()
        return True, "Webhook was deleted" if had_webhook else "Webhook is already deleted"

    async def _get_webhook_info(self, bot: _Bot, params: JSON, files: Files) -> JSON:
        info: JSON = {
            "url": bot.webhook.url if bot.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(bot.updates),
        }
        if bot.webhook is not None:
            info["max_connections"] = bot.webhook.max_connections
            info["ip_address"] = "127.0.0.1"
            if bot.allowed_updates_set:
                info["allowed_updates"] = bot.allowed_updates_set
            if bot.webhook.last_error_date is not None:
                info["last_error_date"] = bot.webhook.last_error_date
                info["last_error_message"] = bot.webhook.last_error_message
        return info

    async def _restart_delivery(self, bot: _Bot) -> None:
        await self._stop_delivery(bot)
        if bot.webhook is not None and self._session is not None:
            bot.webhook_task = asyncio.create_task(
                self._deliver(bot, bot.webhook), name=f"webhook @{bot.username}"
            )

    async def _stop_delivery(self, bot: _Bot) -> None:
        task, bot.webhook_task = bot.webhook_task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise

    async def _deliver(self, bot: _Bot, hook: _Webhook) -> None:
        delay = self.webhook_retry_delay
        headers = (
            {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
        )
        while True:
            while not bot.updates:
                await self._changes.wait(None)
            update = bot.updates[0]
            error = await self._post_update(hook.url, update, headers)
            if error is None:
                if bot.updates and bot.updates[0] is update:
                    bot.updates.pop(0)
                self.stats.webhook_deliveries += 1
                delay = self.webhook_retry_delay
                self._changes.notify()
                continue
            logger.info("webhook delivery to @%s failed: %s", bot.username, error)
            hook.last_error_date = int(self._clock())
            hook.last_error_message = error
            self.stats.webhook_failures += 1
            self._changes.notify()
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.webhook_max_retry_delay)

    async def _post_update(self, url: str, update: JSON, headers: dict[str, str]) -> str | None:
        assert self._session is not None
        timeout = aiohttp.ClientTimeout(total=self.webhook_timeout)
        try:
            async with self._session.post(
                url, json=update, headers=headers, timeout=timeout
            ) as response:
                await response.read()
                if 200 <= response.status < 300:
                    return None
                return f"Wrong response from the webhook: {response.status} {response.reason}"
        except aiohttp.ClientConnectorError:
            return "Connection refused"
        except TimeoutError:
            return "Read timeout expired"
        except aiohttp.ClientError as exc:
            return f"Connection error: {exc.__class__.__name__}"
