from django.urls import path

from accounts.audit_log import views

app_name = "audit_log"

urlpatterns = [
    path("audit-log/", views.audit_log, name="log"),
    path("audit-log/export.csv", views.audit_log_export, name="export"),
    path("orgs/<slug:slug>/audit-log/", views.organisation_audit_log, name="organisation"),
    path(
        "orgs/<slug:slug>/audit-log/export.csv",
        views.organisation_audit_log_export,
        name="organisation-export",
    ),
]
