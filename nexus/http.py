"""Request helpers the apps share; this module imports no app of ours.

The client's address: the socket's peer, unless the operator says how many reverse proxies stand in front
(TRUSTED_PROXY_COUNT). Each proxy appends the address it saw to X-Forwarded-For, so with N proxies the client is
the N-th entry from the right; whatever stands further left was written by the client and is ignored.
"""

import ipaddress

from django.conf import settings


def _address(value: str | None) -> str | None:
    """`value` as an IP address, or None: nothing else is ever stored or compared."""
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None


def forwarded_client(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str | None:
    if not trusted_proxies:
        return _address(peer)
    hops = [hop for hop in (forwarded_for or "").split(",") if hop.strip()]
    if not hops:
        return _address(peer)
    return _address(hops[-min(trusted_proxies, len(hops))])


def client_ip(request) -> str | None:
    """The client address of an HTTP request."""
    meta = request.META
    return forwarded_client(meta.get("REMOTE_ADDR"), meta.get("HTTP_X_FORWARDED_FOR"), settings.TRUSTED_PROXY_COUNT)


def scope_client_ip(scope) -> str | None:
    """The client address of an ASGI connection (a WebSocket)."""
    peer = (scope.get("client") or [None])[0]
    headers = dict(scope.get("headers") or [])
    forwarded_for = headers.get(b"x-forwarded-for", b"").decode("latin-1")
    return forwarded_client(peer, forwarded_for, settings.TRUSTED_PROXY_COUNT)
