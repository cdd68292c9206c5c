from django.urls import path

from gateway.surfaces import generation
from gateway.surfaces.chat import endpoint as chat
from gateway.surfaces.embeddings import endpoint as embeddings
from gateway.surfaces.messages import endpoint as messages
from gateway.surfaces.responses import endpoint as responses

urlpatterns = [
    path("chat/completions", chat.chat_completions, name="api-chat-completions"),
    path("messages", messages.messages, name="api-messages"),
    path("messages/count_tokens", messages.count_tokens, name="api-messages-count-tokens"),
    path("responses", responses.responses, name="api-responses"),
    path("responses/input_tokens", responses.input_tokens, name="api-responses-input-tokens"),
    path("responses/<str:response_id>", responses.stored_response, name="api-response"),
    path("responses/<str:response_id>/<str:action>", responses.stored_response),
    path("embeddings", embeddings.embeddings, name="api-embeddings"),
    path("generation", generation.generation, name="api-generation"),
]
