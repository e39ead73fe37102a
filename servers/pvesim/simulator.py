"""Simulated Proxmox VE clusters: real HTTPS + WebSocket servers on loopback.

All servers of a Simulator share one asyncio event loop in a background thread, so
synchronous tests and Django can drive them. Methods of SimServer that change
state hop onto that loop, so they are safe to call from any thread.
"""

import asyncio
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .api import PveApi
from .certs import ClusterCA, KeyPair
from .cluster import ClusterState
from .config import load_config, merge_config
from .state import SimGuest, Token


@dataclass
class Faults:
    latency: float = 0.0  # seconds added before every HTTP answer
    hang: bool = False  # accept TCP/TLS, then never answer
    http_500: bool = False  # every API call fails with HTTP 500
    drop_ws_after: int | None = None  # cut console WebSockets after this many bytes to the client
    trickle: float = 0.0  # send every HTTP answer one byte at a time, this many seconds apart
    task_error: str = ""  # power tasks started now fail with this exit status ("start failed: ..."); guest unchanged
    offline_nodes: frozenset[str] = frozenset()  # nodes the node list says are offline (a cluster member down)

    def clear(self) -> None:
        self.latency, self.hang, self.http_500, self.drop_ws_after, self.trickle = 0.0, False, False, None, 0.0
        self.task_error, self.offline_nodes = "", frozenset()


