"""servers.proxmox.rfb: the RFB parts the console relay and the simulator share."""

import struct

import pytest

from servers.proxmox.rfb import (
    FRAMEBUFFER_UPDATE_REQUEST,
    KEY_EVENT,
    SET_ENCODINGS,
    ClientMessageParser,
    parse_version,
)


@pytest.mark.parametrize(
    "greeting,version",
    [
        (b"RFB 003.008\n", (3, 8)),
        (b"RFB 003.003\n", (3, 3)),
        (b"RFB 004.001\n", (4, 1)),
        (b"RFB 003.008", None),
        (b"RFB 3.8\n\n\n\n\n", None),
        (b"HTTP/1.1 200", None),
    ],
)
def test_a_protocol_version_is_read_as_major_and_minor(greeting, version):
    assert parse_version(greeting) == version


def test_the_parser_returns_whole_messages_however_the_stream_is_split():
    key = struct.pack(">BBxxI", KEY_EVENT, 1, ord("x"))
    encodings = struct.pack(">BxHii", SET_ENCODINGS, 2, 0, -223)
    update = struct.pack(">BBHHHH", FRAMEBUFFER_UPDATE_REQUEST, 1, 0, 0, 640, 480)
    stream = key + encodings + update
    parser = ClientMessageParser()
    assert parser.feed(stream[:5]) == []
    assert parser.feed(stream[5:11]) == [(KEY_EVENT, key)]
    assert parser.feed(stream[11:]) == [(SET_ENCODINGS, encodings), (FRAMEBUFFER_UPDATE_REQUEST, update)]


def test_an_unknown_message_type_stops_the_parser_for_good():
    parser = ClientMessageParser()
    assert parser.feed(b"\x99rest") == []
    assert parser.failed
    assert parser.feed(struct.pack(">BBxxI", KEY_EVENT, 1, 1)) == []
