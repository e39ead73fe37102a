"""What may be sent to Proxmox: guest, node and task arguments, and the API explorer's GET allow-list.

Checked before anything leaves, so a caller's typo or a hostile value never becomes a request.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
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
# Every GET path template of Proxmox's published API schema (regenerated from it by the contract tests).
GET_PATHS_FILE = Path(__file__).with_name("pve_get_paths.txt")


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


@functools.cache
def _get_path_patterns() -> tuple[re.Pattern[str], ...]:
    templates = GET_PATHS_FILE.read_text().split()
    return tuple(re.compile(re.sub(r"\\\{[^}]*\\\}", _SEGMENT, re.escape(t))) for t in templates)


def is_allowed_get_path(path: str) -> bool:
    """True when `path` is a concrete instance of a GET path in Proxmox's API schema, with safe segments only."""
    if not path.startswith("/") or (path.endswith("/") and path != "/"):
        return False
    if any(segment in (".", "..") for segment in path.split("/")[1:]):
        return False
    return any(pattern.fullmatch(path) for pattern in _get_path_patterns())


def check_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Query parameters as strings, refused when a name or value could smuggle anything into the request."""
    checked: dict[str, str] = {}
    for name, value in (params or {}).items():
        if not isinstance(name, str) or not _PARAM_NAME.fullmatch(name):
            raise InvalidRequest(f"Invalid parameter name {clean_text(name, 80)!r}.")
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, (str, int, float)) or len(str(value)) > 1024 or re.search(r"[\x00-\x1f]", str(value)):
            raise InvalidRequest(f"Invalid value for parameter {name!r}.")
        checked[name] = str(value)
    return checked
