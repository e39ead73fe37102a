"""Contract tests: the client's requests and the simulator's answers, checked against Proxmox's own API schema.

Requests: every call the client makes is recorded (with `responses`) and its path, method and parameters are
looked up in apidata.json. Answers: every call is made against the simulator and each returned field must exist in
the schema's `returns` with a compatible type.
"""

import json
import re
import urllib.parse
from unittest import mock

import pytest
import requests
import responses

from servers import proxmox
from servers.proxmox import Connection, ProxmoxClient, validation
from tests import pve_schema

UPID = "UPID:pve:0000ABCD:00112233:65A0B1C2:qmstart:100:nexus@pve!broker:"
TICKET = {"user": "nexus@pve!broker", "ticket": "PVEVNC:T", "port": 5900, "upid": UPID, "cert": "PEM"}


@pytest.fixture(scope="module")
def schema():
    return pve_schema.require_schema()


def every_call(node: str, qemu: int, lxc: int):
    """(label, function of a client) for every request the client can make, with valid arguments."""
    calls = [
        ("version", lambda c: c.version()),
        ("nodes", lambda c: c.nodes()),
        ("guests", lambda c: c.guests()),
        ("permissions", lambda c: c.permissions()),
        ("qemu status", lambda c: c.guest_status(node, "qemu", qemu)),
        ("lxc status", lambda c: c.guest_status(node, "lxc", lxc)),
        ("qemu vncproxy", lambda c: c.vncproxy(node, "qemu", qemu)),
        ("lxc vncproxy", lambda c: c.vncproxy(node, "lxc", lxc, width=1024, height=768)),
        ("qemu termproxy", lambda c: c.termproxy(node, "qemu", qemu, serial="serial0")),
        ("qemu termproxy display", lambda c: c.termproxy(node, "qemu", qemu)),
        ("lxc termproxy", lambda c: c.termproxy(node, "lxc", lxc)),
        ("api_get", lambda c: c.api_get(f"/nodes/{node}/qemu/{qemu}/status/current")),
    ]
    for action in proxmox.POWER_ACTIONS:
        calls.append((f"qemu {action}", lambda c, a=action: c.power(node, "qemu", qemu, a)))
        if action != "reset":
            calls.append((f"lxc {action}", lambda c, a=action: c.power(node, "lxc", lxc, a)))
    return calls


def _canned(request):
    path = urllib.parse.urlsplit(request.url).path
    if path.endswith(("/vncproxy", "/termproxy")):
        data = TICKET
    elif "/status/" in path and request.method == "POST":
        data = UPID
    elif path.endswith(("/nodes", "/cluster/resources")):
        data = []
    else:
        data = {}
    return 200, {}, json.dumps({"data": data})


def recorded_requests():
    conn = Connection(host="pve.example.com", token_id="nexus@pve!broker", token_secret="s3cret")
    with responses.RequestsMock() as mocked, ProxmoxClient(conn) as client:
        for method in ("GET", "POST"):
            mocked.add_callback(method, re.compile(r"https://pve\.example\.com:8006/.*"), callback=_canned)
        for _, call in every_call("pve", 100, 200):
            call(client)
        requests = [(call.request.method, call.request.url, call.request.body) for call in mocked.calls]
    requests.append(("GET", proxmox.vncwebsocket_url(conn, "pve", "qemu", 100, port=5900, ticket="PVEVNC:a+b"), None))
    requests.append(("GET", proxmox.vncwebsocket_url(conn, "pve", "lxc", 200, port=5901, ticket="PVEVNC:a+b"), None))
    requests.append(("GET", conn.base_url + f"/nodes/pve/tasks/{urllib.parse.quote(UPID, safe=':@!=')}/status", None))
    return requests


def _value_fits(value: str, spec: dict) -> bool:
    """Does a form/query value (always a string on the wire) fit the schema's type for the parameter?"""
    kind = spec.get("type", "string")
    if "enum" in spec and value not in spec["enum"]:
        return False
    if kind == "integer":
        if not re.fullmatch(r"-?\d+", value):
            return False
        return spec.get("minimum", -float("inf")) <= int(value) <= spec.get("maximum", float("inf"))
    if kind == "boolean":
        return value in ("0", "1")
    if kind == "number":
        return re.fullmatch(r"-?\d+(\.\d+)?", value) is not None
    return kind == "string" and len(value) <= spec.get("maxLength", 10**9)


