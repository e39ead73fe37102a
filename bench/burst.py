"""A burst of consoles: N browsers open their consoles at the same moment on one web process (`python -m console.flow`).

The upstream is bench/relay_upstream.py in its own process: the pvesim API (vncproxy, ticket-checked vncwebsocket,
VNC Authentication) with its synthetic RFB after ServerInit. A reconnect storm after a restart or a network blip is
exactly such a burst.

Each console's one-time token is asked for first (as each page does before it connects); then all N WebSockets open
at once, and each console counts as connected at its first frame: the relay's RFB handshake done (ServerInit) and one
echoed message back through the relay. Reports how many connected, how many were refused and why (the close code and
reason the page would show), how many were dropped without a close, the time to the first frame (p50, p90, slowest)
and where the web process spent it (its own /metrics: the claim, vncproxy, the upstream WebSocket).

A production web process: it needs PostgreSQL and Redis, and empties the database it is given (use one of its own):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexus_bench REDIS_URL=redis://127.0.0.1:6379/9 \
        .venv/bin/python bench/burst.py [--consoles 300] [--server-arg=--websocket_connect_timeout=5]
"""

import argparse
import asyncio
import itertools
import json
import os
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from relay import (
    RUNNING_GUESTS,
    SMALL_MESSAGE,
    Fixture,
    Paths,
    Upstream,
    bench_teardown,
    configure_environment,
    create_objects,
    free_port,
    quantile,
    start_server,
    step,
)
from relay_proc import cpu_seconds, rss_bytes

TARGETS = {"dropped": 0, "slowest_first_frame_s": 5.0}
METRICS_TOKEN = "bench-metrics-token"
# The histograms of the web process that say where a console's opening time went.
PHASES = {
    "nexus_console_claim_seconds": "claim (database)",
    "nexus_console_upstream_open_seconds": "upstream open (vncproxy + vncwebsocket)",
    "nexus_console_admission_wait_seconds": "waiting for admission",
    "nexus_console_first_frame_seconds": "accept to first frame",
}


@dataclass
class Outcome:
    seconds: float | None = None  # to the first frame; None when it never came
    close: str = ""  # "code reason" of a refusal, or what went wrong


