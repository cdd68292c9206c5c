from django.urls import path

from gateway import api

urlpatterns = [
    path("chat/completions", api.chat_completions, name="api-chat-completions"),
    path("generation", api.generation, name="api-generation"),
]
