# syntax=docker/dockerfile:1
# Build stage: the package (with its templates and static files) into a venv, front-end libraries from the npm
# registry, and the collected static files. The image runs the installed package; the source stays here.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir . \
    && npm ci --no-audit --no-fund --omit=dev
# collectstatic needs production settings; these throwaway values exist only for this build step.
RUN DEBUG=false SECRET_KEY=build ALLOWED_HOSTS=build STATIC_ROOT=/static \
    ENCRYPTION_KEYS=bm90LWEtcmVhbC1rZXktanVzdC1mb3ItYnVpbGQtMDE= \
    /venv/bin/python -m django collectstatic --noinput --settings=nexus.settings

# Runtime stage: the venv and the collected files only; no compilers, no npm, no source; a non-root user whose
# only writable place is /data.
FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 DJANGO_SETTINGS_MODULE=nexus.settings \
    DEBUG=false DATA_DIR=/data STATIC_ROOT=/static
RUN useradd --system --uid 10001 --home /data nexus && mkdir -p /data && chown nexus /data
COPY --from=build /venv /venv
COPY --from=build /static /static
WORKDIR /data
USER nexus
EXPOSE 8000
# Also: `django-admin migrate`, `django-admin createsuperuser`, `celery -A nexus worker -l info`,
# `celery -A nexus beat -l info` (see the README's production section).
CMD ["python", "-m", "console.flow", "--bind", "0.0.0.0", "--port", "8000", "nexus.asgi:application"]
