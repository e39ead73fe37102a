"""What may be sent to Proxmox: guest, node and task arguments, and the API explorer's reads.

Checked before anything leaves, so a caller's typo or a hostile value never becomes a request.

The explorer reads only GET endpoints of Proxmox's published API schema (pve_get_api.json, generated from it with
`python -m tests.pve_schema`), with the parameters the schema gives them, and never the few GET endpoints that read
far more than metadata (REFUSED_GET_PATHS).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidRequest, clean_text

KINDS = ("qemu", "lxc")
POWER_ACTIONS = ("start", "stop", "shutdown", "reset", "reboot", "suspend", "resume")

_NODE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.\-]{0,62}[A-Za-z0-9])?")
# UPID:node:PID:PSTART:STARTTIME:type:id:user: (hex fields are at least 8 digits; id may be empty)
_UPID = re.compile(r"UPID:[A-Za-z0-9.\-]+(?::[0-9A-Fa-f]{8,}){3}:[A-Za-z0-9_\-]+:[^\s/?#%:]*:[^\s/?#%:]+:")
_SEGMENT = r"[A-Za-z0-9_.:@!=+,~\-]+"
_PARAM_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_PLACEHOLDER = re.compile(r"\{([^}]+)\}")
MAX_PARAM_LENGTH = 1024
# Every GET endpoint of Proxmox's published API schema: path template, description, parameters.
GET_API_FILE = Path(__file__).with_name("pve_get_api.json")

# GET endpoints that read far more than metadata: refused whoever asks (the project notes, "GET paths that read
# more than metadata"). Matched against the endpoint's template, so new endpoints under these prefixes are refused
# too when the schema grows.
REFUSED_GET_PATHS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), reason)
    for pattern, reason in (
        (r"/agent/file-read$", "it reads any file inside the guest through its agent"),
        (r"/agent/exec-status$", "it returns the output of commands run inside the guest"),
        (r"/file-restore/", "it reads files out of backups"),
        (r"/vzdump/extractconfig$", "it returns a backed-up guest's configuration"),
        (r"^/cluster/acme/plugins(/|$)", "ACME DNS plugins hold DNS providers' API credentials"),
        (r"^/access/tfa(/|$)", "it lists users' second factors"),
        (r"^/access/users/\{userid\}/tfa(/|$)", "it lists a user's second factors"),
        (r"^/access/users/\{userid\}/token(/|$)", "it lists a user's API tokens"),
    )
)
# A node's logs: readable, but they may name other tenants' guests on a shared host (for tenant admins only).
NODE_LOG_PATHS = ("/nodes/{node}/syslog", "/nodes/{node}/journal")


def check_node(node: str) -> None:
    if not isinstance(node, str) or not _NODE.fullmatch(node):
        raise InvalidRequest(f"Invalid node name {clean_text(node, 80)!r}.")


def check_guest(node: str, kind: str, vmid: int) -> None:
    check_node(node)
    if kind not in KINDS:
        raise InvalidRequest(f"Invalid guest type {clean_text(kind, 80)!r}: use 'qemu' or 'lxc'.")
    if isinstance(vmid, bool) or not isinstance(vmid, int) or not 100 <= vmid <= 999_999_999:
        raise InvalidRequest(f"Invalid VM id {clean_text(vmid, 80)!r}: an integer from 100 to 999999999.")


def check_upid(upid: str) -> None:
    if not isinstance(upid, str) or not _UPID.fullmatch(upid):
        raise InvalidRequest(f"Invalid task id {clean_text(upid, 120)!r}.")


@dataclass(frozen=True)
class Upid:
    """The fields of a task id: UPID:node:PID:PSTART:STARTTIME:type:id:user: (the hex fields as numbers)."""

    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str  # the guest's vmid for guest tasks; may be empty
    user: str

    @property
    def vmid(self) -> int | None:
        """The guest a task is about, when its id is a VM id."""
        return int(self.id) if self.id.isdigit() and 100 <= int(self.id) <= 999_999_999 else None


def parse_upid(upid: str) -> Upid:
    """The fields of a UPID; InvalidRequest when it is none."""
    check_upid(upid)
    _, node, pid, pstart, starttime, kind, ident, user, _ = upid.split(":")
    return Upid(node, int(pid, 16), int(pstart, 16), int(starttime, 16), kind, ident, user)


@dataclass(frozen=True)
class GetEndpoint:
    """One GET endpoint of Proxmox's API schema."""

    path: str  # the template, e.g. /nodes/{node}/qemu/{vmid}/status/current
    description: str
    parameters: Mapping[str, Mapping[str, Any]]  # name -> schema spec (type, optional, enum, minimum, ...)
    refused_because: str  # why the explorer never reads it; "" when it may

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(_PLACEHOLDER.findall(self.path))

    @property
    def query_parameters(self) -> dict[str, Mapping[str, Any]]:
        return {name: spec for name, spec in self.parameters.items() if name not in self.placeholders}

    @property
    def node_log(self) -> bool:
        return self.path in NODE_LOG_PATHS

    @functools.cached_property
    def _pattern(self) -> re.Pattern[str]:
        return re.compile(_PLACEHOLDER.sub(lambda m: f"(?P<{_group(m[1])}>{_SEGMENT})", _escape(self.path)))

    def match(self, path: str) -> dict[str, str] | None:
        """The values of the placeholders when `path` is an instance of this endpoint."""
        hit = self._pattern.fullmatch(path)
        if hit is None:
            return None
        return {name: hit.group(_group(name)) for name in self.placeholders}

    def fill(self, values: Mapping[str, str]) -> str:
        """The concrete path with `values` for the placeholders."""
        return _PLACEHOLDER.sub(lambda m: str(values.get(m[1], "")), self.path)


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


