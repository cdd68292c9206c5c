"""allauth adapter: failed sign-ins are throttled per address and email together.

allauth's own per-email throttle counts every caller's failures against the email, so
anyone who knows an address can lock its owner out (the right password then gets "too many
attempts" too). Keyed on (email, client address) instead, a stranger's failures only
throttle the stranger; the per-address limit (``10/m/ip``) still bounds one client's
guessing across emails. The admin signs in through the same form (see promptgrid/urls.py).
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal.ratelimit import get_ip
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        return f"{super()._get_login_attempts_cache_key(request, **credentials)}:{get_ip(request)}"
