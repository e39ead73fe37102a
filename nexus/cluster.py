"""Several web processes of the Procfile behind HAProxy on this machine: `make cluster`, the cluster tests and
bench/cluster.py start them the same way.

HAProxy (Debian's) is configured as the README recommends: WebSocket upgrades (HTTP mode passes them; `timeout
tunnel` lets a console stay for hours), health checks on /readyz, `X-Forwarded-For` appended (TRUSTED_PROXY_COUNT=1),
new connections spread by how many each process holds (consoles last long), and a connection that a stopping
process no longer takes is sent to another (`retries`, `option redispatch`).
"""

import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from string import Template

import psycopg
from honcho.environ import parse_procfile

HAPROXY = "/usr/sbin/haproxy"
PROCFILE = Path(__file__).resolve().parent.parent / "Procfile"
STARTUP_TIMEOUT = 60.0
# How often HAProxy asks each web process whether it is ready, in milliseconds; two failures take it out.
CHECK_INTERVAL_MS = 1000


def haproxy_config(
    *, port: int, web_ports: list[int], bind: str = "127.0.0.1", check_interval_ms: int = CHECK_INTERVAL_MS
) -> str:
    servers = "\n".join(f"    server web{number} 127.0.0.1:{web} check" for number, web in enumerate(web_ports, 1))
    # No maxconn: HAProxy derives it from the open-file limit (two descriptors a console).
    return f"""defaults
    mode http
    timeout connect 2s
    timeout check 2s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
    option forwardfor
    retries 3
    option redispatch 1

frontend portal
    bind {bind}:{port}
    default_backend web

backend web
    balance leastconn
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter {check_interval_ms} fall 2 rise 1
{servers}
"""


def procfile_command(kind: str, env: dict) -> list[str]:
    """The command of one kind of process (web, worker, beat) as the Procfile says it, its $VARIABLES from `env`."""
    line = parse_procfile(PROCFILE.read_text()).processes[kind]
    return shlex.split(Template(line).substitute(env))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_ready(url: str, process: subprocess.Popen, what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} ended with {process.returncode} before it was ready")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} was not ready within {timeout:.0f} s")


class LocalCluster:
    """`web` web processes and HAProxy in front, each a subprocess with `env` (DATABASE_URL, REDIS_URL, keys...).

    `url` is the balancer's; `web_urls` each process's own. `stop_web(i)` sends SIGTERM (a rolling restart's first
    half) and waits for it to end; `start_web(i)` starts it again on the same port.
    """

    def __init__(self, *, env: dict, workdir: Path, web: int = 2, log=subprocess.DEVNULL) -> None:
        self.env = {**env, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"}
        self.workdir = workdir
        self.log = log
        self.web_ports = [free_port() for _ in range(web)]
        self.port = free_port()
        self.web: list[subprocess.Popen | None] = [None] * web
        self.balancer: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def web_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.web_ports]

    def start(self) -> "LocalCluster":
        for number in range(len(self.web)):
            self._spawn_web(number)
        for number in range(len(self.web)):
            self._wait_web(number)
        config = self.workdir / "haproxy.cfg"
        config.write_text(haproxy_config(port=self.port, web_ports=self.web_ports))
        self.balancer = subprocess.Popen([HAPROXY, "-f", str(config), "-db"], stdout=self.log, stderr=self.log)
        wait_until_ready(f"{self.url}/readyz", self.balancer, "HAProxy")
        return self

    def _spawn_web(self, number: int) -> None:
        env = {**self.env, "PORT": str(self.web_ports[number])}
        self.web[number] = subprocess.Popen(procfile_command("web", env), env=env, stdout=self.log, stderr=self.log)

    def _wait_web(self, number: int) -> None:
        wait_until_ready(f"{self.web_urls[number]}/readyz", self.web[number], f"web process {number + 1}")

    def stop_web(self, number: int, timeout: float = 30.0) -> None:
        process = self.web[number]
        process.send_signal(signal.SIGTERM)
        process.wait(timeout)

    def start_web(self, number: int) -> None:
        self._spawn_web(number)
        self._wait_web(number)

    def stop(self) -> None:
        for process in [self.balancer, *self.web]:
            if process is None or process.poll() is not None:
                continue
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def haproxy_missing() -> str | None:
    """Why HAProxy cannot be used here, or None."""
    if not shutil.which(HAPROXY):
        return f"HAProxy is not installed at {HAPROXY} (`make browser` or `apt-get install haproxy`)"
    return None


def create_database(database: dict) -> None:
    """The PostgreSQL database of Django's `database` settings, created on its server when it is not there yet."""
    options = {key.lower(): database[key] or None for key in ("HOST", "PORT", "USER", "PASSWORD")}
    with psycopg.connect(dbname="postgres", autocommit=True, **options) as connection:
        name = database["NAME"]
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
