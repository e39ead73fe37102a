# syntax=docker/dockerfile:1
# Build stage: Python dependencies into a venv, front-end libraries from the npm registry.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY nexus nexus
COPY tenants tenants
COPY servers servers
COPY vms vms
COPY console console
COPY metrics metrics
COPY audit audit
RUN python -m venv /venv && /venv/bin/pip install --no-cache-dir .
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --omit=dev

# Runtime stage: no compilers, no npm, a non-root user.
FROM python:3.11-slim
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 DEBUG=false DATA_DIR=/data STATIC_ROOT=/app/staticfiles
RUN useradd --system --uid 10001 --home /app nexus && mkdir -p /data && chown nexus /data
WORKDIR /app
COPY --from=build /venv /venv
COPY --from=build /app/node_modules node_modules
COPY . .
# collectstatic needs settings; these throwaway values exist only for this build step.
RUN SECRET_KEY=build ENCRYPTION_KEYS=bm90LWEtcmVhbC1rZXktanVzdC1mb3ItYnVpbGQtMDE= python manage.py collectstatic --noinput \
    && chown -R nexus /app/staticfiles
USER nexus
EXPOSE 8000
# Alternatives: `celery -A nexus worker -l info` and `celery -A nexus beat -l info`.
# daphne with WebSocket write backpressure (console/flow.py); same arguments as the daphne command.
CMD ["python", "-m", "console.flow", "--bind", "0.0.0.0", "--port", "8000", "nexus.asgi:application"]
