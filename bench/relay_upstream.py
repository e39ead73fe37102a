"""The synthetic upstream for bench/relay.py, run as its own process so it never shares a GIL with what it measures.

It serves, on loopback:
- the pvesim HTTPS API (vncproxy, and the vncwebsocket upgrade with its ticket check), whose RFB server does the
  real handshake (VNC Authentication) and then, instead of drawing a framebuffer, runs the synthetic protocol;
- the same synthetic RFB on plain TCP, for websockify to relay, and on TLS (a CA of its own), for
  `websockify --ssl-target`: the same TLS work our relay does towards Proxmox.

The synthetic protocol starts after ServerInit: the client's first message is a ClientCutText whose text is a
command (still valid RFB, so a relay that parses client messages sees nothing odd):
    echo               every byte received is sent back as it comes (round trips)
    bulk N             N bytes in 64 KiB messages as fast as the path takes them
    blast CAP          waits for the client's next bytes, then sends up to CAP bytes (a reader that stalls)
    idle               sends nothing
Afterwards the session reads the client until it hangs up.

Prints one JSON line (where everything listens) and then, for every line read on stdin, a JSON line of counters;
it exits when stdin closes.
"""

import asyncio
import json
import os
import shutil
import ssl
import struct
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servers.pvesim import Simulator
from servers.pvesim import api as pvesim_api
from servers.pvesim.certs import ClusterCA
from servers.pvesim.rfb_server import RfbServerSession, RfbSessionError

CHUNK = 64 * 1024
PAYLOAD = os.urandom(CHUNK)  # random, so no layer can compress it
TCP_PASSWORD = "bench-pw"
CLIENT_CUT_TEXT = 6

# Bytes sent in blast mode, by transport ("ws" through the simulator's vncwebsocket, "tcp" for websockify).
counters = {"blast_ws": 0, "blast_tcp": 0, "sessions_ws": 0, "sessions_tcp": 0}


async def _drain(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


async def synthetic(reader: asyncio.StreamReader, send, transport: str) -> None:
    header = await reader.readexactly(8)
    if header[0] != CLIENT_CUT_TEXT:
        raise RfbSessionError("the synthetic stream starts with a ClientCutText command")
    command = (await reader.readexactly(struct.unpack_from(">I", header, 4)[0])).decode().split()
    counters[f"sessions_{transport}"] += 1
    mode = command[0]
    if mode == "echo":
        while data := await reader.read(65536):
            await send(data)
        return
    if mode == "bulk":
        full, rest = divmod(int(command[1]), CHUNK)
        for _ in range(full):
            await send(PAYLOAD)
        if rest:
            await send(PAYLOAD[:rest])
    elif mode == "blast":
        cap = int(command[1])
        if not await reader.read(65536):
            return
        sent = 0
        while sent < cap:
            await send(PAYLOAD)
            sent += CHUNK
            counters[f"blast_{transport}"] += CHUNK
    elif mode != "idle":
        raise RfbSessionError(f"unknown synthetic command {command!r}")
    await _drain(reader)


class SyntheticRfbSession(RfbServerSession):
    """The simulator's RFB handshake (VNC Authentication, ServerInit), then the synthetic protocol."""

    transport = "ws"

    async def serve(self) -> None:
        try:
            await synthetic(self.reader, self.send, self.transport)
        except asyncio.IncompleteReadError:
            pass


class TcpSyntheticRfbSession(SyntheticRfbSession):
    transport = "tcp"


def tls_context(workdir: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context with a certificate for 127.0.0.1, and the file of the CA that signed it."""
    ca = ClusterCA("bench-tls")
    pair = ca.issue("bench")
    (workdir / "ca.pem").write_text(ca.pem)
    (workdir / "cert.pem").write_bytes(pair.cert_pem)
    (workdir / "key.pem").write_bytes(pair.key_pem)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(workdir / "cert.pem", workdir / "key.pem")
    return context, workdir / "ca.pem"


async def serve_tcp(guest, context: ssl.SSLContext | None = None) -> asyncio.Server:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def send(data: bytes) -> None:
            writer.write(data)
            await writer.drain()

        try:
            await TcpSyntheticRfbSession(guest, TCP_PASSWORD, reader, send).run()
        except (ConnectionError, RfbSessionError, ssl.SSLError):
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", 0, ssl=context)


async def main() -> None:
    # The hook: pvesim's vncwebsocket handler builds its RFB session by this module-level name.
    pvesim_api.RfbServerSession = SyntheticRfbSession
    simulator = Simulator(servers=1).start()
    try:
        sim = simulator.servers[0]
        tcp = await serve_tcp(sim.guest(100))
        context, ca_file = tls_context(Path(tempfile.mkdtemp(prefix="bench-relay-tls-")))
        tls = await serve_tcp(sim.guest(100), context)
        print(
            json.dumps(
                {
                    "host": sim.host,
                    "port": sim.port,
                    "fingerprint": sim.fingerprint,
                    "token_id": sim.token_id,
                    "token_secret": sim.token_secret,
                    "tcp_port": tcp.sockets[0].getsockname()[1],
                    "tls_port": tls.sockets[0].getsockname()[1],
                    "tls_ca_file": str(ca_file),
                    "tcp_password": TCP_PASSWORD,
                }
            ),
            flush=True,
        )
        loop = asyncio.get_running_loop()
        closed = loop.create_future()

        def answer_stdin() -> None:
            for _ in sys.stdin:
                print(json.dumps(counters), flush=True)
            loop.call_soon_threadsafe(closed.set_result, None)

        threading.Thread(target=answer_stdin, daemon=True).start()
        await closed
        tcp.close()
        tls.close()
        shutil.rmtree(ca_file.parent, ignore_errors=True)
    finally:
        simulator.stop()


if __name__ == "__main__":
    asyncio.run(main())
