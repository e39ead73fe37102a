"""A software WebAuthn authenticator for the passkey tests: the `fido2` package builds what a browser and a
security key would answer (attestation on registration, an assertion on login); the key is a P-256 key of
`cryptography`."""

import hashlib
import os
from base64 import urlsafe_b64decode, urlsafe_b64encode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.webauthn import (
    Aaguid,
    AttestationObject,
    AttestedCredentialData,
    AuthenticatorData,
    CollectedClientData,
)


def b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftwareAuthenticator:
    def __init__(self, origin: str = "http://testserver", rp_id: str = "testserver"):
        self.origin = origin
        self.rp_id = rp_id
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(32)
        self.user_handle = b""
        self.counter = 0

    def _flags(self, *extra):
        flags = AuthenticatorData.FLAG.UP | AuthenticatorData.FLAG.UV
        for flag in extra:
            flags |= flag
        return flags

    def register(self, options: dict) -> dict:
        """The browser's answer to navigator.credentials.create(options)."""
        self.user_handle = unb64(options["user"]["id"])
        public_key = ES256.from_cryptography_key(self.key.public_key())
        credential = AttestedCredentialData.create(Aaguid.NONE, self.credential_id, public_key)
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        data = AuthenticatorData.create(rp_hash, self._flags(AuthenticatorData.FLAG.AT), self.counter, credential)
        attestation = AttestationObject.create("none", data, {})
        client = CollectedClientData.create("webauthn.create", unb64(options["challenge"]), self.origin)
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(bytes(client)),
                "attestationObject": b64(bytes(attestation)),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def sign_in(self, options: dict) -> dict:
        """The browser's answer to navigator.credentials.get(options)."""
        self.counter += 1
        rp_hash = hashlib.sha256(self.rp_id.encode()).digest()
        data = AuthenticatorData.create(rp_hash, self._flags(), self.counter)
        client = CollectedClientData.create("webauthn.get", unb64(options["challenge"]), self.origin)
        signature = self.key.sign(bytes(data) + client.hash, ec.ECDSA(hashes.SHA256()))
        return {
            "id": b64(self.credential_id),
            "rawId": b64(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(bytes(client)),
                "authenticatorData": b64(bytes(data)),
                "signature": b64(signature),
                "userHandle": b64(self.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