def test_every_request_of_the_client_exists_in_the_schema_with_valid_parameters(schema):
    requests = recorded_requests()
    assert len(requests) >= 25
    problems = []
    for method, url, body in requests:
        split = urllib.parse.urlsplit(url)
        path = urllib.parse.unquote(split.path.removeprefix("/api2/json"))
        hit = pve_schema.match_template(schema, path, method)
        if hit is None:
            problems.append(f"{method} {path}: no such path/method in the schema")
            continue
        template, path_params = hit
        info = pve_schema.endpoints(schema)[template][method]
        properties = info.get("parameters", {}).get("properties", {})
        body_params = urllib.parse.parse_qsl(body if isinstance(body, str) else (body or b"").decode())
        params = list(path_params.items()) + urllib.parse.parse_qsl(split.query) + body_params
        for name, value in params:
            if name not in properties:
                problems.append(f"{method} {template}: parameter {name!r} is not in the schema")
            elif not _value_fits(value, properties[name]):
                problems.append(f"{method} {template}: {name}={value!r} does not fit {properties[name].get('type')}")
        for name, spec in properties.items():
            if not spec.get("optional") and name not in dict(params):
                problems.append(f"{method} {template}: required parameter {name!r} is missing")
        if info.get("allowtoken") == 0:
            problems.append(f"{method} {template}: Proxmox does not allow API tokens here")
    assert problems == []


def test_the_api_explorer_list_is_generated_from_the_schema(schema):
    committed = json.loads(validation.GET_API_FILE.read_text())
    assert committed == pve_schema.get_api(schema), (
        "servers/proxmox/pve_get_api.json is stale: regenerate it with `python -m tests.pve_schema`"
    )


# ----------------------------------------------------------------------------------------- simulator answers

_PYTHON_TYPES = {"integer": (int,), "number": (int, float), "string": (str,), "object": (dict,), "array": (list,)}


def _fits(value, spec: dict) -> bool:
    kind = spec.get("type")
    if value is None or kind is None:
        return True
    if kind == "boolean":  # Proxmox sends booleans as 0/1
        return value in (0, 1)
    if isinstance(value, bool) or not isinstance(value, _PYTHON_TYPES.get(kind, (object,))):
        return False
    return "enum" not in spec or value in spec["enum"]


def answer_problems(label: str, value, returns: dict) -> list[str]:
    """Fields of an answer that the schema's `returns` does not have, has with another type, or requires."""
    if returns.get("type") == "array" and "items" in returns:
        if not isinstance(value, list):
            return [f"{label}: expected a list"]
        return [
            p for index, item in enumerate(value) for p in answer_problems(f"{label}[{index}]", item, returns["items"])
        ]
    properties = returns.get("properties")
    if properties is None:
        return [] if _fits(value, returns) else [f"{label}: {value!r} is not a {returns.get('type')}"]
    if not isinstance(value, dict):
        return [f"{label}: expected an object"]
    problems = [f"{label}: field {name!r} is not in the schema" for name in value if name not in properties]
    problems += [
        f"{label}: {name}={value[name]!r} is not a {properties[name].get('type')}"
        for name in value
        if name in properties and not _fits(value[name], properties[name])
    ]
    problems += [
        f"{label}: required field {name!r} is missing"
        for name, spec in properties.items()
        if not spec.get("optional") and name not in value
    ]
    return problems


def test_every_answer_of_the_simulator_fits_the_schema(schema, pve):
    with ProxmoxClient(pve_connection(pve)) as client:
        guests = client.guests()
    qemu, lxc = next(
        (q, c) for q in guests for c in guests if q["type"] == "qemu" and c["type"] == "lxc" and q["node"] == c["node"]
    )
    node = qemu["node"]
    sent = []
    real_send = requests.Session.send

    def spy(session, request, **kwargs):
        sent.append(request)
        return real_send(session, request, **kwargs)

    problems = []
    upid = None  # the task of the last power action, for the task status call that comes last
    with mock.patch.object(requests.Session, "send", spy), ProxmoxClient(pve_connection(pve)) as client:
        for label, call in [*every_call(node, qemu["vmid"], lxc["vmid"]), ("task status", None)]:
            kind, _, action = label.partition(" ")
            if action in proxmox.POWER_ACTIONS:  # put the guest where the action is allowed
                vmid = qemu["vmid"] if kind == "qemu" else lxc["vmid"]
                pve.set_guest_status(vmid, "stopped" if action == "start" else "running")
            if call is None:
                value = client.task_status(node, upid)
            else:
                value = call(client)
            upid = value if label.startswith(("qemu ", "lxc ")) and isinstance(value, str) else None
            request = sent[-1]
            path = urllib.parse.unquote(urllib.parse.urlsplit(request.url).path.removeprefix("/api2/json"))
            template, _ = pve_schema.match_template(schema, path, request.method)
            returns = pve_schema.endpoints(schema)[template][request.method].get("returns", {})
            problems += answer_problems(label, value, returns)
    assert problems == []


def pve_connection(pve) -> Connection:
    return Connection(**pve.connection_settings())
