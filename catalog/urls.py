from django.urls import path

from catalog import views

urlpatterns = [
    path("models/", views.models_list, name="models"),
    path("models/<path:slug>/", views.model_detail, name="model-detail"),
]
