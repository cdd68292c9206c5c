from django.urls import path

from billing.alerts import views

app_name = "alerts"

urlpatterns = [
    path("alerts/", views.alerts_page, name="page"),
    path("orgs/<slug:slug>/alerts/", views.organisation_alerts_page, name="organisation"),
]
