"""Prepare PromptGrid for a benchmark run: a fresh database, the catalog, a user with credits
and an API key whose secret is printed on the last line.

Run by ``bench.run`` as ``python -m bench.setup_promptgrid --upstream URL`` with the
benchmark's DATABASE_URL and REDIS_URL in the environment (never the real ones:
the database is dropped and created anew).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from decimal import Decimal
from urllib.parse import urlsplit

BENCH_EMAIL = "bench@promptgrid.invalid"
BENCH_MODEL = "openai/gpt-4o-mini"
UPSTREAM_MODEL = "gpt-4o-mini"
CREDITS_USD = 1_000_000


def recreate_database(url: str) -> None:
    """Drop and create the database named in ``url`` (PostgreSQL), ending other sessions on it."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.startswith("pg_bench"):
        raise SystemExit(f"refusing to drop {name!r}: the benchmark only recreates pg_bench* databases")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def seed(upstream: str) -> str:
    """Catalog rows routing BENCH_MODEL to the fake upstream, a user with credits, a key."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command, get_commands

    from accounts.services import api_key_create
    from billing.services import account_for_user, credits_grant
    from catalog.models import Endpoint, Model, Provider
    from promptgrid.money import usd_to_nanos

    if "seed_catalog" in get_commands():
        call_command("seed_catalog", verbosity=0)
    provider, _ = Provider.objects.update_or_create(
        slug="openai",
        defaults={"name": "OpenAI", "protocol": "openai", "base_url": upstream, "api_key": "sk-bench-dummy"},
    )
    model, _ = Model.objects.update_or_create(
        slug=BENCH_MODEL,
        defaults={
            "name": "GPT-4o mini",
            "context_length": 128_000,
            "max_output_tokens": 16_384,
            "enabled": True,
        },
    )
    Endpoint.objects.filter(model=model).exclude(provider=provider, upstream_model=UPSTREAM_MODEL).update(
        enabled=False
    )
    Endpoint.objects.update_or_create(
        model=model,
        provider=provider,
        upstream_model=UPSTREAM_MODEL,
        defaults={
            "priority": 0,
            "enabled": True,
            "input_price": Decimal("0.15"),
            "output_price": Decimal("0.60"),
            "cache_read_price": Decimal("0.075"),
        },
    )
    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"email": BENCH_EMAIL, "is_active": True}
    )
    credits_grant(
        account=account_for_user(user=user),
        amount_nanos=usd_to_nanos(CREDITS_USD),
        memo="benchmark credits",
        idempotency_key="bench:credits",
    )
    _, secret = api_key_create(user=user, name="bench")
    return secret


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True, help="the fake upstream's base URL (with /v1)")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "promptgrid.settings")
    database_url = os.environ["DATABASE_URL"]
    recreate_database(database_url)
    if os.environ.get("REDIS_URL"):
        flush_redis(os.environ["REDIS_URL"])
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], check=True)
    print(seed(args.upstream))


if __name__ == "__main__":
    main()
