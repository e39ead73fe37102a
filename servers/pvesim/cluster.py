"""The live state of one simulated cluster and the timers that move it on.

All methods run on the simulator's event loop.
"""

import asyncio
import itertools
import random
import time
import uuid
from collections.abc import Callable, Sequence

from .state import ConsoleOffer, SimGuest, SimNode, Task, Token

TICKET_NOT_BEFORE = 20  # a PVEVNC ticket is valid from 20 s before it was issued


class ClusterState:
    def __init__(self, config: dict, fingerprints: dict[str, str], token_secret: str | None = None):
        self.config = config
        cluster = config["cluster"]
        self.default_task_delay = float(cluster.get("task_delay", 3))
        self.task_delay = self.default_task_delay
        self.default_ticket_lifetime = float(cluster.get("ticket_lifetime", 40))
        self.ticket_lifetime = self.default_ticket_lifetime
        self.console_connect_timeout = float(cluster.get("console_connect_timeout", 10))
        self.auth_failure_delay = float(cluster.get("auth_failure_delay", 0.01))
        console = config.get("console", {})
        self.console_size = (int(console.get("width", 800)), int(console.get("height", 600)))
        self._pids = itertools.count(random.randint(0x1000, 0x8000))
        self._pstart = random.randint(10_000, 90_000_000)
        self.nodes = {
            entry["name"]: SimNode(
                entry["name"],
                int(entry.get("maxcpu", 8)),
                int(entry.get("maxmem", 16 << 30)),
                fingerprints[entry["name"]],
            )
            for entry in config["nodes"]
        }
        self.default_token = Token(
            config["token"]["id"],
            token_secret or config["token"].get("secret") or str(uuid.uuid4()),
            Token.acl_from(None),
        )
        self.guests: dict[int, SimGuest] = {}
        self.tokens: dict[str, Token] = {}
        self.tasks: dict[str, Task] = {}
        self.tickets: dict[str, tuple[str, str, float]] = {}  # ticket -> (user, ACL path, issued at)
        self._offers: dict[tuple[str, int], ConsoleOffer] = {}
        self._ports: dict[str, set[int]] = {}
        self._timers: set[asyncio.TimerHandle] = set()
        self.reset()

    def reset(self) -> None:
        """Back to the configured cluster: guests, one token, no tasks, tickets or consoles."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self.guests = {}
        for entry in self.config["guests"]:
            guest = SimGuest.from_config(entry, self.next_pid())
            if guest.node not in self.nodes:
                raise ValueError(f"guest {guest.vmid} is on unknown node {guest.node!r}")
            self.guests[guest.vmid] = guest
        self.tokens = {self.default_token.token_id: self.default_token}
        self.tasks.clear()
        self.tickets.clear()
        self._offers.clear()
        self._ports.clear()
        self.ticket_lifetime = self.default_ticket_lifetime
        self.task_delay = self.default_task_delay

    def next_pid(self) -> int:
        return next(self._pids)

    def _later(self, delay: float, callback: Callable[[], None]) -> None:
        def run() -> None:
            self._timers.discard(timer)
            callback()

        timer = asyncio.get_running_loop().call_later(delay, run)
        self._timers.add(timer)

    def start_task(
        self,
        node: str,
        kind: str,
        ident: str,
        user: str,
        work: Callable[[Task], str] | None,
        steps: Sequence[Callable[[Task], None]] = (),
    ) -> Task:
        """A running task. `steps` run spread over task_delay (each may log a line or move the guest on), then
        `work` runs and returns the exit status; with a task_delay of 0 all of it happens before this returns.

        Without `work` the task runs until someone finishes it (console tasks).
        """
        task = Task(
            node,
            self.next_pid(),
            self._pstart + int(time.monotonic() * 100) % 100_000,
            int(time.time()),
            kind,
            ident,
            user,
        )
        self.tasks[task.upid] = task
        if work is None:
            return task

        def run(step: Callable[[Task], None]) -> None:
            if task.status == "running":
                step(task)

        def end(task: Task) -> None:
            task.finish(work(task))

        # The first step at once (a worker logs what it does first), the others spread, the end after task_delay.
        timeline = [(0.0, step) for step in steps[:1]]
        timeline += [(self.task_delay * index / len(steps), step) for index, step in enumerate(steps) if index]
        timeline.append((self.task_delay, end))
        for at, step in timeline:
            if at <= 0:
                run(step)
            else:
                self._later(at, lambda step=step: run(step))
        return task

    # --- console listeners ------------------------------------------------------------

    def ports_in_use(self, node: str) -> set[int]:
        return self._ports.setdefault(node, set())

    def release_port(self, node: str, port: int) -> None:
        self.ports_in_use(node).discard(port)

    def add_offer(self, offer: ConsoleOffer) -> None:
        self.tickets[offer.ticket] = (offer.user, f"/vms/{offer.guest.vmid}", offer.issued_at)
        self.ports_in_use(offer.node).add(offer.port)
        self._offers[(offer.node, offer.port)] = offer

        def expire() -> None:
            # Like vncterm/qemu's listener: nobody came within the timeout, give up.
            if self._offers.get((offer.node, offer.port)) is offer:
                del self._offers[(offer.node, offer.port)]
                self.release_port(offer.node, offer.port)
                offer.task.finish("connection timed out")

        self._later(self.console_connect_timeout, expire)

    def claim_offer(self, node: str, port: int) -> ConsoleOffer | None:
        """The listener on node:port takes its one connection."""
        return self._offers.pop((node, port), None)

    def ticket_valid(self, ticket: str, user: str, path: str) -> bool:
        issued = self.tickets.get(ticket)
        if issued is None or issued[:2] != (user, path):
            return False
        age = time.time() - issued[2]
        return -TICKET_NOT_BEFORE <= age <= self.ticket_lifetime
