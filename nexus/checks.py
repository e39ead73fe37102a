"""System checks for production (`check --deploy`, and at the start of every web and Celery process): the real
parts must be there, or the product would quietly run on the demo's stand-ins."""

import stat

from django.conf import settings
from django.core.checks import Error, Warning, register


@register(deploy=True)
def production_needs_its_services(app_configs, **kwargs):
    if not settings.PRODUCTION:
        return []
    problems = []
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        problems.append(
            Error(
                "DATABASE_URL is not set: production would run on the demo's SQLite file.",
                hint="Set DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/NAME.",
                id="nexus.E001",
            )
        )
    if not settings.REDIS_URL:
        problems.append(
            Error(
                "REDIS_URL is not set: no health check would ever run, and consoles could not be ended from "
                "another process.",
                hint="Set REDIS_URL=redis://HOST:6379/0 (the channel layer, the Celery broker and the cache).",
                id="nexus.E002",
            )
        )
    manifest = settings.STATIC_ROOT / "staticfiles.json"
    if not manifest.is_file():
        problems.append(
            Error(
                f"No collected static files in {settings.STATIC_ROOT}: every page would fail.",
                hint="Run `python manage.py collectstatic --noinput` in the source checkout (after `npm ci`).",
                id="nexus.E003",
            )
        )
    return problems


@register(deploy=True)
def env_file_is_private(app_configs, **kwargs):
    path = settings.ENV_FILE
    if path is None or not path.is_file() or not path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        return []
    return [
        Warning(
            f"{path} holds the secret key and the encryption keys but others may read it.",
            hint=f"chmod 600 {path}",
            id="nexus.W001",
        )
    ]


def require_production_ready() -> None:
    """Refuse to start a production process whose configuration `check --deploy` finds errors in."""
    if not settings.PRODUCTION:
        return
    from django.core.checks import ERROR, run_checks
    from django.core.exceptions import ImproperlyConfigured

    messages = run_checks(include_deployment_checks=True)
    errors = [message for message in messages if message.level >= ERROR and not message.is_silenced()]
    if errors:
        raise ImproperlyConfigured("\n".join(f"{error.msg} {error.hint or ''}".strip() for error in errors))
