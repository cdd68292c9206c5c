from django.urls import path

from gateway.surfaces import generation
from gateway.surfaces.chat import endpoint as chat
from gateway.surfaces.messages import endpoint as messages

urlpatterns = [
    path("chat/completions", chat.chat_completions, name="api-chat-completions"),
    path("messages", messages.messages, name="api-messages"),
    path("messages/count_tokens", messages.count_tokens, name="api-messages-count-tokens"),
    path("generation", generation.generation, name="api-generation"),
]
