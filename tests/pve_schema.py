"""Proxmox's own API schema (apidata.json), for contract tests. Never read at runtime by the project.

It lives outside the repository, at <repo root>/../shared/pve/apidata.json; tests that need it skip when absent.
"""

import functools
import json
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_PATH = REPO_ROOT.parent / "shared" / "pve" / "apidata.json"
MISSING_MESSAGE = "../shared/pve/apidata.json not found: contract tests need the Proxmox API schema"


def require_schema() -> list:
    if not SCHEMA_PATH.is_file():
        pytest.skip(MISSING_MESSAGE)
    return load_schema()


@functools.cache
def load_schema() -> list:
    return json.loads(SCHEMA_PATH.read_text())


def walk(nodes: list):
    for node in nodes:
        yield node
        yield from walk(node.get("children", []))


def endpoints(schema: list) -> dict[str, dict]:
    """Path template -> {METHOD: method info}."""
    return {node["path"]: node.get("info", {}) for node in walk(schema)}


def get_path_templates(schema: list) -> list[str]:
    """Every path template with a GET method, in schema order: the content of servers/proxmox/pve_get_paths.txt."""
    return [node["path"] for node in walk(schema) if "GET" in node.get("info", {})]


def match_template(schema: list, path: str, method: str) -> tuple[str, dict[str, str]] | None:
    """The template a concrete path instantiates (with `method`), and the values of its {placeholders}."""
    literal_first = sorted(endpoints(schema).items(), key=lambda item: item[0].count("{"))
    for template, info in literal_first:
        if method not in info:
            continue
        names = re.findall(r"\{([^}]+)\}", template)
        pattern = re.sub(r"\\\{[^}]*\\\}", "([^/]+)", re.escape(template))
        hit = re.fullmatch(pattern, path)
        if hit:
            return template, dict(zip(names, hit.groups(), strict=False))
    return None
