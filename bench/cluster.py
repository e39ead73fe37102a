"""Consoles through the balancer: two web processes (the Procfile's command) behind HAProxy (nexus.cluster).

Opens N consoles through HAProxy, each with a small update stream as an idle desktop has (a 16-byte message echoed
by the upstream every `--interval` seconds: bench/relay_upstream.py's echo mode, in its own process), and reports:

- the balance: consoles each web process holds (their /metrics);
- CPU per console: both web processes' CPU time while the consoles run, per console;
- the round trip of a small message through HAProxy and the relay against a direct connection to the upstream
  (p50, p99), while all N run;
- a rolling restart's cost: web process 1 gets SIGTERM; its consoles are closed with 1012 and reconnect (a new
  token each, as the page does) through HAProxy to process 2; the time until all N are back.

A production web process: it needs PostgreSQL and Redis, and empties the database it is given (use one of its own):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/nexus_bench REDIS_URL=redis://127.0.0.1:6379/9 \\
        .venv/bin/python bench/cluster.py [--consoles 200] [--seconds 10]
"""

import argparse
import asyncio
import itertools
import os
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from burst import empty_database_and_upstream, production_environment
from relay import RUNNING_GUESTS, SMALL_MESSAGE, Console, Paths, bench_teardown, quantile, step
from relay_proc import cpu_seconds, rss_bytes
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from nexus.cluster import LocalCluster

RESTARTING = 1012  # console.relay.CloseReason.SERVICE_RESTARTING
RECONNECT_TRIES = 20
RETRY_DELAY = 0.5
BACK_WITHIN = 60.0

TARGETS = {"added_p50_ms": 2.0, "added_p99_ms": 20.0, "reconnect_s": 10.0}


