"""Fixtures of the account tests: a fixed clock for TOTP, and a real identity provider on loopback."""

import pytest
from django_otp.plugins.otp_totp import models as totp_models

from accounts.models import OidcProvider
from tests.accounts.idp import CLIENT_ID, CLIENT_SECRET, Idp, free_port
from tests.accounts.two_factor import NOW, Clock


@pytest.fixture
def clock(monkeypatch):
    """The clock django-otp's TOTP devices read, fixed at NOW (tests move it by steps of 30 seconds)."""
    fixed = Clock(NOW)
    monkeypatch.setattr(totp_models, "time", fixed)
    return fixed


@pytest.fixture(scope="session")
def idp_server(tmp_path_factory):
    idp = Idp(tmp_path_factory.mktemp("idp") / "config.json", free_port())
    idp.start()
    yield idp
    idp.stop()


@pytest.fixture
def idp(idp_server):
    """The running provider, with no accounts and no forgeries at the start of each test."""
    idp_server.config.update(accounts={}, tamper=None)
    idp_server.save()
    if idp_server.process is None:
        idp_server.start()
    yield idp_server
    if idp_server.process is None:  # a test stopped it
        idp_server.start()


@pytest.fixture
def provider(idp, db):
    provider = OidcProvider(name="Acme SSO", slug="acme-sso", issuer=idp.issuer, client_id=CLIENT_ID)
    provider.client_secret = CLIENT_SECRET
    provider.scopes = "openid email profile groups"
    provider.save()
    return provider
