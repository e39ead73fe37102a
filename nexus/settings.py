"""Settings, all read from the environment (see .env.example).

With nothing set, the product runs on embedded defaults: SQLite, the in-memory
channel layer, and locally generated secrets kept in var/. With DEBUG=false it
refuses to start without real secrets.
"""

import ipaddress
import secrets
from datetime import timedelta
from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

NEXUS_DIR = Path(__file__).resolve().parent
BASE_DIR = NEXUS_DIR.parent
# In a source checkout templates/ and static/ sit beside the apps; an installed package carries them in nexus/.
IS_CHECKOUT = (BASE_DIR / "manage.py").is_file()
ASSETS_DIR = BASE_DIR if IS_CHECKOUT else NEXUS_DIR

env = environ.Env()
# The checkout's .env, or the file ENV_FILE names (an installed package has no checkout); owner-readable only.
_env_file = environ.Env().str("ENV_FILE", default=str(BASE_DIR / ".env") if IS_CHECKOUT else "")
ENV_FILE = Path(_env_file) if _env_file else None
if ENV_FILE and ENV_FILE.is_file():
    env.read_env(ENV_FILE)

DEBUG = env.bool("DEBUG", default=True)
# Production as configured; DEBUG itself is switched off by test runners whatever the configuration says.
PRODUCTION = not DEBUG
DATA_DIR = Path(env.str("DATA_DIR", default=str(BASE_DIR / "var")))


def _local_secret(name: str, make) -> str:
    """A secret generated once and kept in DATA_DIR; only for DEBUG (the demo and tests)."""
    if not DEBUG:
        raise ImproperlyConfigured(f"{name} must be set when DEBUG is false")
    path = DATA_DIR / name.lower()
    if not path.is_file():
        DATA_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.write_text(make())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret("SECRET_KEY", lambda: secrets.token_urlsafe(50))

# Fernet keys for Proxmox token secrets, newest first; older ones still decrypt (rotation).
ENCRYPTION_KEYS = env.list("ENCRYPTION_KEYS", default=[]) or [
    _local_secret("ENCRYPTION_KEYS", lambda: Fernet.generate_key().decode())
]
for _key in ENCRYPTION_KEYS:
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEYS must be comma-separated Fernet keys (32 url-safe base64-encoded bytes each), newest first"
        ) from None

# Address ranges Proxmox servers may not be added at or reached at, besides the link-local and cloud metadata ones
# that are always refused (servers.proxmox.ALWAYS_DENIED_NETWORKS); e.g. loopback in production.
SERVER_DENIED_NETWORKS = env.list("SERVER_DENIED_NETWORKS", default=[])
for _network in SERVER_DENIED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"SERVER_DENIED_NETWORKS must be comma-separated address ranges (127.0.0.0/8,::1/128), not {_network!r}"
        ) from None

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is false: the host names the portal answers to")
# How many reverse proxies stand in front and append to X-Forwarded-For (nexus.http); 0: the socket's peer.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "guardian",
    "auditlog",
    "axes",
    "channels",
    "django_celery_beat",
    "knox",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp_webauthn",
    "nexus",
    "accounts",
    "tenants",
    "servers",
    "vms",
    "console",
    "metrics",
    "audit",
]

MIDDLEWARE = [
    "nexus.health.health_endpoints",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.two_factor_gate",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "nexus.middleware.AuditedChanges",
    "axes.middleware.AxesMiddleware",
    "nexus.middleware.reject_nul_bytes",
]

ROOT_URLCONF = "nexus.urls"
ASGI_APPLICATION = "nexus.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [ASSETS_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "console.context_processors.console_nav",
                "servers.context_processors.server_nav",
                "tenants.context_processors.tenant_nav",
            ],
        },
    },
]

DATABASE_URL = env.str("DATABASE_URL", default="") or f"sqlite:///{DATA_DIR / 'nexus.sqlite3'}"
DATABASES = {"default": environ.Env.db_url_config(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A database that stops answering must not hang requests: connecting gives up after this many seconds.
    DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    # A pool of connections per process (Django's, psycopg_pool): under ASGI each database_sync_to_async call
    # would otherwise connect anew, and a burst of consoles waited mostly for PostgreSQL's connection set-up.
    _pool_size = env.int("DATABASE_POOL_SIZE", default=10)
    if _pool_size:
        DATABASES["default"]["OPTIONS"]["pool"] = {"min_size": 2, "max_size": _pool_size, "timeout": 10}
# Without a pool (SQLite, or DATABASE_POOL_SIZE=0): seconds a connection is kept for the next request (0: one per
# request). Kept or pooled, a connection is checked before reuse (the pool too, through Django's CONN_HEALTH_CHECKS),
# so a database restart costs no request an error.
if "pool" not in DATABASES["default"].get("OPTIONS", {}):
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" and DATABASES["default"]["NAME"] != ":memory:":
    # It holds sessions and password hashes: the owner's only, like the generated keys beside it.
    _database = Path(DATABASES["default"]["NAME"])
    _database.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    _database.touch(mode=0o600)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Consoles one web process takes on (console.admission): opening at once, and in all; beyond, refused with a reason.
CONSOLE_OPENING_LIMIT = env.int("CONSOLE_OPENING_LIMIT", default=300)
CONSOLE_PROCESS_LIMIT = env.int("CONSOLE_PROCESS_LIMIT", default=1000)
# Threads for the database work of WebSockets (nexus.ws_auth.websocket_database); at most the pool's size.
WEBSOCKET_DATABASE_THREADS = env.int("WEBSOCKET_DATABASE_THREADS", default=4)

REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    # A Redis that stops answering must not hang an End or a console request: connecting gives up after 2 s.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_connect_timeout": 2}]},
        }
    }
    # Shared by every web process: rate limits count across all of them.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# /metrics (nexus.telemetry): for a client in these networks (comma-separated CIDRs), or one sending
