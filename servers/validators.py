import ipaddress
import re

from django.core.exceptions import ValidationError

from . import proxmox

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def validate_host(value: str) -> None:
    """A DNS name or an IP address, nothing that could smuggle a path, port or credentials into a URL."""
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        ipaddress.ip_address(candidate)
        return
    except ValueError:
        pass
    labels = value.rstrip(".").split(".")
    if len(value) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValidationError(f"“{value}” is not a valid host name or IP address.")


def validate_token_id(value: str) -> None:
    if not proxmox.TOKEN_ID_PATTERN.fullmatch(value):
        raise ValidationError("A Proxmox API token id looks like USER@REALM!TOKENID, e.g. nexus@pve!broker.")


def validate_fingerprint(value: str) -> None:
    try:
        proxmox.normalise_fingerprint(value)
    except proxmox.ConfigurationError as error:
        raise ValidationError(error.message) from None