class SimServer:
    """One simulated cluster behind one HTTPS port (the node it answers as is its first node)."""

    def __init__(self, simulator: "Simulator", name: str, config: dict, port: int, workdir: Path):
        self._simulator = simulator
        self.name = name
        self.host = config["server"].get("host", "127.0.0.1")
        self._requested_port = port
        self._workdir = workdir
        self._ca = ClusterCA(name)
        self._node_certs: dict[str, KeyPair] = {node["name"]: self._ca.issue(node["name"]) for node in config["nodes"]}
        self._serving_node = config["nodes"][0]["name"]
        self._original_cert = self._node_certs[self._serving_node]
        self.state = ClusterState(config, {node: pair.fingerprint for node, pair in self._node_certs.items()})
        self.faults = Faults()
        self.consoles: set = set()  # open api.ConsoleChannel objects
        self._hung: set[asyncio.Future] = set()
        self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._load_certificate()
        self._runner: web.AppRunner | None = None
        self.port = port

    # --- what clients need --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"https://{self.host}:{self.port}/api2/json"

    @property
    def fingerprint(self) -> str:
        """SHA-256 fingerprint of the certificate the server presents now."""
        return self._node_certs[self._serving_node].fingerprint

    @property
    def ca_pem(self) -> str:
        return self._ca.pem

    @property
    def token_id(self) -> str:
        return self.state.default_token.token_id

    @property
    def token_secret(self) -> str:
        return self.state.default_token.secret

    def connection_settings(self) -> dict:
        """How a client reaches this server: the fields of servers.proxmox.Connection (and of ProxmoxServer)."""
        return {
            "host": self.host,
            "port": self.port,
            "token_id": self.token_id,
            "token_secret": self.token_secret,
            "tls_mode": "fingerprint",
            "fingerprint": self.fingerprint,
        }

    def describe(self) -> str:
        """How to reach this server, for people: URL, certificate fingerprint and API token."""
        return (
            f"{self.name}: {self.base_url}\n"
            f"  fingerprint:  {self.fingerprint}\n"
            f"  token id:     {self.token_id}\n"
            f"  token secret: {self.token_secret}\n"
            f"  header:       Authorization: PVEAPIToken={self.token_id}={self.token_secret}\n"
        )

    def node_cert_pem(self, node: str) -> str:
        return self._node_certs[node].cert_pem.decode()

    # --- test controls ------------------------------------------------------------------

    def add_token(self, token_id: str, secret: str, privileges=None) -> None:
        """Add an API token. privileges: None = all; a set = those on "/"; a dict = {ACL path: set}."""
        if "!" not in token_id or "@" not in token_id.split("!", 1)[0]:
            raise ValueError(f"token id must look like user@realm!name, not {token_id!r}")
        token = Token(token_id, secret, Token.acl_from(privileges))
        self._on_loop(lambda: self.state.tokens.__setitem__(token_id, token))

    def guest(self, vmid: int) -> SimGuest:
        return self.state.guests[vmid]

    def set_guest_status(self, vmid: int, status: str) -> None:
        if status not in ("running", "stopped"):
            raise ValueError("status must be 'running' or 'stopped'")
        guest = self.guest(vmid)

        def change() -> None:
            if status == "stopped":
                guest.power_off()
            elif not guest.running:
                guest.power_on(self.state.next_pid())

        self._on_loop(change)

    @property
    def ticket_lifetime(self) -> float:
        """Seconds a PVEVNC ticket stays valid after it was issued (40 on real PVE)."""
        return self.state.ticket_lifetime

    @ticket_lifetime.setter
    def ticket_lifetime(self, seconds: float) -> None:
        self.state.ticket_lifetime = seconds

    @property
    def task_delay(self) -> float:
        """Seconds a power task runs (its phases spread over them); 0 finishes it before the API answers."""
        return self.state.task_delay

    @task_delay.setter
    def task_delay(self, seconds: float) -> None:
        self.state.task_delay = seconds

    def task(self, upid: str):
        """A task of this cluster (state.Task): its status, exit status and log."""
        return self.state.tasks[upid]

    def rotate_certificate(self) -> None:
        """Issue a new certificate from the same CA; new connections see it."""
        self._on_loop(lambda: self._install_certificate(self._ca.issue(self._serving_node)))

    def reset(self) -> None:
        """Faults off, guests as configured, records and extra tokens gone, original certificate."""

        def reset() -> None:
            self.faults.clear()
            self._release_hung()
            self._drop_consoles()
            self.state.reset()
            if self._node_certs[self._serving_node] is not self._original_cert:
                self._install_certificate(self._original_cert)

        self._on_loop(reset)

    # --- internals ----------------------------------------------------------------------

    def _on_loop(self, action: Callable[[], None]) -> None:
        self._simulator.call(action)

    def _install_certificate(self, pair: KeyPair) -> None:
        self._node_certs[self._serving_node] = pair
        self.state.nodes[self._serving_node].fingerprint = pair.fingerprint
        self._load_certificate()

    def _load_certificate(self) -> None:
        pair = self._node_certs[self._serving_node]
        cert_file = self._workdir / f"{self.name}.pem"
        key_file = self._workdir / f"{self.name}.key"
        cert_file.write_bytes(pair.cert_pem)
        key_file.write_bytes(pair.key_pem)
        # Loading into the same context swaps the certificate for every later handshake.
        self._ssl.load_cert_chain(cert_file, key_file)

    async def hang_until_released(self) -> None:
        future = asyncio.get_running_loop().create_future()
        self._hung.add(future)
        try:
            await future
        finally:
            self._hung.discard(future)

    def _release_hung(self) -> None:
        for future in list(self._hung):
            if not future.done():
                future.set_result(None)

    def _drop_consoles(self) -> None:
        for channel in list(self.consoles):
            channel.abort()

    async def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._requested_port))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(PveApi(self).application(), access_log=None, shutdown_timeout=0.2)
        await self._runner.setup()
        await web.SockSite(self._runner, sock, ssl_context=self._ssl, backlog=512).start()

    async def stop(self) -> None:
        self._release_hung()
        self._drop_consoles()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class Simulator:
    """N simulated clusters of the same shape, each on its own port.

    config: a parsed TOML dict laid over default.toml (None = default.toml alone).
    port: first port (server i gets port + i); None = the config's, 0 = free ports.
    """

    def __init__(self, config: dict | None = None, servers: int = 1, port: int | None = None):
        self.config = merge_config(load_config(), config) if config else load_config()
        base_port = int(self.config["server"].get("port", 0) if port is None else port)
        prefix = self.config["server"].get("name", "pvesim")
        self._workdir = Path(tempfile.mkdtemp(prefix="pvesim-"))
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.servers: list[SimServer] = [
            SimServer(self, f"{prefix}-{index + 1}", self.config, base_port + index if base_port else 0, self._workdir)
            for index in range(servers)
        ]

    def start(self) -> "Simulator":
        """Start every server; returns once all of them listen."""
        if self._loop is not None:
            raise RuntimeError("simulator already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="pvesim", daemon=True)
        self._thread.start()
        try:
            self._run(lambda: asyncio.gather(*(server.start() for server in self.servers)))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        try:
            self._run(lambda: asyncio.gather(*(server.stop() for server in self.servers), return_exceptions=True))
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=10)
            loop.close()
            self._loop = self._thread = None
            shutil.rmtree(self._workdir, ignore_errors=True)

    def call(self, action: Callable[[], None]) -> None:
        """Run `action` on the simulator's loop (directly when not started or already on it)."""
        if self._loop is None or threading.current_thread() is self._thread:
            action()
            return

        async def run() -> None:
            action()

        self._run(run)

    def _run(self, make_awaitable: Callable):
        """Await what `make_awaitable()` returns on the simulator's loop, from another thread."""

        async def wrapper():
            return await make_awaitable()

        return asyncio.run_coroutine_threadsafe(wrapper(), self._loop).result(timeout=60)

    def __enter__(self) -> "Simulator":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()
