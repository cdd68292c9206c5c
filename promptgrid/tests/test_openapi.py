import pytest
from django.contrib.staticfiles import finders
from django.urls import URLPattern, path
from openapi_spec_validator import validate
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

import promptgrid.urls


class _CreditsSerializer(serializers.Serializer):
    total_credits = serializers.FloatField()
    total_usage = serializers.FloatField()


class _CreditsView(APIView):
    permission_classes = [AllowAny]
    serializer_class = _CreditsSerializer

    def get(self, request):
        return Response({"total_credits": 1.0, "total_usage": 0.0})


# The project without its public API, plus one DRF view at an OpenRouter-shaped path.
_NON_API = [
    p
    for p in promptgrid.urls.urlpatterns
    if not str(p.pattern).startswith("api/v1/") or isinstance(p, URLPattern)
]
urlpatterns = [path("api/v1/credits", _CreditsView.as_view()), *_NON_API]


def _schema(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["content-type"].startswith("application/")
    return response.json()


def test_the_schema_is_a_valid_openapi_3_1_document(client):
    schema = _schema(client)

    assert schema["openapi"] == "3.1.0"
    assert schema["info"]["title"] == "PromptGrid API"
    validate(schema)  # every $ref, including the merged OpenAI and OpenRouter schemas, resolves


def test_the_public_api_paths_are_all_documented(client):
    paths = _schema(client)["paths"]

    for documented in (
        "/api/v1/chat/completions",
        "/api/v1/models",
        "/api/v1/generation",
        "/api/v1/credits",
        "/api/v1/key",
        "/api/v1/keys",
        "/api/v1/embeddings",
        "/api/v1/embeddings/models",
    ):
        assert documented in paths, documented


def test_embeddings_are_documented_in_openrouters_shape(client):
    schema = _schema(client)
    operation = schema["paths"]["/api/v1/embeddings"]["post"]

    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert {"model", "input", "encoding_format", "dimensions", "user"} <= set(body["properties"])
    assert operation["security"] == [{"apiKey": []}]
    assert "get" in schema["paths"]["/api/v1/embeddings/models"]


def test_the_chat_endpoint_is_documented_with_openais_request_and_response_schemas(client):
    schema = _schema(client)

    operation = schema["paths"]["/api/v1/chat/completions"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PromptGridChatCompletionRequest"}
    schemas = schema["components"]["schemas"]
    assert {"$ref": "#/components/schemas/CreateChatCompletionRequest"} in schemas[
        "PromptGridChatCompletionRequest"
    ]["allOf"]
    assert {"messages", "model"} <= set(schemas["CreateChatCompletionRequest"]["allOf"][-1]["required"])
    answer = operation["responses"]["200"]["content"]
    assert answer["application/json"]["schema"]["$ref"].endswith("/CreateChatCompletionResponse")
    assert answer["text/event-stream"]["schema"]["$ref"].endswith("/CreateChatCompletionStreamResponse")
    assert "choices" in schemas["CreateChatCompletionResponse"]["properties"]
    assert operation["responses"]["402"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/GatewayError"
    )
    assert operation["security"] == [{"apiKey": []}]
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"


def test_plain_views_get_openrouters_shapes_and_drf_views_keep_their_own(client):
    schema = _schema(client)
    paths = schema["paths"]

    models = paths["/api/v1/models"]["get"]
    assert models["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/OpenRouterModelsListResponse"
    )
    assert "OpenRouterModelsListResponse" in schema["components"]["schemas"]
    assert [p["name"] for p in paths["/api/v1/generation"]["get"]["parameters"]] == ["id"]
    # /keys is a DRF view documented from its serializers: not replaced by OpenRouter's shape.
    assert paths["/api/v1/keys"]["get"]["operationId"] != "list"
    key_paths = [p for p in paths if p.startswith("/api/v1/keys/")]
    assert len(key_paths) == 1
    assert paths[key_paths[0]]["patch"]["operationId"] != "updateKeys"  # OpenRouter's name


@pytest.mark.urls(__name__)
def test_a_drf_view_keeps_its_generated_schema(client):
    schema = _schema(client)

    credits_view = schema["paths"]["/api/v1/credits"]["get"]
    assert credits_view["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/_Credits"
    )
    assert credits_view["operationId"] != "getCredits"


@pytest.mark.urls(__name__)
def test_routes_that_are_not_served_are_not_documented(client):
    paths = _schema(client)["paths"]

    assert "/api/v1/chat/completions" not in paths
    assert "/api/v1/generation" not in paths
    assert "/api/v1/models" not in paths


@pytest.mark.django_db  # closing a file response signals request_finished, which checks connections
def test_the_docs_page_loads_swagger_ui_from_our_own_static_files(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    # The init script is its own file (no inline script under the CSP) and names our schema.
    assert '<script src="/api/docs/?script="></script>' in html
    assert "/api/v1/openapi.json" in client.get("/api/docs/?script=").content.decode()
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
    asset.close()


def test_the_schema_and_docs_need_no_login(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/redoc/").status_code == 200
