from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("keys/", views.keys_list, name="keys"),
    path("keys/new/", views.key_create, name="key-create"),
    path("keys/<int:key_id>/edit/", views.key_edit, name="key-edit"),
    path("keys/<int:key_id>/disable/", views.key_disable, name="key-disable"),
    path("keys/<int:key_id>/enable/", views.key_enable, name="key-enable"),
    path("keys/<int:key_id>/revoke/", views.key_revoke, name="key-revoke"),
    path("settings/", views.settings_page, name="settings"),
]
