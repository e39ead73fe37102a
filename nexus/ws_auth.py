"""Who is on the other end of a WebSocket, and whether the page that opened it is ours.

- `SameOriginValidator`: a browser's WebSocket is let in only when its Origin is the portal's own (the scheme,
  host and port the browser addressed, the host one of ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS, as Django's
  CSRF check decides for forms: another site's page cannot drive a user's console (cross-site WebSocket hijacking).
- `SessionUserMiddleware`: the logged-in user of the session cookie, looked up once. Channels' AuthMiddlewareStack
  does the same, but its SessionMiddleware also wraps every outgoing message to save cookies, which WebSockets never
  do; a console sends thousands of messages a second, so here the lookup happens at connect time.
- `refuse`: the route for paths that match no other; closed before the handshake, without a traceback.
- `websocket_database`: runs a WebSocket's database work on a few threads of its own. Channels' default runs every
  consumer's database work on asgiref's one shared thread: a burst of consoles then queued there one by one (the
  user lookup and the token's claim, about 13 ms each on PostgreSQL), long enough for daphne to drop the last
  handshakes. On several threads their waits for PostgreSQL overlap.
"""

from concurrent.futures import ThreadPoolExecutor
from functools import cache, wraps
from importlib import import_module
from urllib.parse import urlsplit

from channels.auth import get_user
from channels.db import DatabaseSyncToAsync
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.db import connections
from django.http.cookie import parse_cookie
from django.http.request import split_domain_port, validate_host

_DEFAULT_PORTS = {"http": 80, "https": 443}


@cache
def _database_threads() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=settings.WEBSOCKET_DATABASE_THREADS, thread_name_prefix="websocket-db")


def websocket_database(function):
    """`function` as a coroutine function run on the WebSocket database threads. Each call closes the connections
    it used, or returns them to the pool: none stays open in these long-lived threads between calls."""

    @wraps(function)
    def call_and_close(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        finally:
            connections.close_all()

    return DatabaseSyncToAsync(call_and_close, thread_sensitive=False, executor=_database_threads())


def _origin_key(origin: str) -> tuple | None:
    try:
        parts = urlsplit(origin)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port


def _is_secure(scope, headers: dict[bytes, bytes]) -> bool:
    # As Django's request.is_secure(): the proxy's header when one is configured and sent, else the connection.
    if settings.SECURE_PROXY_SSL_HEADER:
        name, value = settings.SECURE_PROXY_SSL_HEADER
        sent = headers.get(name.removeprefix("HTTP_").lower().replace("_", "-").encode())
        if sent is not None:
            return sent.decode("latin-1").split(",")[0].strip() == value
    return scope.get("scheme") == "wss"


def _own_origin(scope, headers: dict[bytes, bytes]) -> str | None:
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return f"{'https' if _is_secure(scope, headers) else 'http'}://{host}"


def is_same_origin(scope) -> bool:
    headers = dict(scope.get("headers") or [])
    origin = _origin_key(headers.get(b"origin", b"").decode("latin-1"))
    if origin is None:
        return False
    allowed = [_own_origin(scope, headers), *settings.CSRF_TRUSTED_ORIGINS]
    return any(candidate and _origin_key(candidate) == origin for candidate in allowed)


async def refuse(scope, receive, send):
    await receive()  # websocket.connect
    await send({"type": "websocket.close"})


class SameOriginValidator(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        if not is_same_origin(scope):
            return await refuse(scope, receive, send)
        return await self.inner(scope, receive, send)


class SessionUserMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
        store = import_module(settings.SESSION_ENGINE).SessionStore
        scope = dict(scope, session=store(cookies.get(settings.SESSION_COOKIE_NAME)))
        scope["user"] = await websocket_database(get_user.func)(scope)
        return await self.inner(scope, receive, send)
