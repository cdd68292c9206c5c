"""Reads for the dashboard: overview figures, activity listings, one generation.

Every query is scoped to one user and walks the ``(user, …, -created_at)`` indexes of
Generation. The overview is computed from ONE grouped query (per day and model over
the last 30 days) and folded in Python, so a user with 100,000 generations costs one
index range scan, not one per figure.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.db.models import CharField, Count, Q, QuerySet, Sum
from django.db.models.functions import Substr, TruncDate
from django.http import Http404
from django.utils import timezone

from accounts.models import ApiKey
from billing.models import Generation

OVERVIEW_DAYS = 30
# Generations are timed at their start; past days are cached only once the slowest
# request of yesterday can no longer be settling.
CLOSED_DAY_GRACE = timedelta(minutes=15)
TOP_MODELS = 6
PAGE_SIZE = 50


@dataclass
class DayPoint:
    day: date
    cost_nanos: int = 0
    tokens: int = 0
    requests: int = 0


@dataclass
class ModelShare:
    model_slug: str
    cost_nanos: int
    tokens: int
    requests: int
    share: float  # of the 30-day spend (or tokens when nothing cost anything), 0..1
    color: str  # css class suffix: 0..5 or "other"


@dataclass
class Overview:
    spend_today_nanos: int = 0
    spend_7d_nanos: int = 0
    spend_30d_nanos: int = 0
    requests_30d: int = 0
    errors_30d: int = 0
    prompt_tokens_30d: int = 0
    completion_tokens_30d: int = 0
    avg_latency_ms: int | None = None
    avg_ttft_ms: int | None = None
    days: list[DayPoint] = field(default_factory=list)
    models: list[ModelShare] = field(default_factory=list)

    @property
    def tokens_30d(self) -> int:
        return self.prompt_tokens_30d + self.completion_tokens_30d

    @property
    def has_data(self) -> bool:
        return self.requests_30d > 0


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _utc_day() -> Any:
    """The UTC date of ``created_at``.

    SQLite stores UTC datetimes as ISO text, so the first ten characters are the day;
    that is a native string function instead of Django's per-row Python TruncDate.
    """
    if connection.vendor == "sqlite":
        return Substr("created_at", 1, 10, output_field=CharField())
    return TruncDate("created_at", tzinfo=UTC)


def _usage_rows(qs: QuerySet[Generation]) -> list[dict[str, Any]]:
    """Sums per (UTC day, model): one grouped scan of the (user, created_at, …) covering index."""
    return list(
        qs.annotate(day=_utc_day())
        .values("day", "model_slug")
        .annotate(
            cost=Sum("cost_nanos"),
            prompt=Sum("prompt_tokens"),
            completion=Sum("completion_tokens"),
            n=Count("status"),  # not "id": the covering index does not hold it
            errors=Count("status", filter=~Q(status=Generation.Status.SUCCESS)),
            latency=Sum("latency_ms"),
            ttft=Sum("ttft_ms"),
            ttft_n=Count("ttft_ms"),
        )
        .order_by()
    )


def overview_cache_key(user_id: int | str, first_day: date, today: date) -> str:
    version = cache.get(f"dash:ov:v:{user_id}", 0)
    return f"dash:ov:{user_id}:{version}:{first_day.isoformat()}:{today.isoformat()}"


def overview_forget(*, user_id: int) -> None:
    """Drop a user's cached past days (after writing history into the past, e.g. seed_demo)."""
    key = f"dash:ov:v:{user_id}"
    try:
        cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=None)