# `Authorization: Bearer METRICS_TOKEN`; nobody else (404) by default.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_NETWORKS = [
    ipaddress.ip_network(net, strict=False) for net in env.list("METRICS_ALLOWED_NETWORKS", default=[])
]

CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Riding through a broker outage: keep retrying (Celery's default gives up after 100 tries), also at start-up.
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
# Beat's schedule lives in the database (django-celery-beat): operators change it in the Django admin. The entries
# below are the defaults it writes there at start-up; each expires, so a sweep that waited while workers were
# down is dropped instead of run late in a pile.
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
HEALTH_CHECK_INTERVAL = env.int("HEALTH_CHECK_INTERVAL", default=60)
# A task a dead worker had taken (late acknowledgement) goes to another worker after this many seconds; the workers
# look for such tasks every few seconds (kombu's default scan is every 100 s).
_visibility_timeout = env.int("CELERY_VISIBILITY_TIMEOUT", default=2 * HEALTH_CHECK_INTERVAL)
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": _visibility_timeout,
    "unacked_restore_interval": max(1, min(10, _visibility_timeout // 3)),
    "unacked_restore_throttle": 1,
}
# Several installations (or test runs) can share one Redis with queues of their own.
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")


def _beat_entry(task: str, every: int, expires: int) -> dict:
    # django-celery-beat keeps `expire_seconds` of the options (it drops Celery's `expires`).
    return {"task": task, "schedule": every, "options": {"expire_seconds": expires}}


CELERY_BEAT_SCHEDULE = {
    "health-checks": _beat_entry("metrics.tasks.run_health_checks", HEALTH_CHECK_INTERVAL, HEALTH_CHECK_INTERVAL),
    "prune-metrics": _beat_entry("metrics.tasks.prune_metrics", 24 * 3600, 3600),
    "close-stale-consoles": _beat_entry("console.tasks.close_stale_sessions", 60, 60),
}
# Health checks (metrics.services; the README's "Health checks" says how they work).
HEALTH_CHECK_CHUNK_SIZE = env.int("HEALTH_CHECK_CHUNK_SIZE", default=50)
HEALTH_OFFLINE_AFTER = env.int("HEALTH_OFFLINE_AFTER", default=2)
HEALTH_SLOW_MS = env.int("HEALTH_SLOW_MS", default=2000)
HEALTH_TIMEOUT_FACTOR = env.float("HEALTH_TIMEOUT_FACTOR", default=3.0)
HEALTH_TIMEOUT_FLOOR = env.float("HEALTH_TIMEOUT_FLOOR", default=1.0)
HEALTH_TIMEOUT_CEILING = env.float("HEALTH_TIMEOUT_CEILING", default=30.0)
# Embedded mode (no Redis: `make demo`, `runserver`): a thread of the web process runs the sweep on the interval.
HEALTH_EMBEDDED_SCHEDULER = env.bool("HEALTH_EMBEDDED_SCHEDULER", default=not REDIS_URL)
METRICS_RETENTION_DAYS = env.int("METRICS_RETENTION_DAYS", default=30)
METRICS_ROLLUP_RETENTION_DAYS = env.int("METRICS_ROLLUP_RETENTION_DAYS", default=400)
# Calls made for users are recorded in batches: every METRICS_FLUSH_SECONDS or METRICS_FLUSH_ROWS, whichever first.
METRICS_FLUSH_SECONDS = env.float("METRICS_FLUSH_SECONDS", default=5.0)
METRICS_FLUSH_ROWS = env.int("METRICS_FLUSH_ROWS", default=200)

AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    # A passkey alone logs in (it is possession and the user's PIN or fingerprint: two factors).
    "django_otp_webauthn.backends.WebAuthnBackend",
    "guardian.backends.ObjectPermissionBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "login"

# django-guardian: no anonymous user row; outsiders simply have no permissions.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False

# The login rate limit (nexus.lockout): a user name is locked after AXES_FAILURE_LIMIT failures, an address after
# LOGIN_ADDRESS_FAILURE_LIMIT, both until the cool-off ends (429); a success clears that user name's failures only.
AXES_HANDLER = "nexus.lockout.LoginLockout"
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
LOGIN_ADDRESS_FAILURE_LIMIT = env.int("LOGIN_ADDRESS_FAILURE_LIMIT", default=50)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "nexus.http.client_ip"
# axes.W006 warns that addresses are not a lockout parameter: nexus.lockout limits them itself, at a higher count.
SILENCED_SYSTEM_CHECKS = ["axes.W006"]
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_ENABLE_ACCESS_FAILURE_LOG = False
# What axes keeps of a failed attempt's form never holds a second factor's code.
AXES_SENSITIVE_PARAMETERS = ["password", "code"]
AXES_VERBOSE = False

# Two-factor authentication (django-otp): TOTP codes are checked against one step either side (clocks drift), and
# guessing them is limited by the login rate limit above, as passwords are (django-otp's own per-device throttle
# would refuse even a right code for a while after a typo). Passkeys: django-otp-webauthn, its relying party the
# host the browser uses (accounts.passkeys).
OTP_TOTP_ISSUER = "Proxmox VNC Nexus"
OTP_TOTP_THROTTLE_FACTOR = 0
OTP_WEBAUTHN_RP_NAME = "Proxmox VNC Nexus"
OTP_WEBAUTHN_RP_ID_CALLABLE = "accounts.passkeys.relying_party_id"
OTP_WEBAUTHN_HELPER_CLASS = "accounts.passkeys.PasskeyHelper"
# otp_webauthn.E030 asks for a fixed list of origins: the helper expects the host's own, which ALLOWED_HOSTS checked.
SILENCED_SYSTEM_CHECKS += ["otp_webauthn.E030"]
# Single sign-on (accounts.sso, authlib): seconds to wait for an identity provider before saying it is unreachable.
OIDC_TIMEOUT = env.int("OIDC_TIMEOUT", default=10)

# Personal API tokens (django-rest-knox, accounts.ApiToken): `Authorization: Bearer <key>`, stored as a SHA-512
# digest; they last until their chosen expiry (or for ever) and are revoked by their owner.
KNOX_TOKEN_MODEL = "accounts.ApiToken"
REST_KNOX = {"AUTH_HEADER_PREFIX": "Bearer", "TOKEN_TTL": None}
# knox's own migrations create its default token table (unswapped) with a key to users: a table nobody uses, that
# PostgreSQL will not let the test database truncate users without. Its one model here is accounts.ApiToken.
MIGRATION_MODULES = {"knox": None}

# Mail (password reset, invitations): printed on the console unless an SMTP server is configured.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="nexus@localhost")
# How long an invitation's or a password reset's one-time link works.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 24 * 3600)

REST_FRAMEWORK = {
    # A token first: an anonymous request is then answered 401 with `WWW-Authenticate: Bearer`.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "nexus.api.exception_handler",
    "DEFAULT_PARSER_CLASSES": [
        "nexus.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
# Console tokens a user may request (each one a Proxmox ticket and a session record), per DRF's rate syntax.
CONSOLE_REQUEST_RATE = env.str("CONSOLE_REQUEST_RATE", default="20/min")
# Seconds a server's guest list is kept, so pages that poll do not hammer Proxmox; `?fresh=1` asks Proxmox anew.
GUESTS_CACHE_SECONDS = env.int("GUESTS_CACHE_SECONDS", default=5)
# Swagger UI served from our static files, not a CDN: works offline and under a strict CSP.
SPECTACULAR_SETTINGS = {
    "TITLE": "Proxmox VNC Nexus API",
    "VERSION": "1",
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # The schema maps every endpoint: for people with an account (the docs page sends others to the login).
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # One name for the power actions, whether a tenant allows them or a request asks for one.
    "ENUM_NAME_OVERRIDES": {"PowerActionEnum": "tenants.roles.POWER_ACTIONS"},
}

# Content-Security-Policy (django-csp): scripts and styles only from our own files, never inline; images also from
# https (tenants' logos) and data: (noVNC's cursor); fetches and WebSockets to this origin only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(DATA_DIR / "static")))
if DEBUG:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = DEBUG
STATICFILES_DIRS = [ASSETS_DIR / "static"]
STATICFILES_FINDERS = [
    "django.contrib.staticfiles.finders.FileSystemFinder",
    "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    "nexus.staticfiles.NpmFinder",
]
# Front-end libraries from the npm registry (package.json), served as published, only the files pages load:
# noVNC's core/ is browser-ready ES modules (and imports its vendored pako); htmx and uPlot ship built files.
NODE_MODULES = Path(env.str("NODE_MODULES", default=str(BASE_DIR / "node_modules")))
NPM_STATIC_FILES = {
    "novnc": ("@novnc/novnc", ["core/**/*.js", "vendor/pako/**/*.js"]),
    "htmx": ("htmx.org/dist", ["htmx.min.js"]),
    "uplot": ("uplot/dist", ["uPlot.iife.min.js", "uPlot.min.css"]),
}
# Production: names with a content hash, cached for a year, and gzip/brotli copies (WhiteNoise).
if not DEBUG:
    STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # servers.proxmox logs each failed call once, in words; urllib3 would add a line per retry.
    # django-axes logs four INFO lines per login; failures and lockouts are audit events already.
    "loggers": {"urllib3.connectionpool": {"level": "ERROR"}, "axes": {"level": "WARNING"}},
}

if not DEBUG:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
