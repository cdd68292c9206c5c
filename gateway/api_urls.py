from django.urls import path

from gateway.surfaces import generation
from gateway.surfaces.chat import endpoint as chat

urlpatterns = [
    path("chat/completions", chat.chat_completions, name="api-chat-completions"),
    path("generation", generation.generation, name="api-generation"),
]
