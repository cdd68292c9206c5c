"""The catalog: who serves which model, at what price.

Prices are stored in USD per million tokens as exact decimals; the billing app
turns them into charges (``promptgrid.money``).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import models

PRICE_FIELD = dict(max_digits=18, decimal_places=6, default=Decimal("0"))


class Provider(models.Model):
    class Protocol(models.TextChoices):
        OPENAI = "openai", "OpenAI-compatible"
        ANTHROPIC = "anthropic", "Anthropic Messages"
        GOOGLE = "google", "Google Gemini"
        MOCK = "mock", "Offline mock"

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=100)
    protocol = models.CharField(max_length=20, choices=Protocol.choices)
    base_url = models.URLField(blank=True, help_text="Leave blank for the SDK's default.")
    # Stored for the gateway's use only: never rendered back in full, never logged.
    api_key = models.CharField(max_length=500, blank=True)
    enabled = models.BooleanField(default=True)
    # Seconds; blank means the gateway-wide UPSTREAM_*_TIMEOUT setting.
    connect_timeout = models.FloatField(
        null=True, blank=True, help_text="Seconds to open a connection (blank: UPSTREAM_CONNECT_TIMEOUT)."
    )
    first_byte_timeout = models.FloatField(
        null=True, blank=True, help_text="Seconds to the first byte (blank: UPSTREAM_FIRST_BYTE_TIMEOUT)."
    )
    idle_timeout = models.FloatField(
        null=True, blank=True, help_text="Seconds between stream chunks (blank: UPSTREAM_IDLE_TIMEOUT)."
    )
    # Betas change what the provider does (and may bill): only those named here pass through.
    allowed_betas = models.CharField(
        max_length=1000,
        blank=True,
        help_text="anthropic-beta values a client may send through to this provider, comma-separated "
        "(Anthropic providers; others ignore it). Betas not listed are not forwarded.",
    )
    # Over chat completions an OpenAI reasoning model's reasoning is lost between turns.
    responses_api = models.BooleanField(
        default=False,
        verbose_name="Responses API upstream",
        help_text="OpenAI protocol: call the provider's /responses instead of /chat/completions "
        "(OpenAI's encrypted reasoning is kept across turns). The server must speak OpenAI's Responses API.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def betas(self) -> tuple[str, ...]:
        return tuple(beta.strip() for beta in self.allowed_betas.split(",") if beta.strip())

    @property
    def api_key_masked(self) -> str:
        if not self.api_key:
            return ""
        return f"{self.api_key[:3]}…{self.api_key[-4:]}" if len(self.api_key) > 12 else "…"


class Model(models.Model):
    """A public model id in OpenRouter's ``author/slug`` form."""

    slug = models.CharField(max_length=200, unique=True, help_text="e.g. openai/gpt-4o-mini")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    context_length = models.PositiveIntegerField(default=0)
    max_output_tokens = models.PositiveIntegerField(default=4096)
    input_modalities = models.JSONField(default=list, blank=True)
    output_modalities = models.JSONField(default=list, blank=True)
    supported_parameters = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def author(self) -> str:
        return self.slug.split("/", 1)[0]


class Endpoint(models.Model):
    """A model served by a provider, with its upstream name, priority and prices."""

    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="endpoints")
    provider = models.ForeignKey(Provider, on_delete=models.PROTECT, related_name="endpoints")
    upstream_model = models.CharField(max_length=200)
    priority = models.IntegerField(default=0, help_text="Lower is tried first.")
    enabled = models.BooleanField(default=True)
    # USD per million tokens.
    input_price = models.DecimalField(**PRICE_FIELD)
    output_price = models.DecimalField(**PRICE_FIELD)
    cache_read_price = models.DecimalField(**PRICE_FIELD)
    cache_write_price = models.DecimalField(**PRICE_FIELD)
    # USD per request, on top of tokens.
    request_price = models.DecimalField(**PRICE_FIELD)
    # Overrides of the model's limits for this endpoint; 0 means "the model's".
    context_length = models.PositiveIntegerField(default=0)
    max_output_tokens = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["model", "priority", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "provider", "upstream_model"], name="endpoint_unique_route"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model.slug} via {self.provider.slug}"


class ModelAlias(models.Model):
    """Another name a request may use for a model: a common alias, a dated snapshot
    id, or a retired name whose requests get a 404 naming ``model`` as the closest
    current one. Matching ignores case."""

    class Kind(models.TextChoices):
        ALIAS = "alias", "Alias"
        SNAPSHOT = "snapshot", "Dated snapshot"
        RETIRED = "retired", "Retired (404 naming this model)"

    name = models.CharField(max_length=200, unique=True, help_text="e.g. claude-sonnet-4-5-20250929")
    model = models.ForeignKey(Model, on_delete=models.CASCADE, related_name="aliases")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.ALIAS)

    class Meta:
        ordering = ["model", "kind", "name"]
        verbose_name_plural = "model aliases"

    def __str__(self) -> str:
        return f"{self.name} -> {self.model.slug}"
