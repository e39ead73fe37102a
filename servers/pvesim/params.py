"""Parameter checking with PVE's JSON-schema wording (PVE::JSONSchema).

Each endpoint describes its parameters as a dict: name -> spec, where a spec has
`type` ("integer", "boolean", "string"), optional `optional`, `minimum`, `maximum`,
`enum`, `maxLength`, `format`. Unknown parameters are refused, as PVE refuses them.
"""

import re

NODE = {"type": "string", "format": "pve-node"}
VMID = {"type": "integer", "minimum": 100, "maximum": 999999999}

_NODE_NAME = re.compile(r"^[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ParameterError(Exception):
    def __init__(self, errors: dict[str, str]):
        super().__init__("Parameter verification failed.")
        self.errors = errors


def _check(spec: dict, raw) -> tuple[object, str | None]:
    value = raw if isinstance(raw, str) else str(raw)
    kind = spec["type"]
    if kind == "integer":
        if isinstance(raw, bool) or not re.fullmatch(r"[+-]?\d+", value.strip()):
            return None, f"type check ('integer') failed - got '{value}'"
        number = int(value)
        if "minimum" in spec and number < spec["minimum"]:
            return None, f"value must have a minimum value of {spec['minimum']}"
        if "maximum" in spec and number > spec["maximum"]:
            return None, f"value must have a maximum value of {spec['maximum']}"
        return number, None
    if kind == "boolean":
        lowered = value.lower()
        if raw is True or lowered in _TRUE:
            return True, None
        if raw is False or lowered in _FALSE:
            return False, None
        return None, f"type check ('boolean') failed - got '{value}'"
    if "enum" in spec and value not in spec["enum"]:
        return None, f"value '{value}' does not have a value in the enumeration '{', '.join(spec['enum'])}'"
    if "maxLength" in spec and len(value) > spec["maxLength"]:
        return None, f"value may only be {spec['maxLength']} characters long"
    if spec.get("format") == "pve-node" and not _NODE_NAME.match(value):
        return None, "value does not look like a valid node name"
    return value, None


def validate(specs: dict[str, dict], given: dict) -> dict:
    """The checked, typed parameters, or ParameterError with one message per bad parameter."""
    errors: dict[str, str] = {}
    checked: dict = {}
    for name, raw in given.items():
        spec = specs.get(name)
        if spec is None:
            errors[name] = "property is not defined in schema and the schema does not allow additional properties"
            continue
        value, error = _check(spec, raw)
        if error:
            errors[name] = error
        else:
            checked[name] = value
    for name, spec in specs.items():
        if name not in given and not spec.get("optional"):
            errors[name] = "property is missing and it is not optional"
    if errors:
        raise ParameterError(errors)
    return checked
