"""The wire under the API calls: an HTTP session that applies a Connection's TLS mode and retries only what is safe,
and the bare TLS handshake that reads a server's certificate for trust on first use."""

from __future__ import annotations

import socket

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from .connection import Connection, certificate_fingerprint, netloc, ssl_context, unverified_context
from .errors import TLSFailure
from .translate import error_from_failure

GET_RETRIES = 2


class _GetOnlyRetry(Retry):
    """Retries connection failures of GETs only; a POST (power action, vncproxy) is never sent twice."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):
        # A connect timeout already cost the full timeout; retrying would overrun the caller's budget.
        no_retry = (method or "").upper() != "GET" or (
            isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError)
        )
        policy = self.new(total=0) if no_retry else self
        return Retry.increment(policy, method, url, response, error, _pool, _stacktrace)


def _retry_policy() -> Retry:
    return _GetOnlyRetry(
        total=GET_RETRIES, connect=GET_RETRIES, read=0, status=0, other=0, redirect=0,
        allowed_methods=frozenset({"GET"}), backoff_factor=0.1, raise_on_status=False, raise_on_redirect=False,
    )


class _TLSAdapter(HTTPAdapter):
    """Applies the Connection's TLS mode to every request, whatever `verify` a caller might pass."""

    def __init__(self, connection: Connection):
        self._connection = connection
        super().__init__(max_retries=_retry_policy(), pool_connections=1, pool_maxsize=4)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["ssl_context"] = ssl_context(self._connection)
        if self._connection.tls_mode == "fingerprint":
            # Pinning replaces CA and hostname validation (as Proxmox's own tools do); urllib3 checks the leaf.
            kwargs["assert_fingerprint"] = self._connection.fingerprint
            kwargs["assert_hostname"] = False
        super().init_poolmanager(*args, **kwargs)

    def send(self, request, **kwargs):
        kwargs["verify"] = self._connection.tls_mode != "fingerprint"
        return super().send(request, **kwargs)


def http_session(connection: Connection) -> requests.Session:
    """A session that authenticates with the API token and trusts only what the Connection says."""
    session = requests.Session()
    # No proxies, netrc or REQUESTS_CA_BUNDLE from the environment: TLS and auth are decided by the Connection.
    session.trust_env = False
    session.headers.update({
        "Authorization": connection.authorization,
        "Accept": "application/json",
        "User-Agent": "proxmox-vnc-nexus",
    })
    session.mount("https://", _TLSAdapter(connection))
    return session


def fetch_fingerprint(host: str, port: int = 8006, timeout: float = 10.0) -> str:
    """SHA-256 'AA:BB:...' of the certificate `host:port` presents, read WITHOUT verification.

    For trust on first use only: show it to the operator to compare with the one Proxmox displays; never pin it
    automatically. No HTTP request (and so no token) is sent.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            with unverified_context().wrap_socket(sock, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except OSError as exc:  # socket and TLS errors alike
        raise error_from_failure(exc, host, port, timeout) from None
    if not der:
        raise TLSFailure(f"{netloc(host, port)} presented no certificate.")
    return certificate_fingerprint(der)
