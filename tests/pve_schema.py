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


# What the API explorer checks a parameter against (servers.proxmox.validation); the rest of a spec is for humans.
_PARAMETER_KEYS = ("type", "optional", "enum", "minimum", "maximum", "minLength", "maxLength", "pattern", "format")


def get_api(schema: list) -> list[dict]:
    """Every GET endpoint in schema order, with its description and parameters: the content of
    servers/proxmox/pve_get_api.json (regenerate it with `python -m tests.pve_schema`)."""
    api = []
    for node in walk(schema):
        info = node.get("info", {}).get("GET")
        if info is None:
            continue
        parameters = {}
        for name, spec in sorted(info.get("parameters", {}).get("properties", {}).items()):
            kept = {key: spec[key] for key in _PARAMETER_KEYS if key in spec and not isinstance(spec[key], dict)}
            kept["optional"] = bool(kept.get("optional"))
            if spec.get("description"):
                kept["description"] = spec["description"]
            parameters[name] = kept
        api.append({"path": node["path"], "description": info.get("description", ""), "parameters": parameters})
    return api


def write_get_api(schema: list, target: Path) -> None:
    target.write_text(json.dumps(get_api(schema), indent=1, sort_keys=True) + "\n")


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


if __name__ == "__main__":
    from servers.proxmox.validation import GET_API_FILE

    write_get_api(load_schema(), GET_API_FILE)
    print(f"wrote {GET_API_FILE}")
