"""Where a webhook may go: public https addresses only, checked on every address the host
resolves to, when it is added and again before each delivery (a host may resolve elsewhere
by then: DNS rebinding). The delivery then connects to the address that was checked."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from services.webhooks._errors import AddressRefused, InvalidWebhook

URL_LIMIT = 500  # the url column


@dataclass(frozen=True)
class Target:
    """A webhook URL whose host resolved to `address`, which passed the checks."""

    url: str
    host: str
    port: int
    address: str

    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address (the Host header and TLS
        name stay the host's: see sender)."""
        parts = urlsplit(self.url)
        ip = f"[{self.address}]" if ":" in self.address else self.address
        return parts._replace(netloc=f"{ip}:{self.port}").geturl()

    @property
    def host_header(self) -> str:
        default = 443 if self.url.startswith("https:") else 80
        return self.host if self.port == default else f"{self.host}:{self.port}"


def parse(text: str, *, allow_private: bool) -> SplitResult:
    """The URL's parts, or why it cannot be a webhook address."""
    url = text.strip()
    if len(url) > URL_LIMIT:
        raise InvalidWebhook(f"That address is {len(url)} characters; at most {URL_LIMIT}.")
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise AddressRefused(
            f"{url or 'That'} is not an https address. Webhooks go to https://… addresses only, "
            "for example https://hooks.example.com/callsheet"
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhook(
            "Leave the user name and password out of the address: check the "
            "Callsheet-Signature header instead."
        )
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        raise InvalidWebhook(f"The port in {url} is not a number from 1 to 65535.") from exc
    return parts


def refusal(address: str) -> str | None:
    """Why webhooks may not go to `address`, or None for a public one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_unspecified or ip.is_multicast:
        return "not a public address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved or not ip.is_global:
        return "not a public address"
    return None


async def resolve(text: str, *, allow_private: bool) -> Target:
    """Checks `text` and every address its host resolves to; returns the first address.
    Refused with a message naming the address, if any of them is not public."""
    parts = parse(text, allow_private=allow_private)
    host = parts.hostname
    assert host is not None
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except (socket.gaierror, UnicodeError) as exc:
        raise AddressRefused(
            f"I could not find {host}: check the address and that its DNS is set up."
        ) from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not addresses:
        raise AddressRefused(f"I could not find {host}: it has no address.")
    if not allow_private:
        for address in addresses:
            why = refusal(address)
            if why is not None:
                named = host if host == address else f"{host} ({address})"
                raise AddressRefused(
                    f"{named} is {why}. Webhooks go only to public https addresses."
                )
    return Target(url=parts.geturl(), host=host, port=port, address=addresses[0])