def _escape(template: str) -> str:
    # Escape everything but the placeholders, which are replaced by their groups afterwards.
    parts = _PLACEHOLDER.split(template)
    return "".join(re.escape(part) if index % 2 == 0 else f"{{{part}}}" for index, part in enumerate(parts))


def _refusal(template: str) -> str:
    return next((reason for pattern, reason in REFUSED_GET_PATHS if pattern.search(template)), "")


@functools.cache
def get_endpoints() -> tuple[GetEndpoint, ...]:
    """Every GET endpoint of the schema, in schema order."""
    return tuple(
        GetEndpoint(entry["path"], entry["description"], entry["parameters"], _refusal(entry["path"]))
        for entry in json.loads(GET_API_FILE.read_text())
    )


@functools.cache
def _literal_first() -> tuple[GetEndpoint, ...]:
    # /cluster/resources is itself, not an instance of some /cluster/{x}.
    return tuple(sorted(get_endpoints(), key=lambda endpoint: len(endpoint.placeholders)))


def find_get_endpoint(path: str) -> tuple[GetEndpoint, dict[str, str]] | None:
    """The schema's GET endpoint `path` is an instance of, with the placeholders' values; None when there is none
    (or the path has an unsafe segment). Where a path is an instance of several, a refused one wins."""
    if not isinstance(path, str) or not path.startswith("/") or (path.endswith("/") and path != "/"):
        return None
    if any(segment in (".", "..") for segment in path.split("/")[1:]):
        return None
    hits = [(endpoint, values) for endpoint in _literal_first() if (values := endpoint.match(path)) is not None]
    if not hits:
        return None
    return next((hit for hit in hits if hit[0].refused_because), hits[0])


def is_allowed_get_path(path: str) -> bool:
    """True when `path` is a concrete instance of a GET endpoint of Proxmox's API schema that the explorer may read
    (with safe segments only)."""
    found = find_get_endpoint(path)
    return found is not None and not found[0].refused_because


