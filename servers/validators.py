import ipaddress
import re

from django.core.exceptions import ValidationError

_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_TOKEN_ID = re.compile(r"^[^\s@!:=]+@[A-Za-z][A-Za-z0-9._-]*![A-Za-z][A-Za-z0-9._-]*$")
_FINGERPRINT = re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")


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
    if not _TOKEN_ID.match(value):
        raise ValidationError("A Proxmox API token id looks like USER@REALM!TOKENID, e.g. nexus@pve!broker.")


def normalise_fingerprint(value: str) -> str:
    """Accept AA:BB:.., aa:bb:.. or plain hex; return Proxmox's AA:BB:.. form (unchanged if it is not hex)."""
    hexdigits = value.strip().replace(":", "").upper()
    if len(hexdigits) != 64 or not all(char in "0123456789ABCDEF" for char in hexdigits):
        return value.strip()
    return ":".join(hexdigits[i : i + 2] for i in range(0, 64, 2))


def validate_fingerprint(value: str) -> None:
    if not _FINGERPRINT.match(normalise_fingerprint(value)):
        raise ValidationError("A certificate fingerprint is 32 bytes of SHA-256 in hex, as AA:BB:CC:… .")
