"""One call against many servers at once, each within its own budget."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from .client import ProxmoxClient
from .connection import Connection
from .errors import ProxmoxAPIError, ProxmoxError
from .translate import past_budget

FAN_OUT_GRACE = 0.25

K = TypeVar("K")
T = TypeVar("T")


@dataclass(frozen=True)
class FanOutResult(Generic[T]):
    value: T | None
    error: ProxmoxError | None
    elapsed: float  # seconds from this server's start until its answer (or until it was given up)

    @property
    def ok(self) -> bool:
        return self.error is None


def fan_out(
    connections: Mapping[K, Connection], call: Callable[[ProxmoxClient], T], *, max_workers: int = 16
) -> dict[K, FanOutResult[T]]:
    """Run `call(client)` against every connection concurrently.

    Each server gets its own `connection.timeout` as a budget for the whole call, counted from when its turn
    starts; the function returns at the latest about max(timeout) after it was called, whatever a server does
    (hang, trickle bytes). A server past its budget is reported as TimedOut and its thread is abandoned (a daemon
    thread that ends at its call's own deadline). Proxmox errors become `.error`; any other exception is a bug
    in `call` and is re-raised here.
    """
    keys = list(connections)
    if not keys:
        return {}
    start = time.monotonic()
    final_deadline = start + max(c.timeout for c in connections.values()) + FAN_OUT_GRACE
    pending = iter(keys)
    started: dict[K, float] = {}
    results: dict[K, FanOutResult[T]] = {}
    bugs: list[BaseException] = []
    cond = threading.Condition()

    def worker() -> None:
        while True:
            with cond:
                key = next(pending, None)
                if key is None or time.monotonic() >= final_deadline:
                    return
                started[key] = t0 = time.monotonic()
            value, error = None, None
            try:
                with ProxmoxClient(connections[key]) as client:
                    value = call(client)
            except ProxmoxError as exc:
                error = exc
            except Exception as exc:
                error = ProxmoxAPIError("Internal error while querying this server.")
                with cond:
                    bugs.append(exc)
            with cond:
                results.setdefault(key, FanOutResult(value, error, time.monotonic() - t0))
                cond.notify_all()

    for index in range(min(max_workers, len(keys))):
        threading.Thread(target=worker, name=f"proxmox-fan-out-{index}", daemon=True).start()

    with cond:
        while len(results) < len(keys):
            now = time.monotonic()
            wake = final_deadline
            for key in keys:
                if key in results:
                    continue
                t0 = started.get(key)
                budget = connections[key].timeout
                deadline = final_deadline if t0 is None else min(t0 + budget + FAN_OUT_GRACE, final_deadline)
                if now >= deadline:
                    waited = now - (start if t0 is None else t0)
                    results[key] = FanOutResult(None, past_budget(connections[key].netloc, budget), waited)
                else:
                    wake = min(wake, deadline)
            if len(results) < len(keys):
                cond.wait(max(wake - now, 0.001))
        if bugs:
            raise bugs[0]
    return {key: results[key] for key in keys}
