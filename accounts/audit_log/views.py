"""A user's own audit log: what was done to their personal account and keys, and by whom."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.audit_log import selectors
from accounts.audit_log.forms import AuditFilterForm
from accounts.audit_log.models import AuditEntry
from promptgrid.csv_export import csv_lines, csv_response

PAGE_SIZE = 50


def _filter_query(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    mine = AuditEntry.objects.visible_to_user(request.user)
    form = AuditFilterForm(request.GET or None, actions=selectors.actions_in(mine))
    entries = selectors.entries_filtered(mine, form).select_related(None)
    page = Paginator(entries, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "filter_query": _filter_query(request)}
    template = "audit_log/log.html#results" if request.htmx else "audit_log/log.html"
    return render(request, template, context)


@login_required
@require_GET
def audit_log_export(request: HttpRequest) -> StreamingHttpResponse:
    mine = AuditEntry.objects.visible_to_user(request.user)
    entries = selectors.entries_filtered(mine, AuditFilterForm(request.GET or None))
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return csv_response(request, csv_lines(selectors.csv_rows(entries)), f"promptgrid-audit-{stamp}.csv")
