from django.urls import path

from bench.forwarder import views

urlpatterns = [
    path("httpx/v1/chat/completions", views.forward_httpx),
    path("aiohttp/v1/chat/completions", views.forward_aiohttp),
]
