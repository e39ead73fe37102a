"""What a simulated cluster knows: nodes, guests, tasks, API tokens and console tickets.

Plain data with no I/O; the aiohttp layer (api.py) reads and changes it on the
simulator's event loop, tests read it from their own thread.
"""

import math
import time
from dataclasses import dataclass, field

from servers.proxmox import KINDS

# The privileges a PVE 9 role can hold (pve-access-control).
ALL_PRIVILEGES = frozenset(
    {
        "Datastore.Allocate",
        "Datastore.AllocateSpace",
        "Datastore.AllocateTemplate",
        "Datastore.Audit",
        "Group.Allocate",
        "Mapping.Audit",
        "Mapping.Modify",
        "Mapping.Use",
        "Permissions.Modify",
        "Pool.Allocate",
        "Pool.Audit",
        "Realm.Allocate",
        "Realm.AllocateUser",
        "SDN.Allocate",
        "SDN.Audit",
        "SDN.Use",
        "Sys.AccessNetwork",
        "Sys.Audit",
        "Sys.Console",
        "Sys.Incoming",
        "Sys.Modify",
        "Sys.PowerMgmt",
        "Sys.Syslog",
        "User.Modify",
        "VM.Allocate",
        "VM.Audit",
        "VM.Backup",
        "VM.Clone",
        "VM.Config.CDROM",
        "VM.Config.CPU",
        "VM.Config.Cloudinit",
        "VM.Config.Disk",
        "VM.Config.HWType",
        "VM.Config.Memory",
        "VM.Config.Network",
        "VM.Config.Options",
        "VM.Console",
        "VM.GuestAgent.Audit",
        "VM.GuestAgent.FileRead",
        "VM.GuestAgent.FileSystemMgmt",
        "VM.GuestAgent.FileWrite",
        "VM.GuestAgent.Unrestricted",
        "VM.Migrate",
        "VM.PowerMgmt",
        "VM.Replicate",
        "VM.Snapshot",
        "VM.Snapshot.Rollback",
    }
)

# Task types as qemu-server and pve-container name their workers.
TASK_TYPES = {
    "qemu": {
        "start": "qmstart",
        "stop": "qmstop",
        "shutdown": "qmshutdown",
        "reset": "qmreset",
        "reboot": "qmreboot",
        "suspend": "qmsuspend",
        "resume": "qmresume",
    },
    "lxc": {
        "start": "vzstart",
        "stop": "vzstop",
        "shutdown": "vzshutdown",
        "reboot": "vzreboot",
        "suspend": "vzsuspend",
        "resume": "vzresume",
    },
}


def _is_printable_keysym(keysym: int) -> bool:
    return 0x20 <= keysym <= 0x7E or 0xA0 <= keysym <= 0xFF or 0x01000100 <= keysym <= 0x0110FFFF


def _keysym_char(keysym: int) -> str:
    return chr(keysym - 0x01000000 if keysym >= 0x01000000 else keysym)


@dataclass
class SimGuest:
    vmid: int
    name: str
    kind: str  # "qemu" | "lxc"
    node: str
    status: str  # "running" | "stopped"
    template: bool = False
    cpus: int = 1
    maxmem: int = 1 << 30
    maxdisk: int = 8 << 30
    tags: str = ""
    pool: str = ""
    lock: str = ""
    agent: bool = False
    paused: bool = False
    started_at: float = 0.0
    pid: int = 0
    keys: list[tuple[bool, int]] = field(default_factory=list)
    clipboard: list[str] = field(default_factory=list)
    pointer: tuple[int, int, int] | None = None  # (buttons, x, y) of the last PointerEvent
    rfb_connections: int = 0
    terminal_lines: list[str] = field(default_factory=list)
    terminal_size: tuple[int, int] | None = None  # (cols, rows) of the last resize

    @classmethod
    def from_config(cls, entry: dict, pid: int) -> "SimGuest":
        guest = cls(
            vmid=int(entry["vmid"]),
            name=entry["name"],
            kind=entry.get("kind", "qemu"),
            node=entry["node"],
            status=entry.get("status", "stopped"),
            template=bool(entry.get("template", False)),
            cpus=int(entry.get("cpus", 1)),
            maxmem=int(entry.get("maxmem", 1 << 30)),
            maxdisk=int(entry.get("maxdisk", 8 << 30)),
            tags=entry.get("tags", ""),
            pool=entry.get("pool", ""),
            lock=entry.get("lock", ""),
            agent=bool(entry.get("agent", False)),
        )
        if guest.kind not in KINDS:
            raise ValueError(f"guest {guest.vmid}: kind must be qemu or lxc, not {guest.kind!r}")
        if guest.status not in ("running", "stopped"):
            raise ValueError(f"guest {guest.vmid}: status must be running or stopped")
        if guest.status == "running":
            guest.power_on(pid)
        return guest

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def qmpstatus(self) -> str:
        if not self.running:
            return "stopped"
        return "paused" if self.paused else "running"

    def power_on(self, pid: int) -> None:
        self.status, self.paused, self.started_at, self.pid = "running", False, time.time(), pid

    def power_off(self) -> None:
        self.status, self.paused, self.started_at, self.pid = "stopped", False, 0.0, 0

    def typed_text(self) -> str:
        """The printable characters typed at the VNC console (key-down events only)."""
        return "".join(_keysym_char(keysym) for down, keysym in self.keys if down and _is_printable_keysym(keysym))

    def usage(self) -> dict:
        """Live figures that drift over time, all zero while stopped."""
        if not self.running:
            return {"cpu": 0, "mem": 0, "uptime": 0, "netin": 0, "netout": 0, "diskread": 0, "diskwrite": 0}
        now = time.time()
        uptime = max(0, int(now - self.started_at))
        wave = (math.sin(now / 5 + self.vmid) + 1) / 2
        return {
            "cpu": round(0.01 + 0.2 * wave, 4),
            "mem": int(self.maxmem * (0.25 + 0.25 * wave)),
            "uptime": uptime,
            "netin": uptime * 1500 + self.vmid,
            "netout": uptime * 900 + self.vmid,
            "diskread": uptime * 4096,
            "diskwrite": uptime * 2048,
        }


