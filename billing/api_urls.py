from django.urls import path

from billing import api

urlpatterns = [
    path("credits", api.credits, name="api-credits"),
]
