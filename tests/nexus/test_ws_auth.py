"""WebSockets: only pages of the portal's own origin get in, and a path no route takes is refused quietly."""

import logging

import pytest
from channels.testing import WebsocketCommunicator

from nexus.asgi import application
from nexus.ws_auth import is_same_origin


def scope(origin: str, host: str = "127.0.0.1:8000", scheme: str = "ws", **headers):
    pairs = [(b"origin", origin.encode()), (b"host", host.encode())]
    pairs += [(name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()]
    return {"type": "websocket", "scheme": scheme, "headers": pairs}


@pytest.mark.parametrize(
    "origin, host, scheme, headers, allowed",
    [
        ("http://127.0.0.1:8000", "127.0.0.1:8000", "ws", {}, True),
        ("http://127.0.0.1:9999", "127.0.0.1:8000", "ws", {}, False),  # same host, another port
        ("https://127.0.0.1:8000", "127.0.0.1:8000", "ws", {}, False),  # same host, another scheme
        ("http://evil.example", "127.0.0.1:8000", "ws", {}, False),
        ("http://evil.example", "evil.example", "ws", {}, False),  # a host we do not serve
        ("null", "127.0.0.1:8000", "ws", {}, False),
        ("", "127.0.0.1:8000", "ws", {}, False),
        ("https://localhost", "localhost", "wss", {}, True),
        ("https://localhost:443", "localhost", "wss", {}, True),
    ],
)
def test_the_origin_must_be_the_portals_own(origin, host, scheme, headers, allowed):
    assert is_same_origin(scope(origin, host, scheme, **headers)) is allowed


def test_behind_a_tls_proxy_the_forwarded_scheme_counts(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert is_same_origin(scope("https://localhost", "localhost", x_forwarded_proto="https"))
    assert not is_same_origin(scope("http://localhost", "localhost", x_forwarded_proto="https"))


def test_trusted_origins_are_let_in(settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://portal.example.com"]
    assert is_same_origin(scope("https://portal.example.com", "localhost"))


@pytest.mark.parametrize("path", ["/ws/console/" + "a" * 43 + "/", "/ws/console", "/ws/nothing/", "/"])
async def test_a_path_no_route_takes_is_refused_without_a_traceback(path, caplog):
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")]
    )
    with caplog.at_level(logging.ERROR):
        connected, _ = await communicator.connect(timeout=5)
    assert not connected
    assert not [record for record in caplog.records if record.levelno >= logging.ERROR]