@dataclass
class SimNode:
    name: str
    maxcpu: int
    maxmem: int
    fingerprint: str
    started_at: float = field(default_factory=time.time)

    def usage(self) -> dict:
        now = time.time()
        wave = (math.sin(now / 7 + len(self.name)) + 1) / 2
        return {
            "cpu": round(0.05 + 0.3 * wave, 4),
            "mem": int(self.maxmem * (0.3 + 0.2 * wave)),
            "uptime": int(now - self.started_at) + 86400,
        }


@dataclass
class Token:
    """An API token; `acl` maps ACL paths ("/", "/vms/100", "/nodes/pve1") to privileges."""

    token_id: str
    secret: str
    acl: dict[str, frozenset[str]]

    @property
    def user(self) -> str:
        return self.token_id.split("!", 1)[0]

    def privileges_on(self, path: str) -> frozenset[str]:
        """Privileges on `path`: those granted there or on any parent path (ACLs propagate)."""
        granted: set[str] = set()
        for acl_path, privileges in self.acl.items():
            prefix = acl_path.rstrip("/") + "/"
            if acl_path == "/" or path == acl_path or path.startswith(prefix):
                granted |= privileges
        return frozenset(granted)

    def has(self, path: str, privilege: str) -> bool:
        return privilege in self.privileges_on(path)

    @staticmethod
    def acl_from(privileges) -> dict[str, frozenset[str]]:
        """None = everything; a set = those privileges on "/"; a dict = per-path privileges."""
        if privileges is None:
            return {"/": ALL_PRIVILEGES}
        if isinstance(privileges, dict):
            return {path: frozenset(privs) for path, privs in privileges.items()}
        return {"/": frozenset(privileges)}


@dataclass
class Task:
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    status: str = "running"
    exitstatus: str | None = None
    endtime: int | None = None
    log: list[str] = field(default_factory=list)  # the task log's lines, as `GET .../tasks/{upid}/log` shows them

    @property
    def upid(self) -> str:
        return (
            f"UPID:{self.node}:{self.pid:08X}:{self.pstart:08X}:{self.starttime:08X}:{self.type}:{self.id}:{self.user}:"
        )

    def finish(self, exitstatus: str = "OK") -> None:
        """End the task; like a PVE worker, its log ends with TASK OK or TASK ERROR: <why>."""
        if self.status == "running":
            self.status, self.exitstatus, self.endtime = "stopped", exitstatus, int(time.time())
            self.log.append("TASK OK" if exitstatus == "OK" else f"TASK ERROR: {exitstatus}")

    def as_dict(self) -> dict:
        data = {
            "upid": self.upid,
            "node": self.node,
            "pid": self.pid,
            "pstart": self.pstart,
            "starttime": self.starttime,
            "type": self.type,
            "id": self.id,
            "user": self.user,
            "status": self.status,
        }
        if self.exitstatus is not None:
            data["exitstatus"] = self.exitstatus
        return data

    def list_entry(self) -> dict:
        """As `GET /nodes/{node}/tasks` lists it: with `endtime`, and the status only once the task ended."""
        entry = {key: value for key, value in self.as_dict().items() if key not in ("status", "exitstatus")}
        if self.status == "stopped":
            entry.update(status=self.exitstatus, endtime=self.endtime)
        return entry


@dataclass
class ConsoleOffer:
    """What vncproxy/termproxy set up: a one-connection listener on `port` of `node`."""

    kind: str  # "vnc" | "term"
    guest: SimGuest
    node: str
    port: int
    ticket: str
    password: str
    user: str
    issued_at: float
    task: Task