def check_get(path: str, params: Mapping[str, Any] | None = None) -> tuple[GetEndpoint, dict[str, str]]:
    """The endpoint a read of `path` with `params` reaches and the checked query parameters; InvalidRequest saying
    why when the explorer must not send it."""
    found = find_get_endpoint(path)
    if found is None:
        raise InvalidRequest(
            f"{clean_text(path, 120)!r} is not a readable Proxmox API path: it must match a GET path of the "
            "Proxmox VE API schema, e.g. /nodes/pve/qemu/100/status/current."
        )
    endpoint, values = found
    if endpoint.refused_because:
        raise InvalidRequest(f"{endpoint.path} is never read through the explorer: {endpoint.refused_because}.")
    for name, value in values.items():
        _check_value(endpoint, name, value, endpoint.parameters.get(name, {}))
    checked = check_params(params)
    allowed = endpoint.query_parameters
    for name, value in checked.items():
        if name not in allowed:
            takes = ", ".join(sorted(allowed)) or "none"
            raise InvalidRequest(f"{endpoint.path} has no parameter {name!r} (it takes: {takes}).")
        _check_value(endpoint, name, value, allowed[name])
    missing = sorted(name for name, spec in allowed.items() if not spec.get("optional") and name not in checked)
    if missing:
        plural = "s" if len(missing) > 1 else ""
        raise InvalidRequest(f"{endpoint.path} needs the parameter{plural} {', '.join(missing)}.")
    return endpoint, checked


def _check_value(endpoint: GetEndpoint, name: str, value: str, spec: Mapping[str, Any]) -> None:
    problem = value_problem(value, spec)
    if problem:
        raise InvalidRequest(f"{endpoint.path}: {name} {problem}.")


def value_problem(value: str, spec: Mapping[str, Any]) -> str:
    """What is wrong with `value` (as it travels: a string) for a parameter of the schema; "" when nothing."""
    kind = spec.get("type", "string")
    if "enum" in spec and value not in spec["enum"]:
        return f"must be one of {', '.join(map(str, spec['enum']))}"
    if kind == "integer":
        if not re.fullmatch(r"-?\d{1,18}", value):
            return "must be a whole number"
        low, high = spec.get("minimum"), spec.get("maximum")
        if (low is not None and int(value) < low) or (high is not None and int(value) > high):
            return f"must be from {low if low is not None else '-∞'} to {high if high is not None else '∞'}"
    elif kind == "number":
        if not re.fullmatch(r"-?\d{1,18}(\.\d{1,18})?", value):
            return "must be a number"
    elif kind == "boolean":
        if value not in ("0", "1"):
            return "must be 0 or 1"
    else:
        if len(value) > spec.get("maxLength", MAX_PARAM_LENGTH) or len(value) < spec.get("minLength", 0):
            return f"must be {spec.get('minLength', 0)} to {spec.get('maxLength', MAX_PARAM_LENGTH)} characters long"
        if spec.get("format") == "pve-node" and not _NODE.fullmatch(value):
            return "must be a node name"
        pattern = spec.get("pattern")
        if pattern and not _matches(pattern, value):
            return f"does not have the form Proxmox expects{f' ({fmt})' if (fmt := spec.get('format')) else ''}"
    return ""


def _matches(pattern: str, value: str) -> bool:
    # Proxmox anchors the schema's Perl patterns; Perl's "(?^flags:" group is Python's "(?flags:".
    python_pattern = re.sub(r"\(\?\^(\w*):", lambda m: f"(?{m[1]}:", pattern)
    try:  # one Python still cannot compile is left to Proxmox to check
        return re.fullmatch(python_pattern, value) is not None
    except re.error:
        return True


def check_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Query parameters as strings, refused when a name or value could smuggle anything into the request."""
    checked: dict[str, str] = {}
    for name, value in (params or {}).items():
        if not isinstance(name, str) or not _PARAM_NAME.fullmatch(name):
            raise InvalidRequest(f"Invalid parameter name {clean_text(name, 80)!r}.")
        if isinstance(value, bool):
            value = int(value)
        if (
            not isinstance(value, (str, int, float))
            or len(str(value)) > MAX_PARAM_LENGTH
            or re.search(r"[\x00-\x1f]", str(value))
        ):
            raise InvalidRequest(f"Invalid value for parameter {name!r}.")
        checked[name] = str(value)
    return checked
