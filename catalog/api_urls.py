from django.urls import path

from catalog import api

urlpatterns = [
    path("models", api.models_list, name="api-models"),
    path("embeddings/models", api.embedding_models_list, name="api-embedding-models"),
    path("providers", api.providers_list, name="api-providers"),
    path("models/<path:model_id>", api.model_detail, name="api-model-detail"),
]
