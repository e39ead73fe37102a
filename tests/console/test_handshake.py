import asyncio
import struct

import pytest

from console.handshake import AuthenticationFailed, HandshakeError, authenticate_upstream, greet_browser
from servers.proxmox.rfb import vnc_auth_response

from .fakes import PASSWORD, pipe


class Scripted:
    """An endpoint that hands out fixed messages and records what it is sent."""

    def __init__(self, *messages: bytes) -> None:
        self.messages = list(messages)
        self.sent: list[bytes] = []

    async def recv(self) -> bytes:
        if not self.messages:
            raise AssertionError("the handshake read more than the peer sent")
        return self.messages.pop(0)

    async def send(self, data: bytes) -> None:
        self.sent.append(data)

    async def close(self, code: int, reason: str) -> None:
        pass


CHALLENGE = bytes(range(16))


async def test_upstream_login_answers_the_challenge_with_the_password():
    proxmox = Scripted(b"RFB 003.008\n", b"\x01\x02", CHALLENGE, struct.pack(">I", 0))
    assert await authenticate_upstream(proxmox, PASSWORD) == b""
    assert proxmox.sent == [b"RFB 003.008\n", b"\x02", vnc_auth_response(PASSWORD, CHALLENGE)]


async def test_upstream_login_reads_a_byte_stream_whatever_the_message_boundaries():
    stream = b"RFB 003.008\n" + b"\x02\x01\x02" + CHALLENGE + struct.pack(">I", 0) + b"extra"
    # One byte per message, then the SecurityResult's last byte together with more data.
    proxmox = Scripted(*(stream[i : i + 1] for i in range(len(stream) - 6)), stream[-6:])
    assert await authenticate_upstream(proxmox, PASSWORD) == b"extra"


async def test_upstream_login_speaks_rfb_3_3_when_the_server_does():
    proxmox = Scripted(b"RFB 003.003\n", struct.pack(">I", 2) + CHALLENGE, struct.pack(">I", 0))
    await authenticate_upstream(proxmox, PASSWORD)
    # In 3.3 the server picks the security type: the client sends no choice.
    assert proxmox.sent == [b"RFB 003.003\n", vnc_auth_response(PASSWORD, CHALLENGE)]


async def test_upstream_login_answers_3_8_to_a_newer_server():
    proxmox = Scripted(b"RFB 003.889\n", b"\x01\x02", CHALLENGE, struct.pack(">I", 0))
    await authenticate_upstream(proxmox, PASSWORD)
    assert proxmox.sent[0] == b"RFB 003.008\n"


async def test_a_wrong_password_raises_authentication_failed_with_the_servers_reason():
    reason = b"Authentication failed"
    proxmox = Scripted(b"RFB 003.008\n", b"\x01\x02", CHALLENGE, struct.pack(">II", 1, len(reason)) + reason)
    with pytest.raises(AuthenticationFailed, match="Authentication failed"):
        await authenticate_upstream(proxmox, "wrong")


@pytest.mark.parametrize(
    "messages, error",
    [
        ((b"HTTP/1.1 400\r\n",), "does not speak RFB"),
        ((b"RFB 004.000\n",), "does not speak RFB"),
        ((b"RFB 003.008\n", b"\x01\x01"), "does not offer VNC Authentication"),
        ((b"RFB 003.008\n", b"\x00" + struct.pack(">I", 4) + b"busy"), "refused the connection: busy"),
        ((b"RFB 003.008\n", b"\x00" + struct.pack(">I", 1 << 30)), "too long"),
    ],
)
async def test_upstream_login_fails_clearly_on_a_server_it_cannot_use(messages, error):
    with pytest.raises(HandshakeError, match=error):
        await authenticate_upstream(Scripted(*messages), PASSWORD)


async def test_the_browser_is_offered_only_security_type_none():
    browser = Scripted(b"RFB 003.008\n", b"\x01", b"\x01\x02\x00\x00\x01\x00\x00\x00\x07")
    client_init, leftover = await greet_browser(browser)
    assert browser.sent == [b"RFB 003.008\n", b"\x01\x01", struct.pack(">I", 0)]
    assert (client_init, leftover) == (b"\x01", b"\x02\x00\x00\x01\x00\x00\x00\x07")


async def test_a_browser_speaking_rfb_3_3_gets_the_type_without_a_choice_or_result():
    browser = Scripted(b"RFB 003.003\n", b"\x00")
    assert await greet_browser(browser) == (b"\x00", b"")
    assert browser.sent == [b"RFB 003.008\n", struct.pack(">I", 1)]


async def test_a_browser_choosing_another_security_type_is_refused():
    browser = Scripted(b"RFB 003.008\n", b"\x02")
    with pytest.raises(HandshakeError, match="security type 2"):
        await greet_browser(browser)
    assert browser.sent[-1].startswith(struct.pack(">I", 1))


async def test_both_handshakes_against_each_other_over_pipes():
    # The relay's two halves talking to our own fakes, as an end-to-end check of the byte order.
    from .fakes import novnc, proxmox

    upstream, proxmox_end = pipe()
    browser, novnc_end = pipe()
    server = asyncio.create_task(proxmox(proxmox_end))
    client = asyncio.create_task(novnc(novnc_end))
    assert await authenticate_upstream(upstream, PASSWORD) == b""
    client_init, leftover = await greet_browser(browser)
    await upstream.send(client_init)
    await browser.send(await upstream.recv())  # ServerInit
    await asyncio.gather(server, client)
    assert leftover == b""
