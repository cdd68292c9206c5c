"""Create a demo user with 30 days of realistic, correctly billed history."""

from __future__ import annotations

import random
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, UserSettings
from accounts.services import api_key_create
from billing.models import Generation
from billing.pricing import usage_cost_nanos
from billing.services import InsufficientCredits, account_for_user, credits_grant, hold_place, hold_settle
from catalog.snapshot import EndpointInfo, get_snapshot, invalidate_local
from gateway.dashboard.selectors import overview_forget
from gateway.providers.base import Usage
from promptgrid.money import format_usd, usd_to_nanos

PROMPTS = [
    (
        "Summarise this support ticket in two sentences.",
        "The customer cannot log in after resetting their password.",
    ),
    ("Translate 'good morning' into French.", "Bonjour."),
    (
        "Write a haiku about databases.",
        "Rows in quiet sleep / an index wakes them gently / answers, in order.",
    ),
    ("Classify the sentiment: 'The update broke everything.'", "negative"),
    ("Extract the date from: 'Invoice due 2026-03-01'.", '{"due_date": "2026-03-01"}'),
]
KEYS = [("Production", 0.6), ("Staging", 0.25), ("Notebook", 0.15)]
# The app each key's traffic names (HTTP-Referer, X-Title); the notebook names none.
APPS = {
    "Production": {"app_referer": "https://support.example.com/", "app_title": "Support bot"},
    "Staging": {"app_referer": "https://staging.support.example.com/", "app_title": "Support bot (staging)"},
}


