"""The Proxmox VE API calls, as plain Python data in and out."""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import requests

from .connection import Connection
from .errors import InvalidRequest, ProxmoxAPIError, ProxmoxError, clean_text
from .privileges import PrivilegeReport, privilege_report
from .translate import error_from_answer, error_from_failure
from .transport import Deadline, http_session
from .validation import POWER_ACTIONS, check_get, check_guest, check_node, check_upid

logger = logging.getLogger(__name__)

MAX_RESPONSE_BYTES = 10 * 1024 * 1024


# Told of every API call: (method, outcome, seconds), the outcome "ok" or the error's class name. The processes hook
# their metrics in here (nexus.apps), so this package knows nothing of them.
call_observers: list[Callable[[str, str, float], None]] = []


def _observe(method: str, outcome: str, started: float) -> None:
    elapsed = time.monotonic() - started
    for observer in call_observers:
        observer(method, outcome, elapsed)


class ProxmoxClient:
    """A session against one Proxmox VE endpoint, authenticated with an API token."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self._session = http_session(connection)

    def __repr__(self) -> str:
        return f"<ProxmoxClient {self.connection.base_url} token={self.connection.token_id}>"

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> ProxmoxClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- transport

    def _request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, data: Mapping[str, Any] | None = None
    ) -> Any:
        started = time.monotonic()
        try:
            response, raw = self._exchange(method, path, params, data)
        except ProxmoxError as error:
            _observe(method, type(error).__name__, started)
            logger.info("Proxmox %s %s%s failed: %s", method, self.connection.netloc, path, error.message)
            raise
        _observe(method, "ok" if 200 <= response.status_code < 300 else f"http_{response.status_code}", started)
        logger.debug(
            "Proxmox %s %s%s -> %s in %.0f ms",
            method,
            self.connection.netloc,
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        return self._unwrap(response, raw)

    def _exchange(
        self, method: str, path: str, params: Mapping[str, Any] | None, data: Mapping[str, Any] | None
    ) -> tuple[requests.Response, bytes]:
        """Send the request and read the whole answer, all within the connection's timeout."""
        connection = self.connection
        timeout = connection.timeout
        try:
            with Deadline(timeout, connection.netloc):
                response = self._session.request(
                    method,
                    connection.base_url + path,
                    params=params,
                    data=data,
                    timeout=(timeout, timeout),
                    stream=True,
                    allow_redirects=False,
                )
                try:
                    return response, self._read_body(response)
                finally:
                    response.close()
        except requests.RequestException as exc:
            raise error_from_failure(exc, connection.host, connection.port, timeout) from None

    def _read_body(self, response: requests.Response) -> bytes:
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > MAX_RESPONSE_BYTES:
            raise self._too_big()
        chunks, size = [], 0
        for chunk in response.iter_content(64 * 1024):
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise self._too_big()
            chunks.append(chunk)
        return b"".join(chunks)

    def _too_big(self) -> ProxmoxAPIError:
        return ProxmoxAPIError(
            f"{self.connection.netloc} sent an answer larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB; refused."
        )

    def _unwrap(self, response: requests.Response, raw: bytes) -> Any:
        status = response.status_code
        try:
            body = json.loads(raw) if raw else None
        except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting from a hostile server
            body = None
            if 200 <= status < 300:
                kind = clean_text(response.headers.get("Content-Type", "unknown type"), 80)
                raise ProxmoxAPIError(
                    f"{self.connection.netloc} answered with something that is not JSON ({kind}); is this really "
                    "a Proxmox VE API endpoint?",
                    status=status,
                ) from None
        if not 200 <= status < 300:
            raise error_from_answer(status, response.reason, body, self.connection)
        if not isinstance(body, dict) or "data" not in body:
            raise ProxmoxAPIError(
                f"{self.connection.netloc} answered without a 'data' field; is this really a Proxmox VE API endpoint?",
                status=status,
            )
        return body["data"]

    def _expect(self, value: Any, kind: type, what: str) -> Any:
        if not isinstance(value, kind) or (kind is list and not all(isinstance(v, dict) for v in value)):
            raise ProxmoxAPIError(f"{self.connection.netloc} returned an unexpected shape for {what}.")
        return value

    def _get(self, path: str, kind: type, what: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._expect(self._request("GET", path, params=params), kind, what)

    def _post(self, path: str, kind: type, what: str, data: Mapping[str, Any] | None = None) -> Any:
        return self._expect(self._request("POST", path, data=data), kind, what)

    # -- reads

    def version(self) -> dict:
        return self._get("/version", dict, "the version")

    def nodes(self) -> list[dict]:
        return self._get("/nodes", list, "the node list")

    def guests(self) -> list[dict]:
        """Every guest of the cluster the token may audit, in one call."""
        return self._get("/cluster/resources", list, "the guest list", params={"type": "vm"})

    def guest_status(self, node: str, kind: str, vmid: int) -> dict:
        check_guest(node, kind, vmid)
        return self._get(f"/nodes/{node}/{kind}/{vmid}/status/current", dict, f"the status of {kind} {vmid}")

    def task_status(self, node: str, upid: str) -> dict:
        check_node(node)
        check_upid(upid)
        return self._get(f"/nodes/{node}/tasks/{_quote_upid(upid)}/status", dict, "the task status")

    def task_log(self, node: str, upid: str, *, start: int = 0, limit: int = 50) -> list[dict]:
        """Lines `start`.. of a task's log: [{"n": line number, "t": text}]; a finished task's last line is
        `TASK OK` or `TASK ERROR: <why>`."""
        check_node(node)
        check_upid(upid)
        params = {"start": max(int(start), 0), "limit": max(int(limit), 0)}
        return self._get(f"/nodes/{node}/tasks/{_quote_upid(upid)}/log", list, "the task log", params)

    def tasks(self, node: str, *, vmid: int | None = None, limit: int = 50) -> list[dict]:
        """The node's recent tasks (running and finished), newest first; finished ones carry `endtime`."""
        check_node(node)
        params: dict[str, Any] = {"source": "all", "limit": max(int(limit), 0)}
        if vmid is not None:
            check_guest(node, "qemu", vmid)
            params["vmid"] = vmid
        return self._get(f"/nodes/{node}/tasks", list, "the task list", params)

    def permissions(self) -> dict:
        return self._get("/access/permissions", dict, "the token permissions")

    def token_privilege_report(self) -> PrivilegeReport:
        return privilege_report(self.permissions())

    def api_get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """Read-only GET for the API explorer: GET endpoints of Proxmox's published API schema with the parameters
        it gives them, never those that read more than metadata (validation.REFUSED_GET_PATHS)."""
        _, checked = check_get(path, params)
        return self._request("GET", path, params=checked)

    # -- actions

    def power(self, node: str, kind: str, vmid: int, action: str) -> str:
        """Start a power action; returns the task's UPID."""
        check_guest(node, kind, vmid)
        if action not in POWER_ACTIONS:
            raise InvalidRequest(
                f"Unknown power action {clean_text(action, 40)!r}: use one of {', '.join(POWER_ACTIONS)}."
            )
        if action == "reset" and kind == "lxc":
            raise InvalidRequest("Containers (LXC) cannot be reset; use reboot, or stop then start.")
        upid = self._post(f"/nodes/{node}/{kind}/{vmid}/status/{action}", str, f"the {action} task")
        if not upid.startswith("UPID:"):
            raise ProxmoxAPIError(f"{self.connection.netloc} returned no task id for {action}.")
        return upid

    def vncproxy(self, node: str, kind: str, vmid: int, *, width: int | None = None, height: int | None = None) -> dict:
        """Open a VNC proxy for a WebSocket relay: {user, ticket, port, upid, cert[, password]}.

        `width`/`height` (pixels) only exist for containers; they are clamped to Proxmox's limits and ignored for
        QEMU, whose display size the guest decides.
        """
        check_guest(node, kind, vmid)
        data: dict[str, Any] = {"websocket": 1}
        if kind == "lxc":
            if width is not None:
                data["width"] = min(max(int(width), 16), 4096)
            if height is not None:
                data["height"] = min(max(int(height), 16), 2160)
        ticket = self._post(f"/nodes/{node}/{kind}/{vmid}/vncproxy", dict, "the console ticket", data)
        self._check_console_ticket(ticket)
        return ticket

    def termproxy(self, node: str, kind: str, vmid: int, *, serial: str | None = None) -> dict:
        """Open a terminal proxy: {user, ticket, port, upid}. `serial` (serial0..serial3) is QEMU only."""
        check_guest(node, kind, vmid)
        data: dict[str, Any] = {}
        if serial is not None:
            if kind != "qemu" or serial not in ("serial0", "serial1", "serial2", "serial3"):
                raise InvalidRequest("A serial terminal is serial0..serial3 and exists for QEMU guests only.")
            data["serial"] = serial
        ticket = self._post(f"/nodes/{node}/{kind}/{vmid}/termproxy", dict, "the terminal ticket", data)
        self._check_console_ticket(ticket)
        return ticket

    def _check_console_ticket(self, ticket: dict) -> None:
        port = ticket.get("port")
        try:
            port_ok = 1 <= int(port) <= 65535
        except (TypeError, ValueError):
            port_ok = False
        if not port_ok or not isinstance(ticket.get("ticket"), str) or not ticket["ticket"]:
            raise ProxmoxAPIError(f"{self.connection.netloc} returned a console ticket without a usable port/ticket.")


def _quote_upid(upid: str) -> str:
    return urllib.parse.quote(upid, safe=":@!=")
