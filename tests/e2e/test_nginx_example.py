"""The README's nginx example, run by Debian's nginx in front of the real web process: a login through it on a port
other than 443, the client address as nginx saw it, and a console WebSocket through its upgrade."""

import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import requests
from websockets.sync.client import connect

from audit.models import AuditEvent
from tests.conftest import PASSWORD

README = Path(__file__).resolve().parents[2] / "README.md"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HOST = "nexus.example.com"


def readme_nginx_example() -> str:
    [block] = re.findall(r"```nginx\n(.*?)```", README.read_text(), re.S)
    return block


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    from servers.pvesim.certs import ClusterCA

    pair = ClusterCA("nginx-test").issue(HOST)  # the simulator's own certificate maker
    cert, key = folder / "cert.pem", folder / "key.pem"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    return cert, key


@pytest.fixture
def nginx(tmp_path, daphne_server):
    """nginx with the README's configuration, pointed at the test's web process, on free ports."""
    if not Path(NGINX).is_file():
        pytest.skip(f"nginx is not installed ({NGINX}); `make browser` installs Debian's package")
    cert, key = self_signed(tmp_path)
    https_port, http_port = free_port(), free_port()
    upstream = daphne_server.url.removeprefix("http://")
    config = (
        readme_nginx_example()
        .replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
        .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("/etc/ssl/nexus/fullchain.pem", str(cert))
        .replace("/etc/ssl/nexus/privkey.pem", str(key))
        .replace("http://127.0.0.1:8000", f"http://{upstream}")
    )
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\ndaemon off;\nevents {{}}\n"
        f"http {{\naccess_log {tmp_path}/logs/access.log;\n"
        + "".join(
            f"{name}_temp_path {tmp_path}/{name};\n" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        + f"{config}\n}}\n"
    )
    process = subprocess.Popen([NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")], stderr=subprocess.PIPE)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", https_port), timeout=0.1).close()
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail(f"nginx did not start: {process.stderr.read().decode()}")
            time.sleep(0.05)
    yield f"https://{HOST}:{https_port}", https_port
    process.terminate()
    process.wait(10)
    daphne_server.settle()  # the console the test opened records its close before the database goes


@pytest.fixture
def proxied_settings(settings):
    """Production's proxy settings; TRUSTED_PROXY_COUNT=1 as the README says for one nginx."""
    settings.ALLOWED_HOSTS = [HOST]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.TRUSTED_PROXY_COUNT = 1


class Browser(requests.Session):
    """Talks to nginx on 127.0.0.1 as a browser that reached it by the host name would (Host with its port)."""

    def __init__(self, port: int):
        super().__init__()
        self.headers["Host"] = f"{HOST}:{port}"

    def request(self, method, url, **kwargs):
        kwargs["verify"] = False  # nginx's certificate is the test's own
        return super().request(method, url.replace(f"//{HOST}:", "//127.0.0.1:"), **kwargs)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_the_readme_nginx_example_passes_logins_addresses_and_consoles(
    manager_a, sim_server, transactional_db, shared_sqlite_connection, proxied_settings, nginx, tmp_path
):
    url, port = nginx
    client = Browser(port)
    login_page = client.get(f"{url}/accounts/login/")
    assert login_page.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
    response = client.post(
        f"{url}/accounts/login/",
        data={"username": "manager-a", "password": PASSWORD, "csrfmiddlewaretoken": token},
        headers={"Origin": url, "Referer": f"{url}/accounts/login/", "X-Forwarded-For": "203.0.113.66"},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text[:500]  # no "Origin checking failed" on this port
    # The client wrote an address of its own; nginx appended what it saw, and only that counts.
    assert AuditEvent.objects.get(action="login").ip_address == "127.0.0.1"

    ticket = client.post(
        f"{url}/api/v1/servers/{sim_server.pk}/vms/100/console/",
        headers={"X-CSRFToken": client.cookies["csrftoken"], "Referer": f"{url}/"},
    ).json()
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    with connect(
        f"{url.replace('https', 'wss')}{ticket['websocket_path']}",
        sock=socket.create_connection(("127.0.0.1", port)),
        ssl=context,
        subprotocols=ticket["websocket_protocols"],
        additional_headers={"Origin": url, "Cookie": cookie},
        open_timeout=10,
    ) as console:
        assert console.recv(timeout=10).startswith(b"RFB 003.008")
    # The one-time token travelled in Sec-WebSocket-Protocol: the proxy's access log has the console's line, not it.
    access_log = tmp_path / "logs" / "access.log"
    for _ in range(100):
        if "/ws/console/" in access_log.read_text():
            break
        time.sleep(0.05)
    assert "/ws/console/" in access_log.read_text()
    assert ticket["websocket_protocols"][1].removeprefix("console-token.") not in access_log.read_text()
