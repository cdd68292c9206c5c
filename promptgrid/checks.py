"""Deploy checks (``manage.py check --deploy``) for the operations settings."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def check_metrics_protected(app_configs: object, **kwargs: object) -> list[Warning]:
    if settings.METRICS_ENABLED and not settings.METRICS_TOKEN:
        return [
            Warning(
                "/metrics is served without a token.",
                hint="Set METRICS_TOKEN (scrapers send Authorization: Bearer <token>), "
                "or METRICS_ENABLED=false.",
                id="promptgrid.W001",
            )
        ]
    return []


@register(deploy=True)
def check_multiprocess_metrics_dir(app_configs: object, **kwargs: object) -> list[Warning]:
    path = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
    if path and not (os.path.isdir(path) and os.access(path, os.W_OK)):
        return [
            Warning(
                f"PROMETHEUS_MULTIPROC_DIR={path!r} is not a writable folder.",
                hint="Create it before the workers start (bin/serve does), or unset it for one process.",
                id="promptgrid.W002",
            )
        ]
    return []
