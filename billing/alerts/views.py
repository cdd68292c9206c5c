"""The Alerts page: the low-balance threshold, limit emails, the webhook (its secret shown
once) and its delivery log; for the signed-in user's personal account, and for an
organisation's account to its owners and admins."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.organisations.selectors import membership_get, memberships_of
from billing import services as billing
from billing.alerts import services
from billing.alerts.forms import AlertSettingsForm, WebhookForm
from billing.alerts.models import WebhookDelivery, WebhookEndpoint
from billing.models import CreditAccount
from promptgrid.money import nanos_to_usd, usd_to_nanos

LOG_ROWS = 50


def _context(account: CreditAccount, **extra: Any) -> dict[str, Any]:
    extra.setdefault(
        "organisation", getattr(account, "organisation", None) if account.organisation_id else None
    )
    prefs = services.alert_settings_for(account=account)
    endpoint = WebhookEndpoint.objects.filter(account=account).first()
    initial = {
        "low_balance_usd": None if prefs.low_balance_nanos is None else nanos_to_usd(prefs.low_balance_nanos),
        "limit_emails": prefs.limit_emails,
    }
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint)[:LOG_ROWS] if endpoint else []
    if account.user_id:  # the organisations this user may set alerts for, from their own page
        administered = [m for m in memberships_of(user=account.user) if m.is_admin]
        extra.setdefault("other_accounts", administered)
    return {
        "settings_form": AlertSettingsForm(initial=initial),
        "webhook_form": WebhookForm(initial={"url": endpoint.url} if endpoint else None),
        "endpoint": endpoint,
        "deliveries": deliveries,
        **extra,
    }


@login_required
@never_cache  # the page can carry a secret that is shown once
@require_http_methods(["GET", "POST"])
def alerts_page(request: HttpRequest) -> HttpResponse:
    return _alerts(request, billing.account_for_user(user=request.user), reverse("alerts:page"))


@login_required
@never_cache
@require_http_methods(["GET", "POST"])
def organisation_alerts_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Owners and admins only; to a plain member or anyone else the page does not exist."""
    organisation = membership_get(user=request.user, slug=slug, admin=True).organisation
    account = billing.account_for_organisation(organisation=organisation)
    return _alerts(request, account, reverse("alerts:organisation", args=[organisation.slug]), organisation)


def _alerts(
    request: HttpRequest, account: CreditAccount, here: str, organisation: Any = None
) -> HttpResponse:
    if request.method == "GET":
        return render(request, "alerts/alerts.html", _context(account))
    which = request.POST.get("form")
    endpoint = WebhookEndpoint.objects.filter(account=account).first()
    if which == "settings":
        form = AlertSettingsForm(request.POST)
        if not form.is_valid():
            return render(request, "alerts/alerts.html", _context(account, settings_form=form), status=400)
        usd = form.cleaned_data["low_balance_usd"]
        services.alert_settings_update(
            account=account,
            low_balance_nanos=None if usd is None else usd_to_nanos(usd),
            limit_emails=form.cleaned_data["limit_emails"],
            actor=request.user,
        )
        messages.success(request, "Alert settings saved.")
    elif which == "webhook":
        form = WebhookForm(request.POST)
        if not form.is_valid():
            return render(request, "alerts/alerts.html", _context(account, webhook_form=form), status=400)
        endpoint, secret = services.webhook_set(
            account=account, url=form.cleaned_data["url"], actor=request.user
        )
        if secret:
            return render(request, "alerts/alerts.html", _context(account, secret=secret))
        messages.success(request, "Webhook URL saved.")
    elif which == "rotate" and endpoint is not None:
        secret = services.webhook_rotate_secret(endpoint=endpoint, actor=request.user)
        return render(request, "alerts/alerts.html", _context(account, secret=secret))
    elif which == "ping" and endpoint is not None:
        services.webhook_ping(endpoint=endpoint)
        messages.success(request, "A test event is on its way; its delivery appears below within a minute.")
    elif which == "delete" and endpoint is not None:
        services.webhook_delete(endpoint=endpoint, actor=request.user)
        messages.success(request, "Webhook removed.")
    else:
        return render(request, "alerts/alerts.html", _context(account), status=400)
    return redirect(here)
