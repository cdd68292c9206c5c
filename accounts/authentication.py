"""DRF authentication by ``Authorization: Bearer pg-v1-…`` for the key APIs.

Put first in a view's ``authentication_classes`` so unauthenticated requests get
401 with ``WWW-Authenticate: Bearer`` (DRF takes the header from the first class),
in the OpenAI error shape produced by ``promptgrid.errors.drf_exception_handler``.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from accounts import keyauth
from accounts.keyauth import KeyInfo

_user_model = get_user_model()


class BearerKeyAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request: Any) -> tuple[Any, KeyInfo] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != self.keyword:
            return None
        secret = secret.strip()
        if not secret:
            raise exceptions.AuthenticationFailed("Missing API key in the Authorization header.")
        try:
            info = keyauth.authenticate(secret)
        except keyauth.KeyRejected as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        user = _user_model.objects.filter(pk=info.user_id, is_active=True).first()
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        return user, info

    def authenticate_header(self, request: Any) -> str:
        return "Bearer"


def request_key(request: Any) -> KeyInfo | None:
    """The API key a request authenticated with, or None for a signed-in session."""
    return request.auth if isinstance(request.auth, KeyInfo) else None


class IsApiKey(permissions.BasePermission):
    """Only a request made with an API key (any kind)."""

    message = "This endpoint needs an API key: Authorization: Bearer <key>."

    def has_permission(self, request: Any, view: Any) -> bool:
        return request_key(request) is not None


class CanManageKeys(permissions.BasePermission):
    """A signed-in user, or a management key. A standard key may not manage keys."""

    message = "Only management keys can manage keys."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        key = request_key(request)
        return key is None or key.is_management


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.BearerKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "bearerFormat": "pg-v1-…"}
