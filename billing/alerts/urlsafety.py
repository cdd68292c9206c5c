"""Webhook URLs go to public hosts only (unless WEBHOOK_ALLOW_PRIVATE): a user must not
be able to make the server POST into its own private network.

The host is resolved once per attempt, every address is checked, and the request goes to
the checked address (``pinned``), so a DNS answer that changes between the check and the
connection (rebinding) cannot point the POST elsewhere.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeWebhookUrl(ValueError):
    """The message is safe to show to the user."""


def check_webhook_url(url: str, *, resolve: bool = True) -> str | None:
    """Refuse ``url`` unless it is http(s) to a public host; return the checked address to
    connect to (None when private hosts are allowed or ``resolve`` is off)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookUrl("Enter an http or https URL.")
    if len(url) > 500:
        raise UnsafeWebhookUrl("The URL is longer than 500 characters.")
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return None
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise UnsafeWebhookUrl("The webhook must be on a public host.") from None
        if not resolve:
            return None
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except OSError:
            raise UnsafeWebhookUrl("The webhook's host does not resolve.") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not all(address.is_global for address in addresses):
        raise UnsafeWebhookUrl("The webhook must be on a public host.")
    return str(addresses[0])


def pinned(url: str, address: str | None) -> tuple[str, dict[str, str], dict[str, str]]:
    """``url`` rewritten to connect to ``address``, with the Host header and TLS name of the
    original host: ``(url, headers, httpx extensions)``. Unchanged when ``address`` is None."""
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    host = parts.hostname or ""
    ip = f"[{address}]" if ":" in address else address
    netloc = f"{ip}:{parts.port}" if parts.port else ip
    headers = {"Host": parts.netloc.rsplit("@", 1)[-1]}
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), headers, extensions
