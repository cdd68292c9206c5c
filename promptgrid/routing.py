"""Websocket routes (live dashboard updates)."""

from django.urls import path

from gateway.dashboard.consumers import LiveConsumer

websocket_urlpatterns: list = [
    path("ws/live/", LiveConsumer.as_asgi()),
]