class Command(BaseCommand):
    help = (
        "Create a demo user (demo@promptgrid.local unless --email) with keys and 30 days of "
        "generations charged through the billing services, so balances, ledger and dashboard agree. "
        "Refuses if the user already has history, unless --reset."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--email", default="demo@promptgrid.local")
        parser.add_argument("--password", default="", help="Login password (default: a random one, printed).")
        parser.add_argument("--days", type=int, default=30)
        parser.add_argument("--per-day", type=int, default=40, help="Average requests per weekday.")
        parser.add_argument("--credits", default="50", help="USD granted before the history starts.")
        parser.add_argument(
            "--seed", type=int, default=7, help="Random seed (same seed, same history shape)."
        )
        parser.add_argument(
            "--reset", action="store_true", help="Replace the demo user's keys and generations."
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        endpoints = self._endpoints()
        user_model = get_user_model()
        email = opts["email"].strip().lower()
        user = user_model.objects.filter(email__iexact=email).first()
        password = opts["password"] or secrets.token_urlsafe(9)
        if user is None:
            user = user_model.objects.create_user(username=email, email=email, password=password)
        elif Generation.objects.filter(user=user).exists() and not opts["reset"]:
            raise CommandError(f"{email} already has history. Run again with --reset to replace it.")
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
        self._email_address(user)
        if opts["reset"]:
            # The ledger is append-only and stays; generations and keys are replaced.
            Generation.objects.filter(user=user).delete()
            ApiKey.objects.filter(user=user).delete()

        account = account_for_user(user=user)
        run = timezone.now().strftime("%Y%m%d%H%M%S")
        credits_grant(
            account=account,
            amount_nanos=usd_to_nanos(opts["credits"]),
            memo="Demo credits",
            idempotency_key=f"seed_demo:{run}",
        )
        UserSettings.objects.update_or_create(
            user=user, defaults={"log_prompts": True, "log_retention_days": 30}
        )
        keys = [(api_key_create(user=user, name=name)[0], weight) for name, weight in KEYS]
        _, first_secret = api_key_create(user=user, name="Demo quickstart")

        rng = random.Random(opts["seed"])
        count, spent = self._history(user, account.pk, keys, endpoints, rng, opts["days"], opts["per_day"])
        overview_forget(user_id=user.pk)  # the history was written into already-closed days
        account.refresh_from_db()
        self.stdout.write(self.style.SUCCESS(f"Demo user {email} (password: {password})"))
        self.stdout.write(f"  {count} generations over {opts['days']} days, {format_usd(spent)} spent")
        self.stdout.write(f"  balance {format_usd(account.balance_nanos)}")
        self.stdout.write(f"  API key 'Demo quickstart': {first_secret}")

    def _endpoints(self) -> list[tuple[str, EndpointInfo]]:
        invalidate_local()
        models = get_snapshot().models
        if not any(m.endpoints for m in models.values()):
            try:
                call_command("seed_catalog", stdout=self.stdout)
            except CommandError as exc:
                raise CommandError("The catalog is empty: run `manage.py seed_catalog` first.") from exc
            invalidate_local()
            models = get_snapshot().models
        preferred = [
            "openai/gpt-4o-mini",
            "anthropic/claude-3.5-haiku",
            "google/gemini-2.0-flash",
            "openai/gpt-4o",
            "anthropic/claude-sonnet-4",
            "mock/echo",
        ]
        # Demo traffic is chat: embedding models do not answer it.
        chat = {s: m for s, m in models.items() if m.endpoints and "embeddings" not in m.output_modalities}
        chosen = [s for s in preferred if s in chat]
        chosen += [s for s in sorted(chat) if s not in chosen][: max(0, 5 - len(chosen))]
        if not chosen:
            raise CommandError("No enabled model has an endpoint: run `manage.py seed_catalog` first.")
        return [(slug, models[slug].endpoints[0]) for slug in chosen]

    @staticmethod
    def _email_address(user: Any) -> None:
        try:
            from allauth.account.models import EmailAddress
        except ImportError:  # pragma: no cover - allauth is installed
            return
        EmailAddress.objects.update_or_create(
            user=user, email=user.email, defaults={"verified": True, "primary": True}
        )

    def _history(
        self,
        user: Any,
        account_id: int,
        keys: list[tuple[ApiKey, float]],
        endpoints: list[tuple[str, EndpointInfo]],
        rng: random.Random,
        days: int,
        per_day: int,
    ) -> tuple[int, int]:
        now = timezone.now()
        model_weights = [1 / (i + 1) for i in range(len(endpoints))]  # a few models carry most traffic
        count = spent = 0
        for day_ago in range(days - 1, -1, -1):
            day = (
                (now - timedelta(days=day_ago))
                .astimezone(UTC)
                .replace(hour=0, minute=0, second=0, microsecond=0)
            )
            weekend = day.weekday() >= 5
            trend = 0.6 + 0.4 * (days - day_ago) / max(days, 1)  # usage grows over the month
            n = max(1, int(rng.gauss(per_day * trend * (0.35 if weekend else 1.0), per_day * 0.15)))
            stamps = sorted(day + timedelta(seconds=rng.uniform(7 * 3600, 22 * 3600)) for _ in range(n))
            for at in stamps:
                if at >= now:
                    at = now - timedelta(seconds=rng.uniform(1, 600))
                key = rng.choices([k for k, _ in keys], weights=[w for _, w in keys])[0]
                slug, endpoint = rng.choices(endpoints, weights=model_weights)[0]
                try:
                    spent += self._one(user, account_id, key, slug, endpoint, at, rng, recent=day_ago < 2)
                except InsufficientCredits:
                    self.stdout.write(self.style.WARNING("Credits ran out; the history stops here."))
                    return count, spent
                count += 1
        return count, spent

    @transaction.atomic
    def _one(
        self,
        user: Any,
        account_id: int,
        key: ApiKey,
        slug: str,
        endpoint: EndpointInfo,
        at: datetime,
        rng: random.Random,
        recent: bool,
    ) -> int:
        status = rng.choices(["success", "error", "cancelled"], weights=[96, 3, 1])[0]
        prompt = int(rng.lognormvariate(6.2, 0.9))
        completion = int(rng.lognormvariate(5.0, 0.8)) if status == "success" else 0
        cached = int(prompt * rng.choice([0, 0, 0, 0.5, 0.8]))
        usage = Usage(prompt_tokens=prompt, completion_tokens=completion, cached_tokens=cached)
        cost = usage_cost_nanos(usage, endpoint) if status != "error" else 0
        streamed = rng.random() < 0.6
        ttft = int(rng.lognormvariate(5.6, 0.5)) if streamed else None
        latency = (ttft or 0) + int(completion * rng.uniform(8, 20)) + int(rng.uniform(40, 300))
        gen_id = f"gen-demo-{secrets.token_hex(10)}"
        text: dict[str, Any] = {}
        if recent and status == "success":
            question, answer = rng.choice(PROMPTS)
            text = {"prompt_text": [{"role": "user", "content": question}], "completion_text": answer}
        Generation.objects.create(
            id=gen_id,
            user=user,
            api_key=key,
            model_slug=slug,
            provider_slug=endpoint.target.provider_slug,
            provider_name=endpoint.target.provider_name,
            upstream_model=endpoint.target.upstream_model,
            endpoint_id=endpoint.target.endpoint_id,
            streamed=streamed,
            status=status,
            http_status={"success": 200, "error": 502, "cancelled": 499}[status],
            finish_reason="stop" if status == "success" else "",
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_tokens=cached,
            cost_nanos=cost,
            ttft_ms=ttft,
            latency_ms=latency,
            error="Upstream provider returned 500 (demo data)." if status == "error" else "",
            created_at=at,
            **APPS.get(key.name, {}),
            **text,
        )
        # Charged through the same hold → settle path as live traffic.
        hold = hold_place(account_id=account_id, amount_nanos=cost, ttl_seconds=60, api_key_id=key.pk)
        hold_settle(hold_id=hold.id, cost_nanos=cost, generation_id=gen_id, memo=slug)
        return cost
