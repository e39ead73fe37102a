from django.core.management.base import BaseCommand, CommandError

from nexus.crypto import DecryptionError
from servers.services import servers_reencrypt_tokens


class Command(BaseCommand):
    help = (
        "Re-encrypt every Proxmox token secret with the first key of ENCRYPTION_KEYS. "
        "Rotate by putting a new key first, running this, then removing the old key."
    )

    def handle(self, *args, **options):
        try:
            count = servers_reencrypt_tokens()
        except DecryptionError as exc:
            raise CommandError(f"{exc}; nothing was changed. Is the old key still in ENCRYPTION_KEYS?") from exc
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} token secret(s) with the newest key."))
