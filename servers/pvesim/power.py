"""How a simulated power task runs: what it logs and how it moves its guest, phase by phase.

A real start takes a while and the guest runs before the task ends; a reboot stops the guest and starts it again;
a shutdown waits until the guest is off. The phases are spread over the cluster's task_delay (ClusterState.start_task).
"""

from collections.abc import Callable
from dataclasses import dataclass

from .state import SimGuest


@dataclass(frozen=True)
class Phase:
    line: str  # what the task logs when the phase runs
    needs_running: bool | None = None  # the state the guest must be in for the phase's effect (None: any)
    effect: Callable[[SimGuest], None] | None = None


def phases(action: str, guest: SimGuest, noun: str, next_pid: Callable[[], int]) -> list[Phase]:
    """The phases of `action` on `guest`; the last one ends the task."""
    what = f"{noun} {guest.vmid} ({guest.name})"

    def power_on(target: SimGuest) -> None:
        target.power_on(next_pid())

    def pause(paused: bool) -> Callable[[SimGuest], None]:
        def effect(target: SimGuest) -> None:
            target.paused = paused

        return effect

    def power_off(target: SimGuest) -> None:
        target.power_off()

    table = {
        "start": [
            Phase(f"starting {what} on node '{guest.node}'"),
            Phase(f"{what} started", False, power_on),
            Phase("waiting for the guest to boot"),
        ],
        "shutdown": [
            Phase(f"requesting shutdown of {what}"),
            Phase("waiting for the guest to power off"),
            Phase(f"{what} is off", True, power_off),
        ],
        "stop": [Phase(f"stopping {what}"), Phase(f"{what} stopped", True, power_off)],
        "reboot": [
            Phase(f"requesting reboot of {what}"),
            Phase(f"{what} is off, starting it again", True, power_off),
            Phase(f"{what} started", False, power_on),
        ],
        "reset": [Phase(f"resetting {what}"), Phase(f"{what} was reset", True, power_on)],
        "suspend": [Phase(f"suspending {what}"), Phase(f"{what} suspended", True, pause(True))],
        "resume": [Phase(f"resuming {what}"), Phase(f"{what} resumed", True, pause(False))],
    }
    return table[action]
