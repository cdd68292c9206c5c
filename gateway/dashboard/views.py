"""Dashboard pages: Overview, Activity (list, detail, CSV export) and the Playground.

Each view renders its full page, or only the named partial when htmx asks for it
(filters, pagination and live refreshes), so every page also works without JavaScript.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.models import ApiKey
from accounts.organisations.context import DashContext, current_context
from billing.models import CreditAccount
from gateway.dashboard import selectors
from gateway.dashboard.charts import bar_chart, compact_number, compact_usd
from gateway.dashboard.playground import playground_key_for_session
from gateway.dashboard.templatetags.dashboard import per_million
from promptgrid.csv_export import csv_lines, csv_response
from promptgrid.money import format_usd, nanos_to_usd

RECENT_ROWS = 8


def _balance(ctx: DashContext) -> dict[str, int]:
    row = CreditAccount.objects.filter(**ctx.account_filter()).values("balance_nanos", "held_nanos").first()
    return row or {"balance_nanos": 0, "held_nanos": 0}


def _usd_axis(nanos: float) -> str:
    return compact_usd(float(nanos_to_usd(int(nanos))))


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    user_id = request.user.pk
    ctx = current_context(request)
    ov = selectors.overview_for_user(user_id=user_id, scope=ctx.scope, scope_key=ctx.cache_scope)
    days = [p.day for p in ov.days]
    recent = selectors.activity_page(
        user_id=user_id, filters=selectors.ActivityFilters(), size=RECENT_ROWS, scope=ctx.scope
    )
    context: dict[str, Any] = {
        "ov": ov,
        "ctx": ctx,
        "balance": _balance(ctx),
        "recent": recent.rows,
        "spend_chart": bar_chart(
            days, [p.cost_nanos for p in ov.days], lambda n: format_usd(int(n)), _usd_axis
        ),
        "tokens_chart": bar_chart(
            days, [p.tokens for p in ov.days], lambda n: f"{int(n):,} tokens", compact_number
        ),
        "has_keys": ApiKey.objects.filter(user_id=user_id, organisation_id=ctx.organisation_id)
        .exclude(kind=ApiKey.Kind.PLAYGROUND)
        .exists(),
        "site_url": settings.SITE_URL,
    }
    template = "gateway/overview.html"
    if request.htmx and request.htmx.target == "overview-live":
        template += "#live"
    return render(request, template, context)


@login_required
@require_GET
def activity(request: HttpRequest) -> HttpResponse:
    user_id = request.user.pk
    ctx = current_context(request)
    filters, errors = selectors.parse_filters(request.GET)
    page = selectors.activity_page(
        user_id=user_id,
        scope=ctx.scope,
        filters=filters,
        before=request.GET.get("before", ""),
        after=request.GET.get("after", ""),
    )
    query = request.GET.copy()
    for name in ("before", "after"):
        query.pop(name, None)
    context = {
        "page": page,
        "filters": filters,
        "errors": errors,
        "filter_query": query.urlencode(),
        "ctx": ctx,
    }
    if request.htmx and request.htmx.target == "activity-results":
        return render(request, "gateway/activity.html#results", context)
    context["choices"] = selectors.filter_choices(user_id=user_id, scope=ctx.scope)
    context["has_any"] = (
        page.rows
        or filters.active
        or selectors.generations_for_user(
            user_id=user_id, filters=selectors.ActivityFilters(), scope=ctx.scope
        ).exists()
    )
    return render(request, "gateway/activity.html", context)


@login_required
@require_GET
def activity_export(request: HttpRequest) -> StreamingHttpResponse:
    """All matching generations as CSV, streamed: memory stays flat at 100,000 rows."""
    filters, _ = selectors.parse_filters(request.GET)
    user_id = request.user.pk
    scope = current_context(request).scope

    def rows() -> Iterator[list[Any]]:
        yield [name for name, _ in selectors.CSV_COLUMNS] + ["cost_usd"]
        cost_index = [src for _, src in selectors.CSV_COLUMNS].index("cost_nanos")
        for row in selectors.export_rows(user_id=user_id, filters=filters, scope=scope):
            values = list(row)
            values[1] = values[1].isoformat()
            yield [*values, f"{nanos_to_usd(values[cost_index]):f}"]

    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    return csv_response(request, csv_lines(rows()), f"promptgrid-activity-{stamp}.csv")


@login_required
@require_GET
def generation_detail(request: HttpRequest, generation_id: str) -> HttpResponse:
    gen = selectors.generation_for_user(
        user_id=request.user.pk, generation_id=generation_id, scope=current_context(request).scope
    )
    prompt = gen.prompt_text
    messages: list[dict[str, str]] = []
    if isinstance(prompt, list):
        for item in prompt:
            if isinstance(item, dict):
                content = item.get("content")
                if isinstance(content, list):  # content parts: keep the text ones
                    content = "\n".join(
                        str(p.get("text", ""))
                        for p in content
                        if isinstance(p, dict) and p.get("type") == "text"
                    )
                messages.append(
                    {"role": str(item.get("role", "")), "content": "" if content is None else str(content)}
                )
    elif isinstance(prompt, dict) and isinstance(prompt.get("messages"), list):
        messages = [
            {"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
            for m in prompt["messages"]
            if isinstance(m, dict)
        ]
    elif isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    logged = gen.prompt_text is not None or gen.completion_text is not None
    return render(
        request,
        "gateway/generation_detail.html",
        {"gen": gen, "messages_logged": messages, "logged": logged},
    )


@login_required
@require_GET
def playground(request: HttpRequest) -> HttpResponse:
    from catalog.snapshot import get_snapshot

    if request.htmx and request.htmx.target == "pg-balance-wrap":
        return render(
            request, "gateway/playground.html#balance", {"balance": _balance(DashContext(user=request.user))}
        )
    # A chat playground: embedding models answer at /embeddings only.
    models = [
        m for m in get_snapshot().models.values() if m.endpoints and "embeddings" not in m.output_modalities
    ]
    models.sort(key=lambda m: (not m.slug.startswith("mock/"), m.slug))
    prices = {}
    for m in models:
        ep = m.endpoints[0]
        prices[m.slug] = {"input": per_million(ep.input_price), "output": per_million(ep.output_price)}
    return render(
        request,
        "gateway/playground.html",
        {
            "models": models,
            "prices": prices,
            "selected": request.GET.get("model", "mock/echo"),
            "balance": _balance(DashContext(user=request.user)),
        },
    )


@login_required
@require_POST
def playground_key(request: HttpRequest) -> JsonResponse:
    """The session's playground key, for the page's script (POST: it may create one)."""
    return JsonResponse({"key": playground_key_for_session(request=request)})