def _closed_days(
    user_id: int | str, first_day: date, today_start: datetime, now: datetime, scope: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The days before today, cached until midnight.

    Past days no longer change, and the live dashboard re-renders the overview on every
    new generation, so only today's rows are read each time. Just after midnight the
    cache is not filled, so requests that started yesterday and settle now still count.
    """
    key = overview_cache_key(user_id, first_day, today_start.date())
    rows = cache.get(key)
    if rows is None:
        rows = _usage_rows(
            Generation.objects.filter(
                **scope, created_at__gte=_day_start(first_day), created_at__lt=today_start
            )
        )
        if now - today_start > CLOSED_DAY_GRACE:
            cache.set(key, rows, timeout=int(timedelta(days=1).total_seconds()))
    return rows


def overview_for_user(
    *,
    user_id: int,
    now: datetime | None = None,
    scope: Mapping[str, Any] | None = None,
    scope_key: str | None = None,
) -> Overview:
    """Spend, volume, speed and per-day/per-model breakdowns of the last 30 days (UTC days).

    ``scope`` (a Generation filter) and ``scope_key`` (its name for the cache) narrow it to a
    dashboard context other than the user's own requests (an organisation's)."""
    scope = scope or {"user_id": user_id}
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    first_day = today - timedelta(days=OVERVIEW_DAYS - 1)
    today_start = _day_start(today)
    rows = _closed_days(scope_key or user_id, first_day, today_start, now, scope) + _usage_rows(
        Generation.objects.filter(**scope, created_at__gte=today_start)
    )
    ov = Overview()
    days = {
        first_day + timedelta(days=i): DayPoint(first_day + timedelta(days=i)) for i in range(OVERVIEW_DAYS)
    }
    by_model: dict[str, list[int]] = {}
    latency_sum = ttft_sum = ttft_n = 0
    week_start = today - timedelta(days=6)
    for row in rows:
        day = row["day"]
        if isinstance(day, str):
            day = date.fromisoformat(day)
        elif isinstance(day, datetime):
            day = day.date()
        cost, n = row["cost"] or 0, row["n"]
        tokens = (row["prompt"] or 0) + (row["completion"] or 0)
        point = days.get(day)
        if point is not None:
            point.cost_nanos += cost
            point.tokens += tokens
            point.requests += n
        ov.spend_30d_nanos += cost
        if day >= week_start:
            ov.spend_7d_nanos += cost
        if day == today:
            ov.spend_today_nanos += cost
        ov.requests_30d += n
        ov.errors_30d += row["errors"]
        ov.prompt_tokens_30d += row["prompt"] or 0
        ov.completion_tokens_30d += row["completion"] or 0
        latency_sum += row["latency"] or 0
        ttft_sum += row["ttft"] or 0
        ttft_n += row["ttft_n"]
        agg = by_model.setdefault(row["model_slug"], [0, 0, 0])
        agg[0] += cost
        agg[1] += tokens
        agg[2] += n
    if ov.requests_30d:
        ov.avg_latency_ms = round(latency_sum / ov.requests_30d)
    if ttft_n:
        ov.avg_ttft_ms = round(ttft_sum / ttft_n)
    ov.days = [days[d] for d in sorted(days)]
    ov.models = _model_shares(by_model, ov.spend_30d_nanos, ov.tokens_30d)
    return ov


def _model_shares(by_model: dict[str, list[int]], total_cost: int, total_tokens: int) -> list[ModelShare]:
    by_cost = total_cost > 0
    ranked = sorted(by_model.items(), key=lambda kv: kv[1][0] if by_cost else kv[1][1], reverse=True)
    total = (total_cost if by_cost else total_tokens) or 1
    shares = [
        ModelShare(slug, cost, tokens, n, (cost if by_cost else tokens) / total, str(i))
        for i, (slug, (cost, tokens, n)) in enumerate(ranked[:TOP_MODELS])
    ]
    rest = ranked[TOP_MODELS:]
    if rest:
        cost = sum(v[0] for _, v in rest)
        tokens = sum(v[1] for _, v in rest)
        n = sum(v[2] for _, v in rest)
        label = f"{len(rest)} other models"
        shares.append(ModelShare(label, cost, tokens, n, (cost if by_cost else tokens) / total, "other"))
    return shares


# ---------- Activity ----------


@dataclass(frozen=True)
class ActivityFilters:
    key_id: int | None = None
    model: str = ""
    status: str = ""
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    app: str = ""  # an app's title or referer URL, exactly as recorded
    end_user: str = ""  # the request's ``user``

    @property
    def active(self) -> bool:
        return any(
            [self.key_id, self.model, self.status, self.date_from, self.date_to, self.app, self.end_user]
        )


def parse_filters(params: Any) -> tuple[ActivityFilters, dict[str, str]]:
    """Read filters from a QueryDict; return them with a message per field that was invalid."""
    errors: dict[str, str] = {}
    key_id = None
    if params.get("key"):
        try:
            key_id = int(params["key"])
        except ValueError:
            errors["key"] = "Unknown key."
    status = params.get("status", "")
    if status and status not in Generation.Status.values:
        errors["status"] = "Unknown status."
        status = ""
    dates: dict[str, date | None] = {}
    for name in ("from", "to"):
        raw = params.get(name, "")
        dates[name] = None
        if raw:
            try:
                dates[name] = date.fromisoformat(raw)
            except ValueError:
                errors[name] = "Use a date like 2026-01-31."
    if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
        errors["to"] = "The end date is before the start date."
    model = params.get("model", "")[:200]
    return (
        ActivityFilters(
            key_id=key_id,
            model=model,
            status=status,
            date_from=dates["from"],
            date_to=dates["to"],
            app=params.get("app", "").strip()[:500],
            end_user=params.get("user", "").strip()[:256],
        ),
        errors,
    )


def generations_for_user(
    *, user_id: int, filters: ActivityFilters, scope: Mapping[str, Any] | None = None
) -> QuerySet[Generation]:
    qs = Generation.objects.filter(**(scope or {"user_id": user_id}))
    if filters.key_id:
        qs = qs.filter(api_key_id=filters.key_id)
    if filters.model:
        qs = qs.filter(model_slug=filters.model)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.app:
        qs = qs.filter(Q(app_title=filters.app) | Q(app_referer=filters.app))
    if filters.end_user:
        qs = qs.filter(end_user=filters.end_user)
    if filters.date_from:
        qs = qs.filter(created_at__gte=_day_start(filters.date_from))
    if filters.date_to:
        qs = qs.filter(created_at__lt=_day_start(filters.date_to + timedelta(days=1)))
    return qs


LIST_FIELDS = (
    "id",
    "created_at",
    "model_slug",
    "provider_name",
    "provider_slug",
    "api_key_id",
    "organisation_id",
    "api_key__name",
    "api_key__kind",
    "status",
    "http_status",
    "streamed",
    "api",
    "prompt_tokens",
    "completion_tokens",
    "cost_nanos",
    "latency_ms",
    "ttft_ms",
    "app_title",
    "app_referer",
    "end_user",
)


@dataclass
class Page:
    rows: list[Generation]
    newer_cursor: str | None
    older_cursor: str | None
    is_first: bool


def encode_cursor(created_at: datetime, pk: str) -> str:
    return f"{created_at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')}~{pk}"


def decode_cursor(raw: str) -> tuple[datetime, str] | None:
    stamp, sep, pk = raw.partition("~")
    if not sep or not pk:
        return None
    try:
        return datetime.strptime(stamp, "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC), pk
    except ValueError:
        return None


def activity_page(
    *,
    user_id: int,
    filters: ActivityFilters,
    before: str = "",
    after: str = "",
    size: int = PAGE_SIZE,
    scope: Mapping[str, Any] | None = None,
) -> Page:
    """One page of generations, newest first, by keyset on (created_at, id).

    Keyset pagination costs the same on page 1 and page 2,000 (no OFFSET, no COUNT).
    """
    qs = (
        generations_for_user(user_id=user_id, filters=filters, scope=scope)
        .select_related("api_key", "user")
        .only(*LIST_FIELDS, "user__email", "user__username")
    )
    older = decode_cursor(before) if before else None
    newer = decode_cursor(after) if after else None
    if newer:
        at, pk = newer
        rows = list(
            qs.filter(Q(created_at__gt=at) | Q(created_at=at, id__gt=pk), created_at__gte=at).order_by(
                "created_at", "id"
            )[: size + 1]
        )
        has_newer = len(rows) > size
        rows = list(reversed(rows[:size]))
        has_older = True
    else:
        if older:
            at, pk = older
            # The redundant bound gives the index scan a start; the OR alone would not.
            qs = qs.filter(Q(created_at__lt=at) | Q(created_at=at, id__lt=pk), created_at__lte=at)
        rows = list(qs.order_by("-created_at", "-id")[: size + 1])
        has_older = len(rows) > size
        rows = rows[:size]
        has_newer = older is not None
    return Page(
        rows=rows,
        newer_cursor=encode_cursor(rows[0].created_at, rows[0].pk) if rows and has_newer else None,
        older_cursor=encode_cursor(rows[-1].created_at, rows[-1].pk) if rows and has_older else None,
        is_first=not has_newer,
    )


def filter_choices(*, user_id: int, scope: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The keys of the context (playground sessions folded into one entry) and models used."""
    if scope is None or set(scope) == {"user_id"}:
        keys = ApiKey.objects.filter(user_id=user_id)
        models = models_used(user_id=user_id)
    else:  # an organisation's (or a member's in it), or personal keys beside organisation ones
        keys = ApiKey.objects.filter(**scope)  # the same columns name a key's context
        models = list(
            Generation.objects.filter(**scope)
            .order_by("model_slug")
            .values_list("model_slug", flat=True)
            .distinct()[:500]
        )
    keys = list(
        keys.exclude(kind=ApiKey.Kind.PLAYGROUND)
        .order_by("name")
        .values("id", "name", "masked", "user__email")
    )
    return {"keys": keys, "models": models, "statuses": Generation.Status.choices}


