"""A real OpenID Connect provider for the tests: nexus/idp.mjs (the `oidc-provider` package) run with node on
loopback, and a browser's part of its login done with requests."""

import json
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import requests

IDP_SCRIPT = Path(__file__).resolve().parents[2] / "nexus" / "idp.mjs"
CLIENT_ID = "nexus"
CLIENT_SECRET = "a-client-secret-of-the-tests"
PASSWORD = "idp-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Idp:
    def __init__(self, config_path: Path, port: int):
        self.path = config_path
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.process = None
        self.config = {
            "port": port,
            "issuer": self.issuer,
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": ["http://testserver/accounts/sso/acme-sso/callback/"],
                    "post_logout_redirect_uris": ["http://testserver/accounts/login/"],
                }
            ],
            "accounts": {},
            "tamper": None,
        }
        self.save()

    def save(self):
        self.path.write_text(json.dumps(self.config))

    def start(self):
        self.process = subprocess.Popen(
            ["node", str(IDP_SCRIPT), str(self.path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        line = self.process.stdout.readline()
        assert line.startswith("ready"), self.process.stderr.read()

    def stop(self):
        if self.process:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def person(self, sub: str, *, amr=("pwd",), acr=None, **claims):
        self.config["accounts"][sub] = {"password": PASSWORD, "amr": list(amr), "acr": acr, "claims": claims}
        self.save()

    def tamper(self, mode):
        self.config["tamper"] = mode
        self.save()


def sso_login(client, provider, username: str, password: str = PASSWORD):
    """Log in through the provider as a browser would: our redirect, its login form, back to our callback.
    Returns our callback's response."""
    start = client.get(f"/accounts/sso/{provider.slug}/")
    assert start.status_code == 302, start
    browser = requests.Session()
    form = browser.get(start["Location"], timeout=10)
    assert form.status_code == 200 and "Demo SSO" in form.text, form.text
    response = browser.post(form.url, data={"username": username, "password": password}, allow_redirects=False)
    while response.is_redirect and not response.headers["Location"].startswith("http://testserver/"):
        response = browser.get(
            requests.compat.urljoin(response.url, response.headers["Location"]), allow_redirects=False
        )
    assert response.is_redirect, response.text[:500]
    back = urlsplit(response.headers["Location"])
    return client.get(f"{back.path}?{back.query}")