@dataclass
class BurstResult:
    consoles: int
    outcomes: list[Outcome] = field(default_factory=list)
    cpu_seconds: float = 0.0
    rss_before: int = 0
    rss_after: int = 0
    phases: dict[str, tuple[float, int]] = field(default_factory=dict)

    @property
    def connected(self) -> list[float]:
        return [outcome.seconds for outcome in self.outcomes if outcome.seconds is not None]

    @property
    def refused(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for outcome in self.outcomes:
            if outcome.seconds is None:
                counts[outcome.close] = counts.get(outcome.close, 0) + 1
        return counts

    @property
    def dropped(self) -> int:
        """Consoles that ended without a close code of ours: what the issue calls dropped silently."""
        return sum(count for close, count in self.refused.items() if not close[:1].isdigit())


async def open_one(paths: Paths, protocols: list[str], started: float) -> Outcome:
    from websockets.exceptions import ConnectionClosed, InvalidHandshake

    console = None
    try:
        console = await paths.relay(protocols)
        await console.command("echo")
        await console.ws.send(SMALL_MESSAGE)
        await console.read(len(SMALL_MESSAGE))
        return Outcome(seconds=time.perf_counter() - started)
    except ConnectionClosed as closed:
        frame = closed.rcvd
        return Outcome(close=f"{frame.code} {frame.reason}" if frame else "dropped: closed without a close frame")
    except (InvalidHandshake, OSError, TimeoutError) as error:
        return Outcome(close=f"dropped: {type(error).__name__}: {error}")
    finally:
        if console is not None:
            await console.ws.close()


def scrape_phases(port: int) -> dict[str, tuple[float, int]]:
    """Sum and count of each phase histogram, from the web process's /metrics."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for line in text.splitlines():
        for name in PHASES:
            if line.startswith(f"{name}_sum"):
                sums[name] = sums.get(name, 0.0) + float(line.rsplit(" ", 1)[1])
            elif line.startswith(f"{name}_count"):
                counts[name] = counts.get(name, 0) + int(float(line.rsplit(" ", 1)[1]))
    return {name: (sums.get(name, 0.0), counts.get(name, 0)) for name in PHASES}


async def burst(paths: Paths, count: int, pid: int) -> BurstResult:
    guests = itertools.cycle(RUNNING_GUESTS)
    tickets = await asyncio.to_thread(paths.tickets, [next(guests) for _ in range(count)])
    result = BurstResult(count, rss_before=rss_bytes(pid))
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    result.outcomes = await asyncio.gather(*(open_one(paths, protocols, started) for protocols in tickets))
    result.cpu_seconds = cpu_seconds(pid) - cpu_before
    result.rss_after = rss_bytes(pid)
    result.phases = await asyncio.to_thread(scrape_phases, paths.daphne_port)
    return result


def report(result: BurstResult) -> None:
    connected = result.connected
    print(f"\n{result.consoles} consoles opened at once on one web process")
    print(f"  connected            {len(connected)}")
    for close, number in sorted(result.refused.items()):
        print(f"  not connected        {number:4d}  {close}")
    dropped = result.dropped
    print(f"  dropped silently     {dropped}   (target {TARGETS['dropped']})")
    if connected:
        slowest = max(connected)
        ok = "ok" if slowest <= TARGETS["slowest_first_frame_s"] else "SLOWER than target"
        print(
            f"  first frame          p50 {quantile(connected, 0.5):.2f} s, p90 {quantile(connected, 0.9):.2f} s,"
            f" slowest {slowest:.2f} s   (target <= {TARGETS['slowest_first_frame_s']:.0f} s: {ok})"
        )
    per_console_ms = 1e3 * result.cpu_seconds / result.consoles
    print(f"  web process CPU      {result.cpu_seconds:.2f} s ({per_console_ms:.1f} ms a console)")
    print(f"  web process memory   +{(result.rss_after - result.rss_before) / 2**20:.1f} MiB while they were open")
    print("  where the time went (web process, mean a console):")
    for name, label in PHASES.items():
        total, number = result.phases.get(name, (0.0, 0))
        if number:
            print(f"    {label:42s} {1e3 * total / number:8.1f} ms  ({number} observed)")


def production_environment(prefix: str) -> tuple[Path, dict]:
    """A temporary directory and a production web process's settings on PostgreSQL and Redis (from the
    environment). No page is served, so an empty static manifest passes its start-up check without collecting the
    static files."""
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        raise SystemExit("Set DATABASE_URL (a database of its own: the bench empties it) and REDIS_URL.")
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    env = configure_environment(workdir, debug=False)
    env["METRICS_TOKEN"] = METRICS_TOKEN
    os.environ["METRICS_TOKEN"] = METRICS_TOKEN
    (workdir / "static" / "staticfiles.json").write_text(json.dumps({"paths": {}, "version": "1.1"}))
    return workdir, env


def empty_database_and_upstream(env: dict, workdir: Path) -> tuple[Upstream, Fixture]:
    """The bench's database created or emptied and migrated; the synthetic upstream, and the objects pointing at it."""
    import django
    from django.conf import settings
    from django.core.management import call_command

    django.setup()
    from nexus.cluster import create_database

    create_database(settings.DATABASES["default"])
    step("migrating")
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    upstream = Upstream(env, workdir / "upstream.log")
    return upstream, create_objects(upstream.info)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consoles", type=int, default=300)
    parser.add_argument(
        "--server-arg", action="append", default=[], help="more arguments for console.flow (repeat), to compare"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, database)")
    args = parser.parse_args()
    workdir, env = production_environment("bench-burst-")
    upstream = daphne = None
    try:
        upstream, fixture = empty_database_and_upstream(env, workdir)
        port = free_port()
        step("starting console.flow")
        command = [sys.executable, "-m", "console.flow", "-b", "127.0.0.1", "-p", str(port), *args.server_arg]
        daphne = start_server([*command, "nexus.asgi:application"], port, env, workdir / "daphne.log", "console.flow")
        paths = Paths(fixture, upstream, port, 0, 0)
        step(f"asking for {args.consoles} console tokens, then opening them all at once")
        result = asyncio.run(burst(paths, args.consoles, daphne.pid))
        report(result)
        print(f"\n(logs in {workdir if args.keep else 'a temp dir, removed (--keep keeps it)'})")
    finally:
        bench_teardown(workdir, args.keep, upstream, daphne)


if __name__ == "__main__":
    main()
