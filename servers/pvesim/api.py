"""The Proxmox VE HTTP API of one simulated cluster, on aiohttp.

One catch-all route dispatches through a table of (method, path pattern) entries,
so unknown paths and methods answer like pve-http-server: 501 "Method 'GET /x' not
implemented". Errors use the JSON formatter's shape {"data": null, "message", "errors"}
and the message's first line as the HTTP reason phrase.
"""

import asyncio
import base64
import json
import os
import re
import secrets
import string
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import WSMsgType, web

from servers.proxmox import KINDS

from .params import NODE, VMID, ParameterError, validate
from .power import Phase, phases
from .rfb_server import RfbServerSession, RfbSessionError
from .state import TASK_TYPES, ConsoleOffer, SimGuest, Task, Token
from .term import TermSession, TermSessionError

if TYPE_CHECKING:
    from .simulator import SimServer

JSON_TYPE = "application/json;charset=UTF-8"
MAX_FRAME = 128 * 1024  # pveproxy's WebSocket payload limit in both directions
VNC_PORTS = range(5900, 6000)

_S = {"type": "string", "optional": 1}
_B = {"type": "boolean", "optional": 1}
_T = {"type": "integer", "minimum": 0, "optional": 1}

POWER_PARAMS = {
    "qemu": {
        "start": {
            "force-cpu": _S,
            "machine": _S,
            "migratedfrom": _S,
            "migration_network": _S,
            "migration_type": {"type": "string", "enum": ["secure", "insecure"], "optional": 1},
            "nets-host-mtu": _S,
            "skiplock": _B,
            "stateuri": {"type": "string", "maxLength": 128, "optional": 1},
            "targetstorage": _S,
            "timeout": _T,
            "with-conntrack-state": _B,
        },
        "stop": {"keepActive": _B, "migratedfrom": _S, "overrule-shutdown": _B, "skiplock": _B, "timeout": _T},
        "shutdown": {"forceStop": _B, "keepActive": _B, "skiplock": _B, "timeout": _T},
        "reset": {"skiplock": _B},
        "reboot": {"timeout": _T},
        "suspend": {"skiplock": _B, "statestorage": _S, "todisk": _B},
        "resume": {"nocheck": _B, "skiplock": _B},
    },
    "lxc": {
        "start": {"debug": _B, "skiplock": _B},
        "stop": {"overrule-shutdown": _B, "skiplock": _B},
        "shutdown": {"forceStop": _B, "timeout": _T},
        "reboot": {"timeout": _T},
        "suspend": {},
        "resume": {},
    },
}

VNCPROXY_PARAMS = {
    "qemu": {"generate-password": _B, "websocket": _B},
    "lxc": {
        "websocket": _B,
        "width": {"type": "integer", "minimum": 16, "maximum": 4096, "optional": 1},
        "height": {"type": "integer", "minimum": 16, "maximum": 2160, "optional": 1},
    },
}
TERMPROXY_PARAMS = {
    "qemu": {"serial": {"type": "string", "enum": ["serial0", "serial1", "serial2", "serial3"], "optional": 1}},
    "lxc": {},
}
TASK_LIST_PARAMS = {
    "vmid": {**VMID, "optional": 1},
    "typefilter": _S,
    "source": {"type": "string", "enum": ["archive", "active", "all"], "optional": 1},
    "start": _T,
    "limit": _T,
    "errors": _B,
}
VNCWEBSOCKET_PARAMS = {
    "port": {"type": "integer", "minimum": 5900, "maximum": 5999},
    "vncticket": {"type": "string", "maxLength": 512},
}


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors


def _error_response(status: int, message: str, errors: dict | None = None) -> web.Response:
    body = {"data": None, "message": message}
    if errors:
        body["errors"] = errors
    reason = message.splitlines()[0] if message.strip() else None
    return web.Response(
        status=status,
        reason=reason,
        body=json.dumps(body).encode(),
        content_type=None,
        headers={"Content-Type": JSON_TYPE},
    )


@dataclass
class Call:
    """One authenticated API call: the request, who makes it, and its checked parameters."""

    request: web.Request
    token: Token
    params: dict


Handler = Callable[[Call], Awaitable[object]]


@dataclass
class Route:
    method: str
    pattern: re.Pattern
    handler: Handler
    params: dict
    permission: tuple[str, str] | None = None  # (ACL path template, privilege)


