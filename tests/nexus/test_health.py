"""/healthz and /readyz: for balancers, without a login, a host name of ours or any detail."""

from unittest import mock

import pytest
from django.db import OperationalError, connections


@pytest.mark.parametrize("host", ["localhost", "10.0.0.7:8000"])
def test_healthz_answers_whatever_host_the_balancer_uses(client, host, db):
    response = client.get("/healthz", HTTP_HOST=host)
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_is_ready_when_the_database_and_redis_answer(client, db):
    response = client.get("/readyz", HTTP_HOST="10.0.0.7")
    assert response.status_code == 200 and response.json() == {"status": "ready"}


def test_readyz_is_unavailable_without_saying_why_when_redis_does_not_answer(client, db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json() == {"status": "unavailable"}


def test_readyz_is_unavailable_when_the_database_does_not_answer(client, db):
    def refuse(*args, **kwargs):
        raise OperationalError("the database went away")

    with mock.patch.object(connections["default"], "cursor", refuse):
        response = client.get("/readyz")
    assert response.status_code == 503 and "database" not in response.content.decode()


def test_they_are_not_sent_to_https_in_production(client, db, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz", secure=False).status_code == 200