class Stream:
    """One console with its update stream: a small message every `interval`, its echo timed. Told that its process
    restarts (1012), it asks for a new token and reconnects at once, as the console page does."""

    def __init__(self, paths: Paths, vmid: int, interval: float):
        self.paths = paths
        self.vmid = vmid
        self.interval = interval
        self.samples: list[float] = []
        self.measuring = False
        self.restarted = False
        self.back = asyncio.Event()
        self.task: asyncio.Task | None = None

    async def open(self, protocols: list[str]) -> None:
        console = await self.paths.relay(protocols)
        await console.command("echo")
        self.task = asyncio.create_task(self._run(console))

    async def _run(self, console: Console) -> None:
        try:
            while True:
                started = time.perf_counter()
                await console.ws.send(SMALL_MESSAGE)
                await console.read(len(SMALL_MESSAGE))
                if self.measuring:
                    self.samples.append(time.perf_counter() - started)
                await asyncio.sleep(self.interval)
        except ConnectionClosed as closed:
            if not closed.rcvd or closed.rcvd.code != RESTARTING:
                raise
        finally:
            await console.ws.close()
        self.restarted = True
        for _ in range(RECONNECT_TRIES):
            try:
                (protocols,) = await asyncio.to_thread(self.paths.tickets, [self.vmid])
                await self.open(protocols)
            except (OSError, InvalidHandshake, ConnectionClosed):
                await asyncio.sleep(RETRY_DELAY)  # as the page's back-off, shorter
                continue
            self.back.set()
            return

    async def close(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class RedisCommands:
    """Counts the commands Redis runs on the bench's database (its number in REDIS_URL), through MONITOR, so that
    others using the same Redis server do not count; `count` so far."""

    def __init__(self) -> None:
        import redis

        self._client = redis.Redis.from_url(os.environ["REDIS_URL"])
        self._db = self._client.connection_pool.connection_kwargs.get("db", 0)
        self.count = 0
        threading.Thread(target=self._follow, daemon=True).start()

    def _follow(self) -> None:
        with self._client.monitor() as monitor:
            for command in monitor.listen():
                if command["db"] == self._db and command["client_type"] != "lua":
                    self.count += 1


def consoles_per_process(urls: list[str]) -> list[int]:
    counts = []
    for url in urls:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
            lines = response.read().decode().splitlines()
        counts.append(sum(int(float(line.split()[-1])) for line in lines if line.startswith("nexus_consoles_open")))
    return counts


async def direct_round_trips(paths: Paths, seconds: float) -> list[float]:
    console = await paths.direct()
    samples = []
    try:
        await console.command("echo")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await console.ws.send(SMALL_MESSAGE)
            await console.read(len(SMALL_MESSAGE))
            samples.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
    finally:
        await console.ws.close()
    return samples


async def open_streams(paths: Paths, streams: list[Stream]) -> None:
    tickets = await asyncio.to_thread(paths.tickets, [stream.vmid for stream in streams])
    await asyncio.gather(*(stream.open(protocols) for stream, protocols in zip(streams, tickets, strict=True)))


async def run(args, paths: Paths, cluster: LocalCluster) -> dict:
    guests = itertools.cycle(RUNNING_GUESTS)
    streams = [Stream(paths, next(guests), args.interval) for _ in range(args.consoles)]
    pids = [process.pid for process in cluster.web]
    step(f"opening {args.consoles} consoles through HAProxy")
    redis_commands = RedisCommands()
    rss_before, commands_before = sum(map(rss_bytes, pids)), redis_commands.count
    started = time.perf_counter()
    await open_streams(paths, streams)
    result = {"open_s": time.perf_counter() - started}
    await asyncio.sleep(1.0)
    result["redis_per_open"] = (redis_commands.count - commands_before) / args.consoles
    result["balance"] = await asyncio.to_thread(consoles_per_process, cluster.web_urls)
    step(f"{args.seconds:.0f} s of update streams, then a direct connection's round trips")
    cpu_before, commands_before = sum(map(cpu_seconds, pids)), redis_commands.count
    for stream in streams:
        stream.measuring = True
    await asyncio.sleep(args.seconds)
    cpu = sum(map(cpu_seconds, pids)) - cpu_before
    result["redis_per_console_s"] = (redis_commands.count - commands_before) / args.seconds / args.consoles
    result["cpu_percent_per_console"] = 100 * cpu / args.seconds / args.consoles
    result["rss_kib_per_console"] = (sum(map(rss_bytes, pids)) - rss_before) / args.consoles / 1024
    result["rss_mib_per_process"] = sum(map(rss_bytes, pids)) / len(pids) / 2**20
    relayed = [sample for stream in streams for sample in stream.samples]
    result["relayed"] = (quantile(relayed, 0.5) * 1e3, quantile(relayed, 0.99) * 1e3)
    direct = await direct_round_trips(paths, min(args.seconds, 5.0))
    result["direct"] = (quantile(direct, 0.5) * 1e3, quantile(direct, 0.99) * 1e3)

    step("SIGTERM to web process 1; its consoles reconnect through HAProxy")
    for stream in streams:
        stream.measuring = False
    started = time.perf_counter()
    await asyncio.to_thread(cluster.stop_web, 0)  # returns once it has closed every console and ended
    moved = [stream for stream in streams if stream.restarted]
    await asyncio.wait([asyncio.create_task(stream.back.wait()) for stream in moved], timeout=BACK_WITHIN)
    result["reconnect_s"] = time.perf_counter() - started
    result["moved"] = len(moved)
    result["back"] = sum(stream.back.is_set() for stream in moved)
    result["balance_after"] = await asyncio.to_thread(consoles_per_process, cluster.web_urls[1:])
    await asyncio.gather(*(stream.close() for stream in streams))
    return result


def report(args, result: dict) -> None:
    print(f"\n{args.consoles} consoles through HAProxy to two web processes ({args.interval:g} s update stream each)")
    print(f"  opened in              {result['open_s']:.1f} s")
    print(f"  balance                {' / '.join(map(str, result['balance']))} consoles per process")
    print(f"  web CPU per console    {result['cpu_percent_per_console']:.3f} % of a core")
    print(
        f"  web memory             {result['rss_kib_per_console']:.0f} KiB per console;"
        f" {result['rss_mib_per_process']:.0f} MiB per process with its consoles"
    )
    print(
        f"  Redis                  {result['redis_per_open']:.1f} commands per console opened (token, claim,"
        f" session); {result['redis_per_console_s']:.3f} per console and second while open (the bench's database)"
    )
    (relayed_p50, relayed_p99), (direct_p50, direct_p99) = result["relayed"], result["direct"]
    added_p50, added_p99 = relayed_p50 - direct_p50, relayed_p99 - direct_p99
    print(f"  round trip direct      p50 {direct_p50:.2f} ms, p99 {direct_p99:.2f} ms")
    print(f"  round trip balanced    p50 {relayed_p50:.2f} ms, p99 {relayed_p99:.2f} ms")
    print(
        f"  added                  p50 {added_p50:.2f} ms (target {TARGETS['added_p50_ms']}),"
        f" p99 {added_p99:.2f} ms (target {TARGETS['added_p99_ms']})"
    )
    print(
        f"  rolling restart        {result['moved']} consoles told 1012, {result['back']} back in"
        f" {result['reconnect_s']:.1f} s (target: all in {TARGETS['reconnect_s']:.0f} s);"
        f" process 2 then holds {result['balance_after'][0]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--consoles", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0, help="how long the update streams are measured")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between a console's updates")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs)")
    args = parser.parse_args()
    workdir, env = production_environment("bench-cluster-")
    env.update(SECURE_SSL_REDIRECT="false", TRUSTED_PROXY_COUNT="1", METRICS_ALLOWED_NETWORKS="127.0.0.0/8")
    upstream = cluster = None
    try:
        upstream, fixture = empty_database_and_upstream(env, workdir)
        step("starting two web processes and HAProxy")
        with open(workdir / "cluster.log", "wb") as log:
            cluster = LocalCluster(env=env, workdir=workdir, log=log).start()
            paths = Paths(fixture, upstream, cluster.port, 0, 0)
            report(args, asyncio.run(run(args, paths, cluster)))
        print(f"\n(logs in {workdir if args.keep else 'a temp dir, removed (--keep keeps it)'})")
    finally:
        if cluster is not None:
            cluster.stop()
        bench_teardown(workdir, args.keep, upstream)


if __name__ == "__main__":
    main()
