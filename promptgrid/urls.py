from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerView

from promptgrid import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics_view, name="metrics"),
    path("api/v1/openapi.json", SpectacularJSONAPIView.as_view(), name="openapi-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="openapi-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="openapi-schema"), name="api-redoc"),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("gateway.api_urls")),
    # Before the catalog's: its models/<path> would take accounts' models/user.
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("catalog.api_urls")),
    path("api/v1/", include("billing.api_urls")),
    path("", include("accounts.urls")),
    path("", include("accounts.audit_log.urls")),
    path("", include("billing.urls")),
    path("", include("billing.alerts.urls")),
    path("", include("catalog.urls")),
    path("", include("gateway.dashboard.urls")),
]

handler404 = "promptgrid.api_errors.page_not_found"
handler500 = "promptgrid.api_errors.server_error"
