import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from nexus import crypto
from servers.models import ProxmoxServer
from tests.conftest import make_server

SECRET = "11111111-2222-3333-4444-555555555555"


def test_a_secret_survives_the_round_trip():
    ciphertext = crypto.encrypt(SECRET)
    assert SECRET not in ciphertext
    assert crypto.decrypt(ciphertext) == SECRET


def test_the_same_secret_encrypts_differently_each_time():
    assert crypto.encrypt(SECRET) != crypto.encrypt(SECRET)


def test_a_foreign_key_cannot_decrypt(settings):
    ciphertext = crypto.encrypt(SECRET)
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(ciphertext)


def test_the_token_secret_is_never_stored_in_plaintext(server_a):
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM servers_proxmoxserver")
        rows = cursor.fetchall()
    assert SECRET not in repr(rows)
    assert ProxmoxServer.objects.get(pk=server_a.pk).token_secret == SECRET


def test_the_token_secret_is_not_in_the_server_repr_or_connection_repr(server_a):
    assert SECRET not in repr(server_a)
    assert SECRET not in repr(server_a.connection())


def test_rotation_reencrypts_every_row_with_the_new_key(settings, tenant_a):
    old_key = settings.ENCRYPTION_KEYS[0]
    servers = [make_server(tenant_a, f"pve{i}") for i in range(3)]
    before = {s.pk: s.token_secret_encrypted for s in servers}

    new_key = Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_encryption_key")

    settings.ENCRYPTION_KEYS = [new_key]  # the old key can go now
    for server in ProxmoxServer.objects.all():
        assert server.token_secret_encrypted != before[server.pk]
        assert server.token_secret == SECRET


def test_rotation_without_the_old_key_changes_nothing(settings, server_a):
    before = ProxmoxServer.objects.get().token_secret_encrypted
    settings.ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="nothing was changed"):
        call_command("rotate_encryption_key")
    assert ProxmoxServer.objects.get().token_secret_encrypted == before


def test_the_auditlog_never_records_the_encrypted_secret(server_a):
    from auditlog.models import LogEntry

    server_a.token_secret = "rotated-secret"
    server_a.save()
    for entry in LogEntry.objects.all():
        assert "token_secret" not in str(entry.changes)


def test_a_database_dump_holds_no_plaintext_token(server_a):
    from io import StringIO

    server_a.token_secret = "rotated-secret"
    server_a.save()
    dump = StringIO()
    call_command("dumpdata", stdout=dump)
    assert SECRET not in dump.getvalue()
    assert "rotated-secret" not in dump.getvalue()
