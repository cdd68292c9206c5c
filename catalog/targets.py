"""Where and how to call one endpoint: what the catalog snapshot hands to the provider adapters."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Target:
    """Where and how to call: a snapshot of one catalog Endpoint and its Provider."""

    endpoint_id: int
    model_slug: str
    provider_slug: str
    provider_name: str
    protocol: str
    base_url: str
    api_key: str
    upstream_model: str
    max_output_tokens: int
    connect_timeout: float = 10.0
    first_byte_timeout: float = 120.0
    idle_timeout: float = 120.0
    allowed_betas: tuple[str, ...] = ()  # anthropic-beta values the provider may receive
    responses_api: bool = False  # OpenAI protocol: call /responses instead of /chat/completions
