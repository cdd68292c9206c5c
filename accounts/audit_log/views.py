"""Audit log pages: a user's own (their personal account and keys) and, for its owners,
an organisation's (its account, members, invitations and keys)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.audit_log import selectors
from accounts.audit_log.forms import AuditFilterForm
from accounts.audit_log.models import AuditEntry
from accounts.organisations.models import Membership
from accounts.organisations.selectors import membership_get, memberships_of
from promptgrid.csv_export import csv_lines, csv_response

PAGE_SIZE = 50


def _filter_query(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


def _page(request: HttpRequest, entries: QuerySet[AuditEntry], **context: Any) -> HttpResponse:
    form = AuditFilterForm(request.GET or None, actions=selectors.actions_in(entries))
    page = Paginator(selectors.entries_filtered(entries, form), PAGE_SIZE).get_page(request.GET.get("page"))
    context |= {"form": form, "page": page, "filter_query": _filter_query(request)}
    template = "audit_log/log.html#results" if request.htmx else "audit_log/log.html"
    return render(request, template, context)


def _export(request: HttpRequest, entries: QuerySet[AuditEntry], name: str) -> StreamingHttpResponse:
    entries = selectors.entries_filtered(entries, AuditFilterForm(request.GET or None))
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return csv_response(request, csv_lines(selectors.csv_rows(entries)), f"{name}-{stamp}.csv")


def _organisation_entries(request: HttpRequest, slug: str) -> tuple[Any, QuerySet[AuditEntry]]:
    """The organisation's log, for its owners only: to anyone else it does not exist (404)."""
    membership = membership_get(user=request.user, slug=slug)
    if not membership.is_owner:
        raise Http404("No such organisation.")
    organisation = membership.organisation
    return organisation, AuditEntry.objects.filter(organisation_id=organisation.pk)


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    owned = memberships_of(user=request.user).filter(role=Membership.Role.OWNER)
    return _page(request, AuditEntry.objects.visible_to_user(request.user), other_logs=owned)


@login_required
@require_GET
def audit_log_export(request: HttpRequest) -> StreamingHttpResponse:
    return _export(request, AuditEntry.objects.visible_to_user(request.user), "promptgrid-audit")


@login_required
@require_GET
def organisation_audit_log(request: HttpRequest, slug: str) -> HttpResponse:
    organisation, entries = _organisation_entries(request, slug)
    export_url = reverse("audit_log:organisation-export", args=[organisation.slug])
    return _page(request, entries, organisation=organisation, export_url=export_url)


@login_required
@require_GET
def organisation_audit_log_export(request: HttpRequest, slug: str) -> StreamingHttpResponse:
    organisation, entries = _organisation_entries(request, slug)
    return _export(request, entries, f"promptgrid-audit-{organisation.slug}")
