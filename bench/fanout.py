"""Fan-out benchmark: one guest listing across 50 simulated Proxmox clusters.

Each cluster answers in ~100 ms; one answers in ~1 s and one hangs. Every connection has a 3 s timeout, so the
whole fan-out should take about that long (the hanging one), not the sum of all answers.

    .venv/bin/python bench/fanout.py [--servers 50] [--workers 16] [--timeout 3]
"""

import argparse
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from servers import proxmox
from servers.pvesim import Simulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", type=int, default=50)
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=3.0)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--slow", type=float, default=1.0)
    args = parser.parse_args()

    with Simulator(servers=args.servers) as simulator:
        servers = simulator.servers
        for server in servers:
            server.faults.latency = args.latency
        servers[-2].faults.latency = args.slow
        servers[-1].faults.hang = True
        connections = {
            server.name: proxmox.Connection(**server.connection_settings(), timeout=args.timeout) for server in servers
        }
        answered_at: list[float] = []
        lock = threading.Lock()

        def call(client):
            guests = client.guests()
            with lock:
                answered_at.append(time.monotonic())
            return len(guests)

        started = time.monotonic()
        results = proxmox.fan_out(connections, call, max_workers=args.workers)
        wall = time.monotonic() - started
        servers[-1].reset()  # release the hung request before stopping

    total = sum(result.elapsed for result in results.values())
    outcomes = Counter("ok" if result.ok else type(result.error).__name__ for result in results.values())
    answers = sorted(at - started for at in answered_at)
    print(
        f"servers: {args.servers} (latency {args.latency:g} s, one slow {args.slow:g} s, one hanging), "
        f"workers: {args.workers}, timeout: {args.timeout:g} s"
    )
    print(f"wall time of the concurrent fan-out: {wall:.3f} s")
    print(f"sum of the servers' individual times: {total:.3f} s")
    print(f"ratio (sum / wall): {total / wall:.1f}x")
    if answers:
        print(f"first answer after: {answers[0]:.3f} s, last answer after: {answers[-1]:.3f} s")
    print("outcomes: " + ", ".join(f"{name}={count}" for name, count in sorted(outcomes.items())))


if __name__ == "__main__":
    main()
