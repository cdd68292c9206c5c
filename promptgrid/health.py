"""Liveness, readiness and the metrics scrape: the endpoints an orchestrator calls.

``/healthz`` answers as long as the process serves requests. ``/readyz`` answers 200
only when the database is reachable and fully migrated and Redis (when configured)
answers a ping; otherwise 503 with what is wrong. ``/metrics`` is Prometheus text,
behind ``METRICS_TOKEN`` when set and absent when ``METRICS_ENABLED`` is off.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from promptgrid.observability import metrics

log = logging.getLogger("promptgrid.health")

REDIS_TIMEOUT_SECONDS = 2.0

# Once every migration is applied it stays applied for the life of the process;
# loading the migration graph on every probe would be the probe's main cost.
_migrated = False


@require_safe
async def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"}, headers={"Cache-Control": "no-store"})


def _check_database() -> dict[str, str]:
    global _migrated
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        log.warning("readiness: database unreachable: %s", exc)
        return {"database": f"unreachable ({type(exc).__name__})", "migrations": "unknown"}
    if _migrated:
        return {"database": "ok", "migrations": "ok"}
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception as exc:
        log.warning("readiness: migration state unreadable: %s", exc)
        return {"database": "ok", "migrations": f"unknown ({type(exc).__name__})"}
    if pending:
        return {"database": "ok", "migrations": f"{len(pending)} unapplied"}
    _migrated = True
    return {"database": "ok", "migrations": "ok"}


async def _check_redis() -> str:
    if not settings.REDIS_URL:
        return "not configured"
    import redis.asyncio as redis

    client = redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        await asyncio.wait_for(client.ping(), REDIS_TIMEOUT_SECONDS)
    except Exception as exc:
        log.warning("readiness: redis unreachable: %s", exc)
        return f"unreachable ({type(exc).__name__})"
    finally:
        await client.aclose()
    return "ok"


@require_safe
async def readyz(request: HttpRequest) -> JsonResponse:
    database, redis_state = await asyncio.gather(sync_to_async(_check_database)(), _check_redis())
    checks = {**database, "redis": redis_state}
    ready = all(value in ("ok", "not configured") for value in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
        headers={"Cache-Control": "no-store"},
    )


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        return bool(settings.METRICS_PUBLIC)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_safe
async def metrics_view(request: HttpRequest) -> HttpResponse:
    if not settings.METRICS_ENABLED:
        raise Http404
    if not _authorized(request):
        return HttpResponse(
            "metrics need Authorization: Bearer <METRICS_TOKEN>\n",
            status=401,
            content_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    body = await sync_to_async(metrics.render, thread_sensitive=False)()
    return HttpResponse(body, content_type=metrics.CONTENT_TYPE_LATEST)
