"""JSON APIs for keys, as OpenRouter has them.

- ``GET /api/v1/key``: the calling key's own limits and spend (any key's Bearer).
- ``/api/v1/keys`` and ``/api/v1/keys/{id}``: list, create, get, update, delete, for a
  signed-in session (CSRF enforced) or a management key. A key is named by its id or
  by its hash. Deleting revokes: the key stops working at once and disappears from
  these APIs, while the dashboard keeps it (with its spend) as "revoked".
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.authentication import BearerKeyAuthentication, CanManageKeys, IsApiKey, request_key
from accounts.models import ApiKey
from accounts.organisations.models import Membership
from accounts.serializers import (
    CurrentKeySerializer,
    KeyCreatedSerializer,
    KeyCreateSerializer,
    KeyDeletedSerializer,
    KeyDetailSerializer,
    KeyListSerializer,
    KeyUpdateSerializer,
    key_out,
    rate_limit_out,
    usage_fields,
)
from catalog.openrouter import models_subset_json
from catalog.snapshot import get_snapshot

PAGE_SIZE = 100
_AUTH = [BearerKeyAuthentication, SessionAuthentication]
_TAGS = ["API keys"]


def _one(key: ApiKey) -> dict[str, Any]:
    return key_out(key, selectors.api_key_usage(keys=[key])[key.pk])


def _context(request: Request) -> dict[str, Any]:
    """The keys these APIs answer for: a management key's context (its organisation, where an
    admin sees every member's keys and a member their own), else the personal one."""
    info = request_key(request)
    if info is None or info.organisation_id is None:
        return {"organisation_id": None, "everyone": False}
    admin = Membership.objects.filter(
        organisation_id=info.organisation_id,
        user_id=info.user_id,
        role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
    ).exists()
    return {"organisation_id": info.organisation_id, "everyone": admin}


class CurrentKeyView(APIView):
    authentication_classes = [BearerKeyAuthentication]
    permission_classes = [IsApiKey]

    @extend_schema(
        operation_id="getCurrentKey",
        tags=_TAGS,
        responses=CurrentKeySerializer,
        summary="The calling key's label, spend, limit and rate limits",
    )
    def get(self, request: Request) -> Response:
        info = request_key(request)
        key = ApiKey.objects.filter(pk=info.id).select_related("organisation").first() if info else None
        if key is None:  # deleted between authentication and now
            raise Http404("No such key.")
        usage = selectors.api_key_usage(keys=[key])[key.pk]
        data = {
            "label": key.masked,
            "name": key.name,
            **usage_fields(usage),
            "expires_at": key.expires_at,
            "is_free_tier": False,
            "is_management_key": key.is_management,
            "is_provisioning_key": key.is_management,
            "rate_limit": rate_limit_out(key),
            "allowed_models": list(key.allowed_models or []),
            "allowed_data_regions": ["global"],
            "budgets": [],
            "byok_usage": 0.0,
            "byok_usage_daily": 0.0,
            "byok_usage_weekly": 0.0,
            "byok_usage_monthly": 0.0,
            "include_byok_in_limit": False,
            "creator_user_id": str(key.user_id),
            "effective_budget": None,
            "free_model_daily_requests": {"limit": 0, "remaining": 0, "used": 0},
            "organization_id": key.organisation.slug if key.organisation_id else None,
            "workspace_id": None,
        }
        return Response(CurrentKeySerializer({"data": data}).data)


@extend_schema_view(
    get=extend_schema(operation_id="getCurrentKeyAuth", summary="OpenRouter's older path of /api/v1/key")
)
class AuthKeyView(CurrentKeyView):
    pass


class UserModelsView(APIView):
    """``GET /api/v1/models/user``: the models list narrowed to what this key may call
    (its allowlist, and models with an endpoint on an enabled, configured provider)."""

    authentication_classes = [BearerKeyAuthentication]
    permission_classes = [IsApiKey]

    @extend_schema(
        operation_id="listModelsUser",
        tags=["Models"],
        responses=OpenApiTypes.OBJECT,
        summary="Models this key may call",
    )
    def get(self, request: Request) -> HttpResponse:
        info = request_key(request)
        snapshot = get_snapshot()
        callable_now = {
            slug for slug, model in snapshot.models.items() if model.endpoints and info and info.allows(slug)
        }
        return HttpResponse(models_subset_json(snapshot, callable_now), content_type="application/json")


