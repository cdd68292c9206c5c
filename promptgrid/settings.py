"""PromptGrid settings, read from the environment (12-factor).

Every variable is documented in README.md. Values are parsed strictly by
``promptgrid.env``: a malformed value refuses to start with a message that says
what to fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from promptgrid.env import (
    env_bool,
    env_decimal,
    env_int,
    env_list,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEV_SECRET_KEY = "django-insecure-promptgrid-development-key-do-not-use-in-production"

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
if not DEBUG and SECRET_KEY == DEV_SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is the development key while DEBUG is off. Set SECRET_KEY to a long random "
        "value (python -c 'import secrets; print(secrets.token_urlsafe(50))'), or DEBUG=true "
        "for local development."
    )
if len(SECRET_KEY) < 32:
    raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if "://" not in _origin:
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entry {_origin!r} needs a scheme, e.g. https://{_origin}."
        )

# The public URL of this deployment, used in snippets, emails and Stripe redirects.
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# daphne's app only takes over `manage.py runserver` (websockets in development). A server
# process that imports promptgrid.asgi (uvicorn, granian) never runs that command, and
# leaving daphne out spares each of its workers twisted's reactor (18 MB of RSS).
_RUNSERVER_APPS = [] if os.environ.get("PROMPTGRID_ASGI_PROCESS") == "1" else ["daphne"]

INSTALLED_APPS = [
    *_RUNSERVER_APPS,
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "channels",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc served from our static files, no CDN
    "django_htmx",
    "template_partials",
    "allauth",
    "allauth.account",
    "allauth.mfa",  # two-factor sign-in (TOTP and recovery codes), which an organisation can require
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
    "catalog",
    "accounts",
    "accounts.audit_log",
    "accounts.organisations",
    "billing",
    "billing.alerts",
    "gateway",
    "gateway.dashboard",
    "promptgrid",  # deploy checks (promptgrid.checks)
]

MIDDLEWARE = [
    "promptgrid.observability.request_id.RequestIdMiddleware",  # first: every response gets x-request-id
    "promptgrid.nul.refuse_nul",  # before anything reads the URL into a query
    "promptgrid.api_errors.api_method_not_allowed",
    "django.middleware.security.SecurityMiddleware",
    "promptgrid.csp.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "promptgrid.urls"
ASGI_APPLICATION = "promptgrid.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.organisations.context_processors.dash_contexts",
            ],
        },
    },
]

# Database: SQLite file by default, PostgreSQL through psycopg 3 with postgres://…
_DEFAULT_DB = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
_database_url = env_url("DATABASE_URL", _DEFAULT_DB, schemes=("sqlite", "postgres", "postgresql", "pgsql"))
try:
    DATABASES = {"default": environ.Env.db_url_config(_database_url)}
except Exception as exc:  # environ raises several types for malformed URLs
    raise ImproperlyConfigured(f"DATABASE_URL={_database_url!r} cannot be parsed: {exc}") from exc
# 0 (close at the end of each request) is Django's advice under ASGI: a sync view runs in a
# thread made for its request, and a persistent connection outlives that thread, so a burst of
# requests would leave one open connection each. The hot path reuses the async pool instead.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# On PostgreSQL, sync views share a fixed pool: however many requests are in flight, a process
# holds at most DB_POOL_SIZE connections (a request waits up to DB_POOL_TIMEOUT s for one).
DB_POOL_SIZE = env_int("DB_POOL_SIZE", 8, minimum=0)
if DB_POOL_SIZE and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django's pool refuses persistent connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 0,
        "max_size": DB_POOL_SIZE,
        "timeout": env_int("DB_POOL_TIMEOUT", 10, minimum=1),
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the gateway's short write transactions interleave.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: optional. When set, cache, rate limits, circuit breakers and channels use it.
REDIS_URL = env_url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))
if REDIS_URL:
    CACHES = {
        "default": {
            # A Redis outage is a cache miss, not a failed request (promptgrid/redis_down.py).
            "BACKEND": "promptgrid.redis_down.TolerantRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# The live dashboard gets at most one send per user per window; the latest state wins.
LIVE_EVENTS_WINDOW_MS = env_int("LIVE_EVENTS_WINDOW_MS", 150, minimum=0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]

# Accounts (django-allauth): email is the login.
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email"}
# Failed sign-ins: 10 a minute per client address, and 5 in 5 minutes per email from one
# address (accounts/adapter.py), so others' failures cannot lock an email's owner out.
ACCOUNT_RATE_LIMITS = {"login_failed": env_str("LOGIN_FAILED_RATE_LIMIT", "10/m/ip,5/5m/key")}
# Behind a reverse proxy the client's address is in X-Forwarded-For: count the proxies that
# append to it (1 for the docker-compose nginx), or every client shares the proxy's address.
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = "username"
ACCOUNT_UNIQUE_EMAIL = True
# Two-factor sign-in with an authenticator app and recovery codes (no WebAuthn: no fido2).
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "PromptGrid"
EMAIL_URL = env_str("EMAIL_URL", "")
if EMAIL_URL:
    vars().update(environ.Env.email_url_config(EMAIL_URL))
    ACCOUNT_EMAIL_VERIFICATION = "mandatory"
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    ACCOUNT_EMAIL_VERIFICATION = env_str("ACCOUNT_EMAIL_VERIFICATION", "optional")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "PromptGrid <noreply@localhost>")
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "/accounts/login/"
ACCOUNT_LOGOUT_REDIRECT_URL = "/accounts/login/"
SOCIALACCOUNT_PROVIDERS: dict[str, dict] = {}
for _provider, _prefix in (("github", "GITHUB"), ("google", "GOOGLE")):
    _client_id = env_str(f"{_prefix}_CLIENT_ID")
    _secret = env_str(f"{_prefix}_CLIENT_SECRET")
    if _client_id and _secret:
        SOCIALACCOUNT_PROVIDERS[_provider] = {
            "APPS": [{"client_id": _client_id, "secret": _secret, "key": ""}]
        }

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))  # collectstatic target
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # The API takes JSON bodies only (as OpenAI's and OpenRouter's do); a form body is a 415.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "promptgrid.errors.drf_exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PromptGrid API",
    "DESCRIPTION": "OpenAI-compatible LLM gateway with exact credit billing.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The chat endpoint and OpenRouter-shaped views are plain Django views, added by a hook.
    "OAS_VERSION": "3.1.0",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "promptgrid.openapi.add_public_api",
    ],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Security: TLS-related protections are opt-in, for deployments behind a TLS proxy;
# the app keeps serving plain HTTP on loopback otherwise.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]  # probes and scrapes on plain HTTP
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp; promptgrid/csp.py). Every asset is served from this
# site; the two inline scripts carry the request's nonce, and no template has an inline style.
# 'self' covers the live dashboard's same-origin websocket (CSP level 3). form-action is left
# open: the card payment and social sign-in forms redirect to Stripe's and the provider's hosts.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
    }
}
SESSION_COOKIE_HTTPONLY = True
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # forms; the API has its own cap below

# Providers: environment values override the Provider records at start.
PROVIDER_ENV = {
    "openai": {
        "api_key": env_str("OPENAI_API_KEY"),
        "base_url": env_url("OPENAI_BASE_URL"),
    },
    "anthropic": {
        "api_key": env_str("ANTHROPIC_API_KEY"),
        "base_url": env_url("ANTHROPIC_BASE_URL"),
    },
    "google": {
        "api_key": env_str("GEMINI_API_KEY"),
        "base_url": env_url("GEMINI_BASE_URL"),
    },
}

# Gateway
API_MAX_BODY_BYTES = env_int("API_MAX_BODY_BYTES", 10 * 1024 * 1024, minimum=1024)
# How long a process may trust its cached view of keys and the catalog.
AUTH_CACHE_SECONDS = env_int("AUTH_CACHE_SECONDS", 2, minimum=0)
# How long an organisation's invitation link stays good.
ORG_INVITATION_DAYS = env_int("ORG_INVITATION_DAYS", 7, minimum=1)
PLAYGROUND_KEY_SECONDS = env_int("PLAYGROUND_KEY_SECONDS", 3600, minimum=60)
AUTH_CACHE_SIZE = env_int("AUTH_CACHE_SIZE", 10_000, minimum=1)
CATALOG_CACHE_SECONDS = env_int("CATALOG_CACHE_SECONDS", 2, minimum=0)
HOLD_TTL_SECONDS = env_int("HOLD_TTL_SECONDS", 900, minimum=10)
# OpenRouter's zero-completion insurance: no charge for an answer with no output tokens whose
# finish reason is blank or an error. Off: every answer pays for the usage its provider reported.
ZERO_COMPLETION_INSURANCE = env_bool("ZERO_COMPLETION_INSURANCE", True)
UPSTREAM_CONNECT_TIMEOUT = env_decimal("UPSTREAM_CONNECT_TIMEOUT", "10")
UPSTREAM_FIRST_BYTE_TIMEOUT = env_decimal("UPSTREAM_FIRST_BYTE_TIMEOUT", "120")
UPSTREAM_IDLE_TIMEOUT = env_decimal("UPSTREAM_IDLE_TIMEOUT", "120")
# Streaming: how long the status line is held back waiting for the upstream.
STREAM_HOLD_STATUS_SECONDS = env_decimal("STREAM_HOLD_STATUS_SECONDS", "3")
# The key of the HMAC that stands for a request's `user` upstream (gateway.pipeline.attribution);
# blank: derived from SECRET_KEY. Changing it changes every end user's id as providers see it.
USER_HASH_SECRET = env_str("USER_HASH_SECRET", "")
# transforms: ["middle-out"] by default for requests that send no transforms, to models whose
# context is at most this many tokens (OpenRouter's default: 8192). 0: only when asked.
MIDDLE_OUT_DEFAULT_MAX_CONTEXT = env_int("MIDDLE_OUT_DEFAULT_MAX_CONTEXT", 0, minimum=0)
# /api/v1/embeddings: inputs per request (OpenAI's own limit is 2048) and the largest `dimensions`.
EMBEDDINGS_MAX_INPUTS = env_int("EMBEDDINGS_MAX_INPUTS", 2048, minimum=1)
EMBEDDINGS_MAX_DIMENSIONS = env_int("EMBEDDINGS_MAX_DIMENSIONS", 16_384, minimum=1)
# Image URLs sent to a provider that needs the bytes (Gemini): size cap, and whether private
# addresses may be fetched (off: a request must not reach the gateway's own network).
IMAGE_FETCH_MAX_BYTES = env_int("IMAGE_FETCH_MAX_BYTES", 10 * 1024 * 1024, minimum=1024)
IMAGE_FETCH_ALLOW_PRIVATE = env_bool("IMAGE_FETCH_ALLOW_PRIVATE", False)
IMAGE_FETCH_MAX_URLS = env_int("IMAGE_FETCH_MAX_URLS", 16, minimum=1)
IMAGE_FETCH_MAX_TOTAL_BYTES = env_int("IMAGE_FETCH_MAX_TOTAL_BYTES", 20 * 1024 * 1024, minimum=1024)
IMAGE_FETCH_CONCURRENCY = env_int("IMAGE_FETCH_CONCURRENCY", 4, minimum=1)

# Alerts and webhooks (billing.alerts), sent by ``manage.py send_alerts`` off the request path.
# Webhook URLs must resolve to public addresses unless this is on (a private network's receiver).
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 10, minimum=1)
# Retries back off 30 s, 1 min, 2 min … (capped at 6 h); after this many attempts a delivery fails.
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8, minimum=1)
# Delivered and failed deliveries are kept this long in the delivery log.
WEBHOOK_LOG_DAYS = env_int("WEBHOOK_LOG_DAYS", 30, minimum=1)
# Database calls of the API run in a few shared threads (gateway/db.py); off: one thread per request.
GATEWAY_DB_SHARED_THREADS = env_bool("GATEWAY_DB_SHARED_THREADS", True)
# The hold and the settlement awaited on native async psycopg connections in the event loop
# (gateway/pgpool.py, no thread hop); PostgreSQL only. Off: both go through the threads above.
# Default: on with PostgreSQL and shared threads (the test settings turn it off).
_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
GATEWAY_DB_ASYNC = env_bool("GATEWAY_DB_ASYNC", _POSTGRES and GATEWAY_DB_SHARED_THREADS)
if GATEWAY_DB_ASYNC and not _POSTGRES:
    raise ImproperlyConfigured("GATEWAY_DB_ASYNC=true needs PostgreSQL (DATABASE_URL=postgres://…).")
# Connections of that pool, per process (each opens them on its first request).
GATEWAY_DB_POOL_SIZE = env_int("GATEWAY_DB_POOL_SIZE", 4, minimum=1)
# How settlements are committed (billing/pg_batch.py). strict: each request's Generation row
# and charge are their own transaction. batched: the requests of one process commit theirs
# together, everything waiting as one statement and one transaction (each answer still ends only
# after its own charge is committed); it needs the async pool above (PostgreSQL), and elsewhere
# (SQLite) settlements stay strict. A row that finds no batch in flight commits at once, alone
# (under low load nothing waits); rows arriving meanwhile form the next batch, at most
# BILLING_BATCH_MAX_ROWS, committed after BILLING_BATCH_WAIT_MS more for company.
BILLING_MODE = env_str("BILLING_MODE", "batched").lower()
if BILLING_MODE not in {"strict", "batched"}:
    raise ImproperlyConfigured(f"BILLING_MODE={BILLING_MODE!r}: use strict or batched.")
BILLING_BATCH_MAX_ROWS = env_int("BILLING_BATCH_MAX_ROWS", 64, minimum=1)
if BILLING_BATCH_MAX_ROWS > 512:
    raise ImproperlyConfigured("BILLING_BATCH_MAX_ROWS must be at most 512 (one statement's parameters).")
BILLING_BATCH_WAIT_MS = env_int("BILLING_BATCH_WAIT_MS", 1, minimum=0)
# Retries and fallbacks before the first byte (gateway/retry.py): retries of one endpoint, calls per request.
ROUTING_MAX_RETRIES = env_int("ROUTING_MAX_RETRIES", 1, minimum=0)
ROUTING_MAX_ATTEMPTS = env_int("ROUTING_MAX_ATTEMPTS", 6, minimum=1)
ROUTING_BACKOFF_BASE_SECONDS = env_decimal("ROUTING_BACKOFF_BASE_SECONDS", "0.25")
ROUTING_BACKOFF_MAX_SECONDS = env_decimal("ROUTING_BACKOFF_MAX_SECONDS", "2")
ROUTING_RETRY_AFTER_CAP_SECONDS = env_decimal("ROUTING_RETRY_AFTER_CAP_SECONDS", "5")
# Circuit breaker per endpoint (gateway/circuit.py): consecutive failures to open it, seconds it stays open.
CIRCUIT_FAILURE_THRESHOLD = env_int("CIRCUIT_FAILURE_THRESHOLD", 5, minimum=1)
CIRCUIT_COOLDOWN_SECONDS = env_decimal("CIRCUIT_COOLDOWN_SECONDS", "30")

# Billing
SIGNUP_CREDITS = env_decimal("SIGNUP_CREDITS", "0")
STRIPE_SECRET_KEY = env_str("STRIPE_SECRET_KEY")
STRIPE_WEBHOOK_SECRET = env_str("STRIPE_WEBHOOK_SECRET")
STRIPE_API_BASE = env_url("STRIPE_API_BASE", "")
STRIPE_CURRENCY = env_str("STRIPE_CURRENCY", "usd").lower()
# Bounds of one card top-up, in USD.
STRIPE_TOPUP_MIN_USD = env_decimal("STRIPE_TOPUP_MIN_USD", "5")
STRIPE_TOPUP_MAX_USD = env_decimal("STRIPE_TOPUP_MAX_USD", "1000")

# Operations
METRICS_ENABLED = env_bool("METRICS_ENABLED", True)
METRICS_TOKEN = env_str("METRICS_TOKEN")
# Without a token, /metrics answers only where that is asked for (or in DEBUG): the metrics
# name models, providers and traffic, which a production site does not publish.
METRICS_PUBLIC = env_bool("METRICS_PUBLIC", DEBUG)
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"LOG_LEVEL={LOG_LEVEL!r} is not a log level.")
# json: one object per line (production); text: a readable line for a terminal.
LOG_FORMAT = env_str("LOG_FORMAT", "json").lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r} must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "promptgrid.observability.logs.RequestIdFilter"},
        "redact": {"()": "promptgrid.observability.logs.RedactSecretsFilter"},
    },
    "formatters": {
        "json": {"()": "promptgrid.observability.logs.JsonFormatter"},
        "text": {"()": "promptgrid.observability.logs.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "redact"],
            "formatter": LOG_FORMAT,
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Drop Django's own handlers (unfiltered text): its records reach the root handler.
        "django": {"level": LOG_LEVEL},
        "django.server": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},  # the provider SDKs' HTTP client logs every request at INFO
    },
}
