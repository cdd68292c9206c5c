from django.urls import path

from accounts import api

app_name = "accounts_api"

urlpatterns = [
    path("key", api.CurrentKeyView.as_view(), name="key"),
    path("auth/key", api.AuthKeyView.as_view(), name="auth-key"),  # OpenRouter's older path
    path("models/user", api.UserModelsView.as_view(), name="models-user"),
    path("keys", api.KeysView.as_view(), name="keys"),
    path("keys/<str:ref>", api.KeyDetailView.as_view(), name="key-detail"),
]