def _route(method: str, template: str, handler: Handler, params: dict, permission=None) -> Route:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    return Route(method, re.compile(f"^{regex}$"), handler, params, permission)


class PveApi:
    def __init__(self, server: "SimServer"):
        self.server = server
        self.state = server.state
        self.routes = self._routes()

    def _routes(self) -> list[Route]:
        node = {"node": NODE}
        guest = {"node": NODE, "vmid": VMID}
        routes = [
            _route("GET", "/version", self.version, {}),
            _route("GET", "/nodes", self.nodes, {}),
            _route(
                "GET",
                "/cluster/resources",
                self.cluster_resources,
                {"type": {"type": "string", "enum": ["vm", "storage", "node", "sdn"], "optional": 1}},
            ),
            _route("GET", "/access/permissions", self.permissions, {"path": _S, "userid": _S}),
            _route("GET", "/nodes/{node}/tasks", self.task_list, {**node, **TASK_LIST_PARAMS}),
            _route("GET", "/nodes/{node}/tasks/{upid}/status", self.task_status, {**node, "upid": {"type": "string"}}),
            _route(
                "GET",
                "/nodes/{node}/tasks/{upid}/log",
                self.task_log,
                {**node, "upid": {"type": "string"}, "start": _T, "limit": _T},
            ),
            _route("GET", "/nodes/{node}/qemu", self.guest_list("qemu"), {**node, "full": _B}),
            _route("GET", "/nodes/{node}/lxc", self.guest_list("lxc"), node),
        ]
        for kind in KINDS:
            base = f"/nodes/{{node}}/{kind}/{{vmid}}"
            routes += [
                _route("GET", f"{base}/status", self.status_index(kind), guest),
                _route("GET", f"{base}/status/current", self.status_current(kind), guest, ("/vms/{vmid}", "VM.Audit")),
                _route(
                    "POST",
                    f"{base}/vncproxy",
                    self.vncproxy(kind),
                    {**guest, **VNCPROXY_PARAMS[kind]},
                    ("/vms/{vmid}", "VM.Console"),
                ),
                _route(
                    "POST",
                    f"{base}/termproxy",
                    self.termproxy(kind),
                    {**guest, **TERMPROXY_PARAMS[kind]},
                    ("/vms/{vmid}", "VM.Console"),
                ),
                _route(
                    "GET",
                    f"{base}/vncwebsocket",
                    self.vncwebsocket(kind),
                    {**guest, **VNCWEBSOCKET_PARAMS},
                    ("/vms/{vmid}", "VM.Console"),
                ),
            ]
            for action, extra in POWER_PARAMS[kind].items():
                routes.append(
                    _route(
                        "POST",
                        f"{base}/status/{action}",
                        self.power(kind, action),
                        {**guest, **extra},
                        ("/vms/{vmid}", "VM.PowerMgmt"),
                    )
                )
        return routes

    # --- plumbing -----------------------------------------------------------------------

    def application(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024)
        app.router.add_route("*", "/{tail:.*}", self.dispatch)
        return app

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        server = self.server
        if server.faults.hang:
            await server.hang_until_released()
            # Released on reset or stop: hang up instead of answering late.
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=503)
        if server.faults.latency:
            await asyncio.sleep(server.faults.latency)
        answer = await self._answer(request)
        if server.faults.trickle and isinstance(answer, web.Response):
            await self._trickle(request, answer)
        return answer

    async def _answer(self, request: web.Request) -> web.StreamResponse:
        try:
            result = await self._dispatch(request)
        except _Unauthorized as error:
            # pveproxy answers a failed login with the reason in the status line and no body.
            return web.Response(status=401, reason=error.message)
        except ApiError as error:
            return _error_response(error.status, error.message, error.errors)
        except ParameterError as error:
            return _error_response(400, "Parameter verification failed.\n", error.errors)
        if isinstance(result, web.StreamResponse):
            return result
        return web.Response(body=json.dumps({"data": result}).encode(), headers={"Content-Type": JSON_TYPE})

    async def _trickle(self, request: web.Request, answer: web.Response) -> None:
        """Write `answer` one byte at a time, each well within any read timeout, then hang up (reset stops it)."""
        body = answer.body or b""
        head = f"HTTP/1.1 {answer.status} {answer.reason}\r\nContent-Type: {answer.headers.get('Content-Type', '')}\r\n"
        head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        transport = request.transport
        for byte in head.encode() + body:
            if not self.server.faults.trickle or transport is None or transport.is_closing():
                break
            transport.write(bytes([byte]))
            await asyncio.sleep(self.server.faults.trickle)
        if transport is not None:
            transport.abort()  # aiohttp then writes the answer again into a closed transport: a no-op

    async def _dispatch(self, request: web.Request):
        path = request.path
        if not path.startswith("/api2/"):
            raise ApiError(501, f"no such file '{path}'")
        match = re.match(r"^/api2/+([a-z][a-z0-9]+)(/.*)?$", path)
        if not match:
            raise ApiError(501, "no such uri")
        rel_uri = match[2] or "/"
        if len(rel_uri) > 1:
            rel_uri = rel_uri.rstrip("/")
        token = await self._authenticate(request)
        if match[1] != "json":
            raise ApiError(501, f"Method '{request.method} {rel_uri}' not implemented")
        if self.server.faults.http_500:
            raise ApiError(500, "cluster not ready - no quorum?\n")
        for route in self.routes:
            found = route.pattern.match(rel_uri)
            if found and route.method == request.method:
                break
        else:
            raise ApiError(501, f"Method '{request.method} {rel_uri}' not implemented")
        given = dict(request.query)
        if request.method in ("POST", "PUT") and request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                given.update({key: value for key, value in body.items() if value is not None})
            else:
                given.update(await request.post())
        given.update(found.groupdict())
        params = validate(route.params, given)
        if route.permission:
            acl_path = route.permission[0].format(**params)
            self._require(token, acl_path, route.permission[1])
        return await route.handler(Call(request, token, params))

    async def _authenticate(self, request: web.Request) -> Token:
        header = request.headers.get("Authorization", "")
        found = re.search(r"(?:^|\s)PVEAPIToken(?:=| )([^;]*)", header)
        if not found:
            await self._unauthorized("No ticket")
        token_id, _, secret = found[1].strip().rpartition("=")
        token = self.state.tokens.get(token_id)
        if token is None or not secrets.compare_digest(token.secret, secret):
            await self._unauthorized("authentication failure")
        return token

    async def _unauthorized(self, reason: str):
        await asyncio.sleep(self.state.auth_failure_delay)
        raise _Unauthorized(reason)

    @staticmethod
    def _require(token: Token, path: str, privilege: str) -> None:
        if not token.has(path, privilege):
            raise ApiError(403, f"Permission check failed ({path}, {privilege})\n")

    def _node(self, name: str):
        node = self.state.nodes.get(name)
        if node is None:
            raise ApiError(
                500,
                f"hostname lookup '{name}' failed - failed to get address info for: {name}: "
                "Name or service not known\n",
            )
        return node

    def _guest(self, kind: str, params: dict) -> SimGuest:
        node, vmid = params["node"], params["vmid"]
        self._node(node)
        guest = self.state.guests.get(vmid)
        if guest is None or guest.kind != kind or guest.node != node:
            directory = "qemu-server" if kind == "qemu" else "lxc"
            raise ApiError(500, f"Configuration file 'nodes/{node}/{directory}/{vmid}.conf' does not exist\n")
        return guest

    # --- cluster and nodes ----------------------------------------------------------------

    async def version(self, call: Call):
        cluster = self.state.config["cluster"]
        return {"version": cluster["version"], "release": cluster["release"], "repoid": cluster["repoid"]}

    def _node_entry(self, token: Token, node) -> dict:
        status = "offline" if node.name in self.server.faults.offline_nodes else "online"
        entry = {"node": node.name, "status": status, "level": "", "ssl_fingerprint": node.fingerprint}
        if token.has(f"/nodes/{node.name}", "Sys.Audit"):
            entry.update(node.usage(), maxcpu=node.maxcpu, maxmem=node.maxmem)
        return entry

    async def nodes(self, call: Call):
        return [self._node_entry(call.token, node) for node in self.state.nodes.values()]

    async def cluster_resources(self, call: Call):
        wanted = call.params.get("type")
        resources = []
        if wanted in (None, "vm"):
            for guest in self._visible_guests(call.token):
                usage = guest.usage()
                entry = {
                    "id": f"{guest.kind}/{guest.vmid}",
                    "type": guest.kind,
                    "vmid": guest.vmid,
                    "node": guest.node,
                    "name": guest.name,
                    "status": guest.status,
                    "template": int(guest.template),
                    "maxcpu": guest.cpus,
                    "maxmem": guest.maxmem,
                    "disk": 0 if guest.kind == "qemu" else guest.maxdisk // 4,
                    "maxdisk": guest.maxdisk,
                    **usage,
                }
                entry.update({key: value for key in ("pool", "tags", "lock") if (value := getattr(guest, key))})
                resources.append(entry)
        if wanted in (None, "node"):
            for node in self.state.nodes.values():
                entry = self._node_entry(call.token, node)
                del entry["ssl_fingerprint"]
                resources.append({"id": f"node/{node.name}", "type": "node", "cgroup-mode": 2, **entry})
        if wanted in (None, "storage"):
            for node in self.state.nodes.values():
                if call.token.has("/storage/local", "Datastore.Audit"):
                    resources.append(
                        {
                            "id": f"storage/{node.name}/local",
                            "type": "storage",
                            "storage": "local",
                            "node": node.name,
                            "status": "available",
                            "plugintype": "dir",
                            "shared": 0,
                            "content": "iso,vztmpl,backup",
                            "disk": 20 << 30,
                            "maxdisk": 100 << 30,
                        }
                    )
        return resources

    def _visible_guests(self, token: Token, node: str | None = None, kind: str | None = None):
        return [
            guest
            for guest in sorted(self.state.guests.values(), key=lambda guest: guest.vmid)
            if (node is None or guest.node == node)
            and (kind is None or guest.kind == kind)
            and token.has(f"/vms/{guest.vmid}", "VM.Audit")
        ]

    async def permissions(self, call: Call):
        token = call.token
        userid = call.params.get("userid")
        if userid and userid not in (token.token_id, token.user):
            self._require(token, "/access", "Sys.Audit")
        paths = [call.params["path"]] if "path" in call.params else sorted(token.acl)
        return {path: dict.fromkeys(sorted(token.privileges_on(path)), 1) for path in paths}

    def _task(self, call: Call):
        """The task a call names, with Proxmox's refusals: an unparsable UPID, another node's, another user's."""
        node, upid = call.params["node"], call.params["upid"]
        self._node(node)
        if not re.fullmatch(r"UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8,9}:[0-9A-F]{8}:[^:]+:[^:]*:[^:]+:", upid):
            raise ApiError(500, f"unable to parse worker upid '{upid}'\n")
        task = self.state.tasks.get(upid)
        if task is None or task.node != node:
            raise ApiError(500, f"no such task '{upid}'\n")
        if task.user != call.token.token_id:
            self._require(call.token, f"/nodes/{node}", "Sys.Audit")
        return task

    async def task_status(self, call: Call):
        return self._task(call).as_dict()

    async def task_log(self, call: Call):
        task = self._task(call)
        start, limit = call.params.get("start", 0), call.params.get("limit", 50)
        lines = task.log[start : start + limit] if limit else task.log[start:]
        return [{"n": start + index + 1, "t": text} for index, text in enumerate(lines)]

    async def task_list(self, call: Call):
        """The node's tasks, newest first; the token's own unless it has Sys.Audit on the node."""
        params, token = call.params, call.token
        node = params["node"]
        self._node(node)
        everyone = token.has(f"/nodes/{node}", "Sys.Audit")
        source = params.get("source", "archive")
        tasks = [
            task
            for task in sorted(self.state.tasks.values(), key=lambda task: (task.starttime, task.pid), reverse=True)
            if task.node == node
            and (everyone or task.user == token.token_id)
            and ("vmid" not in params or task.id == str(params["vmid"]))
            and ("typefilter" not in params or task.type == params["typefilter"])
            and (source == "all" or (task.status == "running") == (source == "active"))
            and (not params.get("errors") or task.exitstatus not in (None, "OK"))
        ]
        start, limit = params.get("start", 0), params.get("limit", 50)
        return [task.list_entry() for task in tasks[start : start + limit]]

    # --- guests ---------------------------------------------------------------------------

    def _guest_entry(self, guest: SimGuest, full: bool = False) -> dict:
        entry = {
            "vmid": guest.vmid,
            "name": guest.name,
            "status": guest.status,
            "cpus": guest.cpus,
            "maxmem": guest.maxmem,
            "maxdisk": guest.maxdisk,
            **guest.usage(),
        }
        if guest.kind == "lxc":
            entry.update(disk=guest.maxdisk // 4 if guest.running else 0, maxswap=512 << 20)
        elif guest.running:
            entry["pid"] = guest.pid
        if guest.kind == "qemu" and full:
            entry["qmpstatus"] = guest.qmpstatus
        if guest.template:
            entry["template"] = 1
        entry.update({key: value for key in ("tags", "lock") if (value := getattr(guest, key))})
        return entry

    def guest_list(self, kind: str) -> Handler:
        async def handler(call: Call):
            self._node(call.params["node"])
            full = call.params.get("full", False)
            return [
                self._guest_entry(guest, full) for guest in self._visible_guests(call.token, call.params["node"], kind)
            ]

        return handler

    def status_index(self, kind: str) -> Handler:
        async def handler(call: Call):
            self._guest(kind, call.params)
            return [{"subdir": name} for name in ["current", *POWER_PARAMS[kind]]]

        return handler

    def status_current(self, kind: str) -> Handler:
        async def handler(call: Call):
            guest = self._guest(kind, call.params)
            entry = self._guest_entry(guest, full=True)
            entry["ha"] = {"managed": 0}
            if kind == "qemu" and guest.agent:
                entry["agent"] = 1
            return entry

        return handler

    def power(self, kind: str, action: str) -> Handler:
        noun = "VM" if kind == "qemu" else "CT"

        def refusal(guest: SimGuest) -> str | None:
            if guest.lock:
                return f"{noun} is locked ({guest.lock})"
            if action == "start":
                if guest.template:
                    return f"you can't start a {'vm' if kind == 'qemu' else 'CT'} if it's a template"
                if guest.running:
                    return f"{noun} {guest.vmid} already running"
            elif not guest.running:
                return f"{noun} {guest.vmid} not running"
            return None

        async def handler(call: Call):
            guest = self._guest(kind, call.params)
            if reason := refusal(guest):
                raise ApiError(500, reason + "\n")
            steps = phases(action, guest, noun, self.state.next_pid)
            fault = self.server.faults.task_error
            if fault:
                # An injected failure: the task gets going, then fails with Proxmox's words; the guest stays as is.
                steps = [*steps[:1], Phase("")]

            def run(phase: Phase, task: Task) -> str:
                """Run one phase; the reason it cannot, when the guest's state changed under the task."""
                if phase.needs_running is not None and guest.running != phase.needs_running:
                    state = "not" if phase.needs_running else "already"
                    return refusal(guest) or f"{noun} {guest.vmid} {state} running"
                if phase.effect is not None:
                    phase.effect(guest)
                if phase.line:
                    task.log.append(phase.line)
                return "OK"

            def step(phase: Phase) -> Callable[[Task], None]:
                def advance(task: Task) -> None:
                    if (outcome := run(phase, task)) != "OK":
                        task.finish(outcome)

                return advance

            def finish(task: Task) -> str:
                return fault or run(steps[-1], task)

            task = self.state.start_task(
                guest.node,
                TASK_TYPES[kind][action],
                str(guest.vmid),
                call.token.token_id,
                finish,
                [step(phase) for phase in steps[:-1]],
            )
            return task.upid

        return handler

    # --- consoles -------------------------------------------------------------------------

    def _offer(self, kind: str, call: Call, console: str, password: str | None = None) -> ConsoleOffer:
        guest = self._guest(kind, call.params)
        if not guest.running:
            raise ApiError(500, f"{'VM' if kind == 'qemu' else 'CT'} {guest.vmid} not running\n")
        state = self.state
        used = state.ports_in_use(guest.node)
        port = next((port for port in VNC_PORTS if port not in used), None)
        if port is None:
            raise ApiError(500, "unable to find free port (5900-5999)\n")
        now = time.time()
        ticket = f"PVEVNC:{int(now):08X}::" + base64.b64encode(os.urandom(256)).decode()
        task = state.start_task(guest.node, "vncproxy", str(guest.vmid), call.token.token_id, None)
        offer = ConsoleOffer(
            kind=console,
            guest=guest,
            node=guest.node,
            port=port,
            ticket=ticket,
            password=password or ticket[:8],
            user=call.token.token_id,
            issued_at=now,
            task=task,
        )
        state.add_offer(offer)
        return offer

    def vncproxy(self, kind: str) -> Handler:
        async def handler(call: Call):
            password = None
            if call.params.get("generate-password"):
                alphabet = string.ascii_letters + string.digits + string.punctuation
                password = "".join(secrets.choice(alphabet) for _ in range(8))
            offer = self._offer(kind, call, "vnc", password)
            return {
                "user": offer.user,
                "ticket": offer.ticket,
                "port": offer.port,
                "upid": offer.task.upid,
                "cert": self.server.node_cert_pem(offer.node),
                "password": offer.password,
            }

        return handler

    def termproxy(self, kind: str) -> Handler:
        async def handler(call: Call):
            offer = self._offer(kind, call, "term")
            return {"user": offer.user, "ticket": offer.ticket, "port": offer.port, "upid": offer.task.upid}

        return handler

    def vncwebsocket(self, kind: str) -> Handler:
        async def handler(call: Call):
            guest = self._guest(kind, call.params)
            if not self.state.ticket_valid(call.params["vncticket"], call.token.token_id, f"/vms/{guest.vmid}"):
                raise ApiError(401, "permission denied - invalid PVEVNC ticket\n")
            request = call.request
            port = call.params["port"]
            if request.headers.get("Upgrade", "").lower() != "websocket":
                return {"port": str(port)}
            if request.headers.get("Sec-WebSocket-Version") != "13":
                raise ApiError(501, f"unsupported websocket-version '{request.headers.get('Sec-WebSocket-Version')}'\n")
            offered = request.headers.get("Sec-WebSocket-Protocol")
            if not offered:
                raise ApiError(501, "missing websocket-protocol header")
            if "binary" not in [item.strip() for item in offered.split(",")]:
                raise ApiError(501, f"unsupported websocket-protocol protocol '{offered}'\n")
            ws = web.WebSocketResponse(protocols=("binary",), max_msg_size=MAX_FRAME, autoping=True)
            await ws.prepare(request)
            offer = self.state.claim_offer(guest.node, port)
            if offer is None:
                # Nothing listens on that port any more: pveproxy's connect fails and it hangs up.
                await ws.close()
                return ws
            await self._serve_console(request, ws, offer)
            return ws

        return handler

    async def _serve_console(self, request: web.Request, ws: web.WebSocketResponse, offer: ConsoleOffer) -> None:
        channel = ConsoleChannel(request, ws, self.server)
        if offer.kind == "vnc":
            width, height = self.state.console_size
            session = RfbServerSession(offer.guest, offer.password, channel.reader, channel.send, width, height)
        else:
            session = TermSession(offer.guest, offer.user, offer.ticket, channel.reader, channel.send)
        pump = asyncio.create_task(channel.pump())
        self.server.consoles.add(channel)
        try:
            await session.run()
        except (RfbSessionError, TermSessionError, ConnectionError):
            pass
        finally:
            self.server.consoles.discard(channel)
            pump.cancel()
            await asyncio.gather(pump, return_exceptions=True)
            await channel.close()
            offer.task.finish("OK")
            self.state.release_port(offer.node, offer.port)


class _Unauthorized(ApiError):
    def __init__(self, reason: str):
        super().__init__(401, reason)


class ConsoleChannel:
    """The WebSocket seen as a byte stream, with pveproxy's frame limit and the drop fault."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, server: "SimServer"):
        self.request, self.ws, self.server = request, ws, server
        self.reader = asyncio.StreamReader(limit=MAX_FRAME)
        self.sent = 0

    async def pump(self) -> None:
        try:
            async for message in self.ws:
                if message.type == WSMsgType.BINARY:
                    self.reader.feed_data(message.data)
                elif message.type == WSMsgType.TEXT:
                    self.reader.feed_data(message.data.encode())
        finally:
            self.reader.feed_eof()

    async def send(self, data: bytes) -> None:
        limit = self.server.faults.drop_ws_after
        if limit is not None and self.sent + len(data) >= limit:
            data = data[: max(0, limit - self.sent)]
            await self._send_frames(data)
            self.abort()
            raise ConnectionResetError("console dropped by fault injection")
        await self._send_frames(data)

    async def _send_frames(self, data: bytes) -> None:
        for start in range(0, len(data), MAX_FRAME):
            await self.ws.send_bytes(data[start : start + MAX_FRAME])
        self.sent += len(data)

    def abort(self) -> None:
        """Cut the connection without a close frame, as a dying pveproxy connection does."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()

    async def close(self) -> None:
        if not self.ws.closed:
            try:
                await asyncio.wait_for(self.ws.close(), 1)
            except (TimeoutError, ConnectionError):
                self.abort()
