"""Who is on the other end of a WebSocket: the logged-in user of the session cookie, looked up once.

Channels' AuthMiddlewareStack does the same, but its SessionMiddleware also wraps every
outgoing message to save cookies, which WebSockets never do; a console sends thousands
of messages a second, so here the lookup happens at connect time and `send` is untouched.
"""

from importlib import import_module

from channels.auth import get_user
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.http.cookie import parse_cookie


class SessionUserMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        headers = dict(scope.get("headers") or [])
        cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin-1"))
        store = import_module(settings.SESSION_ENGINE).SessionStore
        scope = dict(scope, session=store(cookies.get(settings.SESSION_COOKIE_NAME)))
        scope["user"] = await get_user(scope)
        return await self.inner(scope, receive, send)
