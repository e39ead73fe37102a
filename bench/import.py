"""CSV import benchmark: a dry run with connection tests of a 200-row file against simulated Proxmox servers.

The rows are a mix: healthy servers, slow ones (every answer delayed), servers that accept the connection and never
answer (each row's timeout ends its test) and unreachable ones (connection refused). The tests run concurrently, so
the whole dry run should take about as long as the slowest single test (target: within 2x), not the sum of them.
Then the same file without connection tests, for rows checked per second.

    .venv/bin/python bench/import.py [--rows 200] [--slow 0.5] [--timeout 2]
"""

import argparse
import logging
import multiprocessing
import os
import socket
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
os.environ["DATABASE_URL"] = "sqlite://:memory:"  # its own throwaway database, whatever the environment says

import django

django.setup()

from django.core.management import call_command  # noqa: E402

from servers import services  # noqa: E402
from servers.pvesim import Simulator  # noqa: E402
from tenants.models import Tenant  # noqa: E402

HEADER = "name,host,port,token_id,token_secret,fingerprint,connection_timeout"
# Out of every 8 rows: 4 healthy, 2 slow, 1 hanging, 1 unreachable.
MIX = ["healthy", "slow", "healthy", "hanging", "healthy", "slow", "healthy", "unreachable"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def csv_content(rows: int, servers: dict, refused_port: int, timeout: float) -> tuple[bytes, list[str]]:
    lines, kinds = [HEADER], []
    for index in range(rows):
        kind = MIX[index % len(MIX)]
        settings = servers["healthy" if kind == "unreachable" else kind]
        port = refused_port if kind == "unreachable" else settings["port"]
        lines.append(
            f"{kind}-{index},{settings['host']},{port},{settings['token_id']},{settings['token_secret']},"
            f"{settings['fingerprint']},{timeout:g}"
        )
        kinds.append(kind)
    return ("\r\n".join(lines) + "\r\n").encode(), kinds


def simulators(pipe, slow: float) -> None:
    """In a process of its own (so its TLS and HTTP work does not share the interpreter with the tests): a healthy,
    a slow and a hanging simulated server, until the pipe says stop."""
    with Simulator(servers=3) as simulator:
        healthy, slow_server, hanging = simulator.servers
        slow_server.faults.latency = slow
        hanging.faults.hang = True
        servers = {"healthy": healthy, "slow": slow_server, "hanging": hanging}
        pipe.send({kind: server.connection_settings() for kind, server in servers.items()})
        pipe.recv()
        hanging.reset()  # release the hung requests before stopping


def dry_run(tenant, content: bytes, probe: bool):
    started = time.monotonic()
    report = services.servers_import(tenant=tenant, actor=None, content=content, dry_run=True, probe=probe)
    return report, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--slow", type=float, default=0.5, help="seconds every answer of a slow server takes")
    parser.add_argument("--timeout", type=int, default=2, help="each row's connection timeout, seconds")
    args = parser.parse_args()

    logging.getLogger("servers.proxmox").setLevel(logging.WARNING)  # a line per failing call otherwise
    call_command("migrate", interactive=False, verbosity=0)
    tenant = Tenant.objects.create(name="Bench", slug="bench", max_servers=500)
    ours, theirs = multiprocessing.Pipe()
    child = multiprocessing.get_context("fork").Process(target=simulators, args=(theirs, args.slow), daemon=True)
    child.start()
    try:
        servers = ours.recv()  # the connection settings of each kind of server
        content, kinds = csv_content(args.rows, servers, free_port(), args.timeout)

        # Each kind alone, one after another: the slowest of them is what the whole dry run should take.
        lines = content.splitlines()
        alone = {}
        for kind in dict.fromkeys(kinds):
            single = b"\r\n".join([lines[0], lines[1 + kinds.index(kind)]]) + b"\r\n"
            _, alone[kind] = dry_run(tenant, single, probe=True)

        report, wall = dry_run(tenant, content, probe=True)
    finally:
        ours.send("stop")
        child.join(10)

    outcomes = Counter((kind, row.probe["outcome"]) for kind, row in zip(kinds, report.rows, strict=True))
    slowest = max(alone.values())
    sequential = sum(alone[kind] for kind in kinds)
    print(
        f"rows: {args.rows} ({', '.join(f'{n} {k}' for k, n in Counter(kinds).items())}), "
        f"slow answers {args.slow:g} s, timeout {args.timeout} s, up to {services.IMPORT_PROBE_WORKERS} tests at once"
    )
    print("a single row's dry run with its test: " + ", ".join(f"{k} {t:.3f} s" for k, t in alone.items()))
    print(f"dry run with tests of all {args.rows} rows: {wall:.3f} s")
    print(f"slowest single test: {slowest:.3f} s -> ratio {wall / slowest:.2f}x (target: within 2x)")
    print(f"the same tests one after another would take about {sequential:.1f} s ({sequential / wall:.0f}x longer)")
    print("outcomes: " + ", ".join(f"{kind} {outcome}={n}" for (kind, outcome), n in sorted(outcomes.items())))

    runs = 5
    checked = 0.0
    for _ in range(runs):
        report, seconds = dry_run(tenant, content, probe=False)
        checked += seconds
    print(f"dry run without tests: {args.rows * runs / checked:.0f} rows per second ({checked / runs:.3f} s a file)")


if __name__ == "__main__":
    main()