def models_used(*, user_id: int) -> list[str]:
    """Every model slug the user ever called, in order.

    A plain DISTINCT reads all of a user's rows; this walks the (user, model_slug, …)
    index one distinct value at a time (a "loose index scan"), so it costs one seek per
    model however many generations there are. Works on PostgreSQL and SQLite.
    """
    table = Generation._meta.db_table
    sql = f"""
        WITH RECURSIVE slugs(slug) AS (
            SELECT MIN(model_slug) FROM {table} WHERE user_id = %s
            UNION ALL
            SELECT (SELECT MIN(model_slug) FROM {table} WHERE user_id = %s AND model_slug > slugs.slug)
            FROM slugs WHERE slugs.slug IS NOT NULL
        )
        SELECT slug FROM slugs WHERE slug IS NOT NULL
    """  # noqa: S608 (the table name is ours; values are parameters)
    with connection.cursor() as cursor:
        cursor.execute(sql, [user_id, user_id])
        return [row[0] for row in cursor.fetchall()]


def generation_for_user(
    *, user_id: int, generation_id: str, scope: Mapping[str, Any] | None = None
) -> Generation:
    """The user's generation (or, with ``scope``, the context's), or 404: another user's
    or organisation's id is indistinguishable from none."""
    gen = (
        Generation.objects.select_related("api_key", "user")
        .filter(pk=generation_id, **(scope or {"user_id": user_id}))
        .first()
    )
    if gen is None:
        raise Http404("No such generation.")
    return gen


