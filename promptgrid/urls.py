from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/", include("gateway.api_urls")),
    path("api/v1/", include("catalog.api_urls")),
    path("api/v1/", include("accounts.api_urls")),
    path("api/v1/", include("billing.api_urls")),
    path("", include("accounts.urls")),
    path("", include("billing.urls")),
    path("", include("catalog.urls")),
    path("", include("gateway.urls")),
]
