"""API key authentication from a request header, shared by every API surface."""

from __future__ import annotations

from accounts.keyauth import KeyInfo, KeyRejected, authenticate, authenticate_cached
from promptgrid.db import db_call


class Unauthorized(Exception):
    pass


async def authenticate_bearer(header: str) -> KeyInfo:
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Unauthorized("Missing API key: send 'Authorization: Bearer <key>'.")
    key = authenticate_cached(secret)
    if key is not None:
        return key
    try:
        return await db_call(authenticate, secret)
    except KeyRejected as exc:
        raise Unauthorized(str(exc)) from None
