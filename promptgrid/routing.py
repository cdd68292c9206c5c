"""Websocket routes (live dashboard updates)."""

websocket_urlpatterns: list = []