CSV_COLUMNS = (
    ("id", "id"),
    ("created_at", "created_at"),
    ("model", "model_slug"),
    ("provider", "provider_slug"),
    ("upstream_model", "upstream_model"),
    ("key", "api_key__name"),
    ("status", "status"),
    ("http_status", "http_status"),
    ("finish_reason", "finish_reason"),
    ("streamed", "streamed"),
    ("api", "api"),
    ("app_title", "app_title"),
    ("app_referer", "app_referer"),
    ("user", "end_user"),
    ("prompt_tokens", "prompt_tokens"),
    ("completion_tokens", "completion_tokens"),
    ("cached_tokens", "cached_tokens"),
    ("reasoning_tokens", "reasoning_tokens"),
    ("cost_nanos", "cost_nanos"),
    ("latency_ms", "latency_ms"),
    ("ttft_ms", "ttft_ms"),
)


def export_rows(
    *, user_id: int, filters: ActivityFilters, scope: Mapping[str, Any] | None = None
) -> Iterator[tuple[Any, ...]]:
    """Every matching generation as a tuple of CSV_COLUMNS, streamed from the database in chunks."""
    qs = (
        generations_for_user(user_id=user_id, filters=filters, scope=scope)
        .order_by("-created_at", "-id")
        .values_list(*(src for _, src in CSV_COLUMNS))
    )
    yield from qs.iterator(chunk_size=2000)
