"""Who a request is for: the calling app, and the client's end user.

App attribution is OpenRouter's: ``HTTP-Referer`` (the app's URL) and ``X-OpenRouter-Title``
or the older ``X-Title`` (its name). The server that reads the headers (``gateway.asgi``, or
a Django view) sets them for the request's task with ``use``; the pipeline reads them back
with ``current`` when the Generation is recorded.

The request's ``user`` (OpenAI's end-user id) is recorded on the Generation as the client sent
it, but a provider only ever sees ``upstream_user``: a keyed HMAC of it, stable for one
PromptGrid account and one end user, that neither names the user nor links two accounts'.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.crypto import salted_hmac

REFERER_MAX_CHARS = 500
TITLE_MAX_CHARS = 200
END_USER_MAX_CHARS = 256
HEADERS = frozenset({b"http-referer", b"x-title", b"x-openrouter-title"})  # as ASGI spells them


@dataclass(frozen=True)
class App:
    referer: str = ""
    title: str = ""

    @property
    def name(self) -> str:
        return self.title or self.referer


_NOBODY = App()
_current: ContextVar[App] = ContextVar("gateway_app", default=_NOBODY)


def _clean(value: str | None, limit: int) -> str:
    """A header value as text: control characters dropped, trimmed, cut to ``limit``."""
    if not value:
        return ""
    return "".join(c for c in value if c.isprintable()).strip()[:limit]


def app_from(header: Callable[[str], str | None]) -> App:
    """The app named by a request's headers; ``header(name)`` returns a header's value or None."""
    title = _clean(header("x-openrouter-title"), TITLE_MAX_CHARS) or _clean(
        header("x-title"), TITLE_MAX_CHARS
    )
    return App(referer=_clean(header("http-referer"), REFERER_MAX_CHARS), title=title)


def use(app: App) -> None:
    _current.set(app)


def use_django_headers(headers: Any) -> None:
    """``use`` for a Django view: the app named by ``request.headers``."""
    use(app_from(headers.get))


def current() -> App:
    return _current.get()


def upstream_user(account_user_id: int, end_user: str) -> str:
    """What a provider sees of an end user: ``pgu-`` and 32 hex digits of an HMAC keyed by
    ``USER_HASH_SECRET`` (else the SECRET_KEY), over this account and the end user's id."""
    digest = salted_hmac(
        "promptgrid.end-user",
        f"{account_user_id}:{end_user}",
        secret=settings.USER_HASH_SECRET or None,
        algorithm="sha256",
    )
    return "pgu-" + digest.hexdigest()[:32]
