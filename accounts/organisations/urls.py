from django.urls import path

from accounts.organisations import views

app_name = "organisations"

urlpatterns = [
    path("orgs/switch/", views.switch_context, name="switch"),
    path("orgs/new/", views.organisation_new, name="new"),
    path("orgs/invitations/<str:token>/", views.invitation_accept, name="invitation"),
    path("orgs/<slug:slug>/", views.organisation_detail, name="detail"),
    path("orgs/<slug:slug>/settings/", views.organisation_settings, name="settings"),
    path("orgs/<slug:slug>/delete/", views.organisation_delete, name="delete"),
    path("orgs/<slug:slug>/members/<int:member_id>/", views.member_update, name="member"),
    path("orgs/<slug:slug>/members/<int:member_id>/remove/", views.member_remove, name="member-remove"),
    path("orgs/<slug:slug>/invitations/", views.invitation_create, name="invite"),
    path(
        "orgs/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation-revoke",
    ),
]
