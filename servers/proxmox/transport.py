"""The wire under the API calls: an HTTP session that applies a Connection's TLS mode, retries only what is safe and
holds every call to a deadline; and the bare TLS handshake that reads a server's certificate for trust on first use."""

from __future__ import annotations

import socket
import threading
import time
from contextvars import ContextVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.retry import Retry

from .connection import (
    Connection,
    IPNetwork,
    certificate_fingerprint,
    netloc,
    refuse_denied_peer,
    ssl_context,
    unverified_context,
)
from .errors import TLSFailure
from .translate import error_from_failure, past_budget

GET_RETRIES = 2


class Deadline:
    """A whole call's time budget, counted from its creation.

    A socket timeout bounds each read, not the call: a server that sends a byte now and then keeps a client
    waiting for ever. Inside `with deadline:` every socket the HTTP session uses is watched and shut down once
    the budget is spent, wherever the call is (TLS handshake, request, headers or body); the `with` then raises
    TimedOut, whatever the call raised or returned.
    """

    def __init__(self, seconds: float, where: str):
        self.seconds = seconds
        self._where = where
        self._ends = time.monotonic() + seconds
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._passed = False

    def remaining(self) -> float:
        """Seconds left; raises TimedOut when none are."""
        left = self._ends - time.monotonic()
        if left <= 0:
            raise past_budget(self._where, self.seconds)
        return left

    def __enter__(self) -> Deadline:
        self._timer = threading.Timer(self.remaining(), self._expire)
        self._timer.daemon = True
        self._timer.start()
        self._token = _current_deadline.set(self)
        return self

    def __exit__(self, *exc_info) -> None:
        _current_deadline.reset(self._token)
        self._timer.cancel()
        with self._lock:
            self._sockets.clear()
            if self._passed:
                raise past_budget(self._where, self.seconds) from None

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if not self._passed:
                self._sockets.add(sock)
                return
        _shut_down(sock)

    def _expire(self) -> None:
        with self._lock:
            self._passed = True
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _shut_down(sock)


_current_deadline: ContextVar[Deadline | None] = ContextVar("proxmox_call_deadline", default=None)
# The address ranges the current call may not connect to (set by the session's adapter around each request).
_denied_networks: ContextVar[tuple[IPNetwork, ...]] = ContextVar("proxmox_denied_networks", default=())


def _watch(sock: socket.socket) -> None:
    deadline = _current_deadline.get()
    if deadline is not None:
        deadline.watch(sock)


def _shut_down(sock: socket.socket) -> None:
    # Wakes a read blocked in another thread (it sees the end of the stream); closing is the owner's business.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed or never connected


class _DeadlineConnection(HTTPSConnection):
    """An HTTPS connection whose socket is under the deadline of the call that uses it."""

    _watched: socket.socket | None = None

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        refuse_denied_peer(sock, self.host, _denied_networks.get())
        # A duplicate descriptor: TLS wraps (and so detaches) `sock`, but shutting the duplicate down still ends it.
        self._watched = sock.dup()
        _watch(self._watched)
        return sock

    def request(self, *args, **kwargs) -> None:
        # A kept-alive connection serves one call after another; each call's deadline watches it.
        if self._watched is not None:
            _watch(self._watched)
        super().request(*args, **kwargs)

    def close(self) -> None:
        super().close()
        if self._watched is not None:
            self._watched.close()
            self._watched = None


class _DeadlinePool(HTTPSConnectionPool):
    ConnectionCls = _DeadlineConnection


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
        total=GET_RETRIES,
        connect=GET_RETRIES,
        read=0,
        status=0,
        other=0,
        redirect=0,
        allowed_methods=frozenset({"GET"}),
        backoff_factor=0.1,
        raise_on_status=False,
        raise_on_redirect=False,
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
        self.poolmanager.pool_classes_by_scheme = {**self.poolmanager.pool_classes_by_scheme, "https": _DeadlinePool}

    def send(self, request, **kwargs):
        kwargs["verify"] = self._connection.tls_mode != "fingerprint"
        token = _denied_networks.set(self._connection.denied_networks)
        try:
            return super().send(request, **kwargs)
        finally:
            _denied_networks.reset(token)


def http_session(connection: Connection) -> requests.Session:
    """A session that authenticates with the API token and trusts only what the Connection says."""
    session = requests.Session()
    # No proxies, netrc or REQUESTS_CA_BUNDLE from the environment: TLS and auth are decided by the Connection.
    session.trust_env = False
    session.headers.update(
        {
            "Authorization": connection.authorization,
            "Accept": "application/json",
            "User-Agent": "proxmox-vnc-nexus",
        }
    )
    session.mount("https://", _TLSAdapter(connection))
    return session


def open_socket(host: str, port: int, timeout: float, denied: tuple[IPNetwork, ...] = ()) -> socket.socket:
    """A TCP connection to host:port within `timeout`, refused (DeniedAddress) when it reached a denied range."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise error_from_failure(exc, host, port, timeout) from None
    refuse_denied_peer(sock, host, denied)
    return sock


def presented_certificate(sock: socket.socket, host: str, port: int, deadline: Deadline) -> bytes:
    """The DER certificate the server on `sock` presents, read WITHOUT verification; closes `sock`."""
    try:
        with sock:
            # The handshake gets what is left: Python bounds a whole TLS handshake by the socket's timeout.
            sock.settimeout(deadline.remaining())
            with unverified_context().wrap_socket(sock, server_hostname=host) as tls:
                der = tls.getpeercert(binary_form=True)
    except OSError as exc:  # socket and TLS errors alike
        raise error_from_failure(exc, host, port, deadline.seconds) from None
    if not der:
        raise TLSFailure(f"{netloc(host, port)} presented no certificate.")
    return der


def fetch_fingerprint(host: str, port: int = 8006, timeout: float = 10.0, denied: tuple[IPNetwork, ...] = ()) -> str:
    """SHA-256 'AA:BB:...' of the certificate `host:port` presents, read WITHOUT verification.

    For trust on first use only: show it to the operator to compare with the one Proxmox displays; never pin it
    automatically. No HTTP request (and so no token) is sent.
    """
    deadline = Deadline(timeout, netloc(host, port))
    sock = open_socket(host, port, timeout, denied)
    return certificate_fingerprint(presented_certificate(sock, host, port, deadline))
