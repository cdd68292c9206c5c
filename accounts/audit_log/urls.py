from django.urls import path

from accounts.audit_log import views

app_name = "audit_log"

urlpatterns = [
    path("audit-log/", views.audit_log, name="log"),
    path("audit-log/export.csv", views.audit_log_export, name="export"),
]