class _ListQuery(serializers.Serializer):
    # The schema says boolean: "true" or "false", not DRF's looser yes/on/1.
    include_disabled = serializers.ChoiceField(choices=["true", "false"], required=False, default="false")
    offset = serializers.IntegerField(required=False, min_value=0, default=0)

    def to_internal_value(self, data: Any) -> Any:
        repeated = [name for name in self.fields if len(data.getlist(name)) > 1]
        if repeated:
            raise serializers.ValidationError({name: "given more than once" for name in repeated})
        # A plain dict: DRF reads a QueryDict as a form, where "?offset=" means "not given".
        return super().to_internal_value(data.dict())


class KeysView(APIView):
    authentication_classes = _AUTH
    permission_classes = [CanManageKeys]

    @extend_schema(
        operation_id="listKeys",
        tags=_TAGS,
        responses=KeyListSerializer,
        parameters=[
            OpenApiParameter("include_disabled", OpenApiTypes.BOOL, description="Also list disabled keys."),
            OpenApiParameter(
                "offset", {"type": "integer", "minimum": 0}, description="Keys to skip (pages of 100)."
            ),
        ],
        summary="List your keys",
    )
    def get(self, request: Request) -> Response:
        query = _ListQuery(data=request.query_params)
        query.is_valid(raise_exception=True)  # a malformed, negative or repeated one is a 400
        keys = selectors.api_keys_visible(user=request.user, include_revoked=False, **_context(request))
        if query.validated_data["include_disabled"] != "true":
            keys = keys.filter(disabled=False)
        # Past any real count, and inside bigint (a larger OFFSET is a database error).
        offset = min(query.validated_data.get("offset", 0), 2**31)
        page = list(keys[offset : offset + PAGE_SIZE])
        usage = selectors.api_key_usage(keys=page)
        return Response(KeyListSerializer({"data": [key_out(k, usage[k.pk]) for k in page]}).data)

    @extend_schema(
        operation_id="createKey",
        tags=_TAGS,
        request=KeyCreateSerializer,
        responses={201: KeyCreatedSerializer},
        summary="Create a key (the secret is returned only here)",
    )
    def post(self, request: Request) -> Response:
        serializer = KeyCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key, secret = services.api_key_create(
            user=request.user,
            organisation_id=_context(request)["organisation_id"],
            **serializer.service_kwargs(),
        )
        body = KeyCreatedSerializer({"data": _one(key), "key": secret}).data
        return Response(body, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})


class KeyDetailView(APIView):
    authentication_classes = _AUTH
    permission_classes = [CanManageKeys]

    def _key(self, request: Request, ref: str) -> ApiKey:
        # ``ref`` is the key's hash (OpenRouter's name for a key) or its id.
        return selectors.api_key_get_for_user(
            user=request.user, key_id=ref, include_revoked=False, **_context(request)
        )

    @extend_schema(operation_id="getKey", tags=_TAGS, responses=KeyDetailSerializer, summary="Get one key")
    def get(self, request: Request, ref: str) -> Response:
        key = self._key(request, ref)
        return Response(KeyDetailSerializer({"data": _one(key)}).data)

    @extend_schema(
        operation_id="updateKey",
        tags=_TAGS,
        request=KeyUpdateSerializer,
        responses=KeyDetailSerializer,
        summary="Update a key: name, limits, expiry, allowed models, disabled",
    )
    def patch(self, request: Request, ref: str) -> Response:
        key = self._key(request, ref)
        serializer = KeyUpdateSerializer(data=request.data, context={"key": key}, partial=True)
        serializer.is_valid(raise_exception=True)
        try:
            key = services.api_key_update(key=key, actor=request.user, **serializer.service_kwargs())
        except services.KeyRevoked:
            raise Http404("No such key.") from None
        return Response(KeyDetailSerializer({"data": _one(key)}).data)

    @extend_schema(
        operation_id="deleteKey",
        tags=_TAGS,
        request=None,
        responses=KeyDeletedSerializer,
        summary="Delete (revoke) a key",
    )
    def delete(self, request: Request, ref: str) -> Response:
        key = self._key(request, ref)
        services.api_key_revoke(key=key, actor=request.user)
        return Response({"deleted": True})
