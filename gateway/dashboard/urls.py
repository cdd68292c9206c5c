from django.urls import path

from gateway.dashboard import views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("activity/", views.activity, name="activity"),
    path("activity/export.csv", views.activity_export, name="activity-export"),
    path("activity/<str:generation_id>/", views.generation_detail, name="generation-detail"),
    path("playground/", views.playground, name="playground"),
    path("playground/key/", views.playground_key, name="playground-key"),
]
