import pytest
from django.contrib.staticfiles import finders
from django.http import JsonResponse
from django.urls import include, path
from openapi_spec_validator import validate
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

import promptgrid.urls


def _plain_view(request, **kwargs):
    return JsonResponse({})


class _CreditsSerializer(serializers.Serializer):
    total_credits = serializers.FloatField()
    total_usage = serializers.FloatField()


class _CreditsView(APIView):
    permission_classes = [AllowAny]
    serializer_class = _CreditsSerializer

    def get(self, request):
        return Response({"total_credits": 1.0, "total_usage": 0.0})


# The project's routes plus a served chat endpoint, OpenRouter-shaped plain views and a DRF view,
# so the document is checked against what the hook does whatever else is routed today.
public_api = [
    path("chat/completions", _plain_view),
    path("models", _plain_view),
    path("keys", _plain_view),
    path("keys/<str:hash>", _plain_view),
    path("credits", _CreditsView.as_view()),
]
urlpatterns = [path("api/v1/", include(public_api)), *promptgrid.urls.urlpatterns]


def _schema(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["content-type"].startswith("application/")
    return response.json()


def test_the_schema_is_a_valid_openapi_3_1_document(client):
    schema = _schema(client)

    assert schema["openapi"] == "3.1.0"
    assert schema["info"]["title"] == "PromptGrid API"
    validate(schema)


@pytest.mark.urls(__name__)
def test_the_chat_endpoint_is_documented_with_openais_request_and_response_schemas(client):
    schema = _schema(client)
    validate(schema)  # every $ref of the merged OpenAI schemas resolves

    operation = schema["paths"]["/api/v1/chat/completions"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PromptGridChatCompletionRequest"}
    schemas = schema["components"]["schemas"]
    assert {"$ref": "#/components/schemas/CreateChatCompletionRequest"} in schemas[
        "PromptGridChatCompletionRequest"
    ]["allOf"]
    request_schema = schemas["CreateChatCompletionRequest"]
    messages_and_model = {"messages", "model"}
    assert messages_and_model <= set(request_schema["allOf"][-1]["required"])
    answer = operation["responses"]["200"]["content"]
    assert answer["application/json"]["schema"]["$ref"].endswith("/CreateChatCompletionResponse")
    assert answer["text/event-stream"]["schema"]["$ref"].endswith("/CreateChatCompletionStreamResponse")
    assert "choices" in schemas["CreateChatCompletionResponse"]["properties"]
    assert operation["responses"]["402"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/GatewayError"
    )
    assert operation["security"] == [{"bearerAuth": []}]
    assert schema["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


@pytest.mark.urls(__name__)
def test_plain_openrouter_shaped_views_are_documented_and_drf_views_keep_their_own_schema(client):
    schema = _schema(client)
    paths = schema["paths"]

    models = paths["/api/v1/models"]["get"]
    assert models["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/OpenRouterModelsListResponse"
    )
    assert "OpenRouterModelsListResponse" in schema["components"]["schemas"]
    assert set(paths["/api/v1/keys"]) == {"get", "post"}
    assert "/api/v1/keys/{hash}" in paths
    # DRF documented /credits from its serializer: the hook leaves it alone.
    credits_schema = paths["/api/v1/credits"]["get"]["responses"]["200"]["content"]["application/json"]
    assert credits_schema["schema"]["$ref"] == "#/components/schemas/_Credits"
    assert paths["/api/v1/credits"]["get"]["operationId"] != "getCredits"


@pytest.mark.urls(__name__)
def test_routes_that_are_not_served_are_not_documented(client):
    paths = _schema(client)["paths"]

    assert "/api/v1/generation" not in paths
    assert "/api/v1/key" not in paths


def test_the_docs_page_loads_swagger_ui_from_our_own_static_files(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr" not in html and "unpkg.com" not in html
    assert "/api/v1/openapi.json" in html
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200
    asset.close()


def test_the_schema_and_docs_need_no_login(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/redoc/").status_code == 200
