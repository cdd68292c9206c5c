"""Dashboard pages for API keys and user settings.

Each view renders a full page, or a named partial when htmx asks
(``request.htmx``); every action is also a real link or form, so the pages work
without JavaScript. Keys are always fetched through
``selectors.api_key_get_for_user``: another user's key id is a 404.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors, services
from accounts.forms import ApiKeyForm, UserSettingsForm
from accounts.models import ApiKey
from accounts.organisations.context import current_context


def _rows(keys: list[ApiKey]) -> list[dict[str, Any]]:
    usage = selectors.api_key_usage(keys=keys)
    return [{"key": key, "usage": usage[key.pk]} for key in keys]


def _row(key: ApiKey) -> dict[str, Any]:
    return _rows([key])[0]


def _scope(request: HttpRequest) -> dict[str, Any]:
    """The keys of the chosen context: personal, or an organisation's (every member's for
    its admins, their own for a member)."""
    ctx = current_context(request)
    return {"organisation_id": ctx.organisation_id, "everyone": ctx.sees_everyone}


def _key(request: HttpRequest, key_id: int) -> ApiKey:
    return selectors.api_key_get_for_user(user=request.user, key_id=key_id, **_scope(request))


def _table_context(request: HttpRequest) -> dict[str, Any]:
    keys = selectors.api_keys_visible(user=request.user, **_scope(request)).select_related("user")
    return {"rows": _rows(list(keys)), "ctx": current_context(request)}


def _render_row(request: HttpRequest, key: ApiKey) -> HttpResponse:
    return render(request, "accounts/keys.html#key-row", {"row": _row(key)})


def _panel_with_table(request: HttpRequest, template: str, context: dict[str, Any]) -> HttpResponse:
    """A panel fragment for ``#key-panel`` plus the refreshed table as an out-of-band swap."""
    panel = render_to_string(template, context, request=request)
    table_context = {**_table_context(request), "oob": True}
    table = render_to_string("accounts/keys.html#key-table", table_context, request=request)
    return HttpResponse(panel + table)


@login_required
@require_http_methods(["GET"])
def keys_list(request: HttpRequest) -> HttpResponse:
    template = "accounts/keys.html#key-table" if request.htmx else "accounts/keys.html"
    return render(request, template, _table_context(request))


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def key_create(request: HttpRequest) -> HttpResponse:
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        kind = ApiKey.Kind.MANAGEMENT if form.cleaned_data.get("management") else ApiKey.Kind.STANDARD
        key, secret = services.api_key_create(
            user=request.user,
            kind=kind,
            organisation_id=current_context(request).organisation_id,
            **form.service_kwargs(),
        )
        # The secret is rendered into this response only: it is never stored (not even in
        # the session or a flash message), so it cannot be shown again.
        context = {"key": key, "secret": secret}
        if request.htmx:
            return _panel_with_table(request, "accounts/key_created.html#secret", context)
        return render(request, "accounts/key_created.html", context)
    context = {
        "form": form,
        "key": None,
        "action": reverse("accounts:key-create"),
        "ctx": current_context(request),
    }
    template = "accounts/key_form.html#key-form" if request.htmx else "accounts/key_form.html"
    return render(request, template, context)


@login_required
@require_http_methods(["GET", "POST"])
def key_edit(request: HttpRequest, key_id: int) -> HttpResponse:
    key = _key(request, key_id)
    if key.revoked_at is not None:
        messages.error(request, "A revoked key cannot be changed.")
        return redirect("accounts:keys")
    form = ApiKeyForm(request.POST or None, key=key)
    if request.method == "POST" and form.is_valid():
        try:
            key = services.api_key_update(key=key, actor=request.user, **form.service_kwargs())
        except services.KeyRevoked:
            messages.error(request, "A revoked key cannot be changed.")
            return redirect("accounts:keys")
        if request.htmx:
            return _panel_with_table(request, "accounts/key_form.html#key-saved", {"key": key})
        messages.success(request, f"Key “{key.name}” saved.")
        return redirect("accounts:keys")
    context = {"form": form, "key": key, "action": reverse("accounts:key-edit", args=[key.pk])}
    template = "accounts/key_form.html#key-form" if request.htmx else "accounts/key_form.html"
    return render(request, template, context)


def _set_disabled(request: HttpRequest, key_id: int, disabled: bool) -> HttpResponse:
    key = _key(request, key_id)
    try:
        key = services.api_key_update(key=key, disabled=disabled, actor=request.user)
    except services.KeyRevoked:
        messages.error(request, "A revoked key cannot be changed.")
        if request.htmx:
            return _render_row(request, key)
        return redirect("accounts:keys")
    if request.htmx:
        return _render_row(request, key)
    messages.success(request, f"Key “{key.name}” {'disabled' if disabled else 'enabled'}.")
    return redirect("accounts:keys")


@login_required
@require_POST
def key_disable(request: HttpRequest, key_id: int) -> HttpResponse:
    return _set_disabled(request, key_id, True)


@login_required
@require_POST
def key_enable(request: HttpRequest, key_id: int) -> HttpResponse:
    return _set_disabled(request, key_id, False)


@login_required
@require_http_methods(["GET", "POST"])
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponse:
    """GET asks for confirmation (the no-JavaScript path); POST revokes."""
    key = _key(request, key_id)
    if request.method == "GET":
        return render(request, "accounts/key_revoke.html", {"key": key})
    key = services.api_key_revoke(key=key, actor=request.user)
    if request.htmx:
        return _render_row(request, key)
    messages.success(request, f"Key “{key.name}” revoked. It no longer works.")
    return redirect("accounts:keys")


@login_required
@require_http_methods(["GET", "POST"])
def settings_page(request: HttpRequest) -> HttpResponse:
    prefs = services.user_settings_for(user=request.user)
    form = UserSettingsForm(request.POST or None, instance=prefs)
    saved = False
    if request.method == "POST" and form.is_valid():
        services.user_settings_update(
            user=request.user,
            log_prompts=form.cleaned_data["log_prompts"],
            log_retention_days=form.cleaned_data["log_retention_days"],
        )
        if not request.htmx:
            messages.success(request, "Settings saved.")
            return redirect("accounts:settings")
        saved = True
    template = "accounts/settings.html#settings-form" if request.htmx else "accounts/settings.html"
    return render(request, template, {"form": form, "saved": saved})
