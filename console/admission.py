"""How many consoles one web process takes on, so that a burst beyond it is refused with a reason, never dropped.

A console arriving at a process is *opening* until its first frame: its token is claimed (database), vncproxy and
the vncwebsocket are opened, the RFB handshake is relayed. Those wait their turn (the database threads, the Proxmox
calls' threads, the event loop); a burst of `opening_limit` still reaches its first frames within a few seconds
(bench/burst.py measures it). Beyond that, or beyond `capacity` consoles in all, the next one is refused at once
with CloseReason.BUSY, which the page shows and retries after a while: daphne would otherwise keep it in the
handshake until its connect timeout and drop it without a word.

Framework-free, one instance per process; the event loop's thread only, so plain counters suffice.
"""

from dataclasses import dataclass


@dataclass
class Admission:
    opening_limit: int
    capacity: int
    opening: int = 0
    open: int = 0  # opening ones included

    def admit(self) -> "Admitted | None":
        """A place for one console, or None when the process is full."""
        if self.opening >= self.opening_limit or self.open >= self.capacity:
            return None
        self.opening += 1
        self.open += 1
        return Admitted(self)


class Admitted:
    """One console's place: `opened()` once its first frame went out, `release()` when it ended (both idempotent)."""

    def __init__(self, admission: Admission) -> None:
        self._admission = admission
        self.opening = True
        self._held = True

    def opened(self) -> None:
        if self.opening:
            self.opening = False
            self._admission.opening -= 1

    def release(self) -> bool:
        """Give the place back; True the first time."""
        self.opened()
        if not self._held:
            return False
        self._held = False
        self._admission.open -= 1
        return True
