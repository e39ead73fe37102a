"""`manage.py pvesim` is for people and other Proxmox clients: what it prints must be enough to use it."""

import re
import subprocess
import sys
import threading
from pathlib import Path

from servers.proxmox import Connection, ProxmoxClient

ROOT = Path(__file__).resolve().parents[2]


def test_the_printed_url_fingerprint_and_token_work_with_a_proxmox_client(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "manage.py", "pvesim", "--servers", "2", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={"DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1"},
    )
    killer = threading.Timer(60, process.kill)  # a command that never prints its banner must not hang the suite
    killer.start()
    try:
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl+C"):
                break
        printed = "".join(lines)
        servers = re.findall(
            r"https://([\d.]+):(\d+)/api2/json\n  fingerprint:\s+(\S+)\n  token id:\s+(\S+)\n  token secret:\s+(\S+)",
            printed,
        )
        assert len(servers) == 2, printed
        for host, port, fingerprint, token_id, secret in servers:
            connection = Connection(
                host=host,
                port=int(port),
                token_id=token_id,
                token_secret=secret,
                tls_mode="fingerprint",
                fingerprint=fingerprint,
            )
            with ProxmoxClient(connection) as client:
                assert client.version()["release"]
    finally:
        killer.cancel()
        process.terminate()
        process.wait(timeout=10)
