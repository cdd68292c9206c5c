from collections.abc import Callable
from typing import Any

from allauth.account.decorators import secure_admin_login
from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_replace, csp_update
from django.contrib import admin
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from promptgrid import health


def _redoc_csp(view: Callable[..., Any]) -> Callable[..., Any]:
    # A nonce would make browsers ignore 'unsafe-inline', so this page's style-src has none.
    view = csp_update({"worker-src": [SELF, "blob:"]})(view)
    return csp_replace({"style-src": [SELF, UNSAFE_INLINE]})(view)


# The admin signs in through allauth's form, so one throttle (accounts/adapter.py) guards
# every login; a signed-in user who is not staff gets a 403 there.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]


def _favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    # Pages without an icon link (admin, the API docs) make browsers ask for /favicon.ico.
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))


urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics_view, name="metrics"),
    path("favicon.ico", _favicon),
    path("api/v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    # Swagger UI's init script is served as a file (the split view), so the page needs no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="openapi-schema"), name="api-docs"),
    # Redoc writes its own <style> elements at run time: this page alone allows inline styles.
    path("api/redoc/", _redoc_csp(SpectacularRedocView.as_view(url_name="openapi-schema")), name="api-redoc"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("gateway.api_urls")),
    # Before the catalog's: its models/<path> would take accounts' models/user.
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("catalog.api_urls")),
    path("api/v1/", include("billing.api_urls")),
    path("", include("accounts.urls")),
    path("", include("accounts.audit_log.urls")),
    path("", include("accounts.organisations.urls")),
    path("", include("billing.urls")),
    path("", include("billing.alerts.urls")),
    path("", include("catalog.urls")),
    path("", include("gateway.dashboard.urls")),
]

handler404 = "promptgrid.api_errors.page_not_found"
handler500 = "promptgrid.api_errors.server_error"
