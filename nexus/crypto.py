"""Encryption at rest for Proxmox token secrets (Fernet: AES-128-CBC + HMAC-SHA256).

ENCRYPTION_KEYS lists keys newest first: the first encrypts, every one decrypts,
so a key is rotated by putting a new one in front and re-encrypting
(`manage.py rotate_encryption_key`) before the old one is dropped.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver


class DecryptionError(Exception):
    """Stored ciphertext that none of the configured keys opens."""


@cache
def _cipher() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key) for key in settings.ENCRYPTION_KEYS])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "ENCRYPTION_KEYS must be comma-separated Fernet keys (32 url-safe base64-encoded bytes each)"
        ) from exc


@receiver(setting_changed)
def _forget_keys(*, setting, **kwargs):
    if setting == "ENCRYPTION_KEYS":
        _cipher.cache_clear()


def encrypt(plaintext: str) -> str:
    return _cipher().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str, *, ttl: int | None = None) -> str:
    """The plaintext; with `ttl`, only of ciphertext made at most that many seconds ago."""
    try:
        return _cipher().decrypt(ciphertext.encode(), ttl=ttl).decode()
    except InvalidToken as exc:
        raise DecryptionError("no configured encryption key opens this secret") from exc


def reencrypt(ciphertext: str) -> str:
    """The same secret encrypted with the newest key."""
    try:
        return _cipher().rotate(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("no configured encryption key opens this secret") from exc
