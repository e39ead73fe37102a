"""CPU time and memory of a process and its descendants, read from /proc (psutil is not a dependency).

websockify forks a process per connection, so both figures cover the whole process tree: the live processes
plus the children already reaped (their CPU time is in the parent's cutime/cstime).
"""

import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        data = stat.read()
    # The command name may hold spaces and parentheses; fields after it start at field 3 (state).
    return data[data.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            parent = int(_stat_fields(int(entry))[1])
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        parents.setdefault(parent, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds of `root`, its live descendants and its reaped children."""
    total = 0
    for pid in process_tree(root):
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        # utime, stime, cutime, cstime are fields 14-17; fields[0] is field 3.
        total += sum(int(value) for value in fields[11:15])
    return total / CLOCK_TICKS


def rss_bytes(root: int) -> int:
    """Resident memory of `root` and its descendants (shared pages count once per process)."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
    return total
