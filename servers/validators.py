import ipaddress
import re

from django.conf import settings
from django.core.exceptions import ValidationError

from . import proxmox

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def denied_networks() -> tuple:
    """The address ranges servers may not be at: the operator's (SERVER_DENIED_NETWORKS); the link-local and cloud
    metadata ranges are always added by servers.proxmox."""
    return proxmox.parse_networks(settings.SERVER_DENIED_NETWORKS)


def validate_host(value: str) -> None:
    """A DNS name or an IP address, nothing that could smuggle a scheme, path, port or credentials into a URL, and
    no address in a denied range."""
    if "://" in value:
        raise ValidationError("Give the host name or address alone, without a scheme such as https://.")
    if "@" in value:
        raise ValidationError("Give the host name or address alone, without a user name (user@).")
    if "/" in value:
        raise ValidationError("Give the host name or address alone, without a path.")
    if "%" in value:
        raise ValidationError("IPv6 zone ids (%eth0) cannot be used: give a routable address or a host name.")
    candidate = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        address = None
    if address is not None:
        network = proxmox.denied_network(str(address), denied_networks())
        if network is not None:
            raise ValidationError(f"{value} is in {network}, where servers may not be added.")
        return
    if re.fullmatch(r"[^:]+:\d+", value):
        raise ValidationError("Give the port in the port field, not after the host.")
    labels = value.rstrip(".").split(".")
    if len(value) > 253 or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValidationError(f"“{value}” is not a valid host name or IP address.")


def validate_token_id(value: str) -> None:
    if not proxmox.TOKEN_ID_PATTERN.fullmatch(value):
        raise ValidationError("A Proxmox API token id looks like USER@REALM!TOKENID, e.g. nexus@pve!broker.")


def validate_token_secret(value: str) -> None:
    """Never echoes the value: it is a secret."""
    problem = proxmox.token_secret_problem(value)
    if problem:
        raise ValidationError(problem)


def validate_fingerprint(value: str) -> None:
    try:
        proxmox.normalise_fingerprint(value)
    except proxmox.ConfigurationError as error:
        raise ValidationError(error.message) from None


def validate_ca_pem(value: str) -> None:
    try:
        proxmox.check_ca_pem(value)
    except proxmox.ConfigurationError as error:
        raise ValidationError(error.message) from None
