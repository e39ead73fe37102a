from django.db import transaction

from nexus import crypto

from .models import ProxmoxServer


def servers_reencrypt_tokens() -> int:
    """Re-encrypt every stored token secret with the newest key; returns how many rows changed."""
    count = 0
    with transaction.atomic():
        for server in ProxmoxServer.objects.select_for_update().only("pk", "token_secret_encrypted"):
            server.token_secret_encrypted = crypto.reencrypt(server.token_secret_encrypted)
            server.save(update_fields=["token_secret_encrypted"])
            count += 1
    return count
