"""Guest list benchmark: GET /api/v1/guests/ for a tenant with 50 simulated Proxmox servers, one of them hanging and
one slow, through the whole Django stack (SQLite in memory, the local-memory cache).

Cold (nothing cached): every server is asked at once, each within its own timeout, so the answer should come about
when the slowest healthy server's does (target: within 1.5x of that server's own time), and never later than the
hanging server's timeout (plus the fan-out's grace). Warm (within GUESTS_CACHE_SECONDS): from the cache, no Proxmox
call. The database queries of one request are counted for a tenant of 5 servers and one of 50 (target: ratio 1).

    .venv/bin/python bench/guests.py [--servers 50] [--slow 1.0] [--hang-timeout 1] [--timeout 5] [--warm 200]
"""

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DATABASE_URL"] = "sqlite://:memory:"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")
os.environ.setdefault("LOG_LEVEL", "ERROR")

import django

django.setup()

from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from servers import proxmox  # noqa: E402
from servers.models import ProxmoxServer  # noqa: E402
from servers.proxmox.fanout import FAN_OUT_GRACE  # noqa: E402
from servers.pvesim import Simulator  # noqa: E402
from tenants.models import Membership, Tenant  # noqa: E402
from tenants.roles import Role  # noqa: E402

URL = reverse("api:guests")


def add_servers(tenant: Tenant, simulated, timeout: float) -> list[ProxmoxServer]:
    servers = []
    for index, sim in enumerate(simulated):
        settings = sim.connection_settings()
        secret = settings.pop("token_secret")
        server = ProxmoxServer(tenant=tenant, name=f"{tenant.slug}-{index + 1}", connection_timeout=timeout, **settings)
        server.token_secret = secret
        server.save()
        servers.append(server)
    return servers


def timed_get(client: Client, query: dict) -> tuple[float, dict]:
    started = time.monotonic()
    response = client.get(URL, query)
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.content[:300]
    return elapsed, response.json()


def queries(client: Client, query: dict) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL, query).status_code == 200
    return len(captured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--slow", type=float, default=1.0, help="seconds the slow server adds to each answer")
    parser.add_argument("--hang-timeout", type=float, default=1.0, help="the hanging server's timeout")
    parser.add_argument("--timeout", type=float, default=5.0, help="every other server's timeout")
    parser.add_argument("--warm", type=int, default=200, help="warm requests to time")
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    with Simulator({"cluster": {"task_delay": 0}}, servers=args.servers) as simulator:
        sims = simulator.servers
        slow_sim, hanging_sim = sims[-2], sims[-1]
        slow_sim.faults.latency = args.slow
        hanging_sim.faults.hang = True
        try:
            big = Tenant.objects.create(name="Fifty", slug="fifty")
            small = Tenant.objects.create(name="Five", slug="five")
            servers = add_servers(big, sims, args.timeout)
            hanging = servers[-1]
            hanging.connection_timeout = args.hang_timeout
            hanging.save()
            add_servers(small, sims[:5], args.timeout)
            user = django.contrib.auth.get_user_model().objects.create_user("bench")
            for tenant in (big, small):
                Membership.objects.create(user=user, tenant=tenant, role=Role.MANAGER)
            client = Client(HTTP_HOST="localhost")
            client.force_login(user)

            # The slowest healthy server alone, as the client sees it.
            started = time.monotonic()
            with proxmox.ProxmoxClient(servers[-2].connection()) as alone:
                alone.guests()
            slowest = time.monotonic() - started

            cache.clear()
            cold, body = timed_get(client, {"tenant": "fifty"})
            failed = [failure["server"]["name"] for failure in body["errors"]]

            started = time.monotonic()
            for _ in range(args.warm):
                timed_get(client, {"tenant": "fifty"})
            warm = time.monotonic() - started

            few, many = queries(client, {"tenant": "five"}), queries(client, {"tenant": "fifty"})
        finally:
            hanging_sim.reset()  # release the hung request before stopping

    print(
        f"servers: {args.servers} (one answers {args.slow:g} s late, one hangs with a {args.hang_timeout:g} s "
        f"timeout; the others' timeout {args.timeout:g} s)"
    )
    print(f"guests listed: {body['count']}, servers failed: {', '.join(failed) or 'none'}")
    print(f"slowest healthy server alone: {slowest:.3f} s")
    ratio = cold / slowest
    print(
        f"cold list (every server asked at once): {cold:.3f} s = {ratio:.2f}x the slowest healthy server "
        f"(target 1.5x: {'met' if ratio <= 1.5 else 'MISSED'})"
    )
    print(
        f"  the hanging server's timeout: {args.hang_timeout:g} s (+{FAN_OUT_GRACE:g} s fan-out grace, counted from "
        "its turn among 16 workers); the list did not wait for the others' timeouts"
    )
    print(f"warm lists (from the cache): {args.warm / warm:.0f} requests/s ({warm / args.warm * 1000:.1f} ms each)")
    print(f"database queries per request: {few} for 5 servers, {many} for {args.servers} (ratio {many / few:g})")


if __name__ == "__main__":
    main()
