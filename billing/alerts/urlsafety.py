"""Webhook URLs go to public hosts only (unless WEBHOOK_ALLOW_PRIVATE): a user must not
be able to make the server POST into its own private network."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings


class UnsafeWebhookUrl(ValueError):
    """The message is safe to show to the user."""


def check_webhook_url(url: str, *, resolve: bool = True) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhookUrl("Enter an http or https URL.")
    if len(url) > 500:
        raise UnsafeWebhookUrl("The URL is longer than 500 characters.")
    if settings.WEBHOOK_ALLOW_PRIVATE:
        return
    host = parts.hostname
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
            raise UnsafeWebhookUrl("The webhook must be on a public host.") from None
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
        except OSError:
            raise UnsafeWebhookUrl("The webhook's host does not resolve.") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not all(address.is_global for address in addresses):
        raise UnsafeWebhookUrl("The webhook must be on a public host.")
