"""`make demo`: the portal with demo data against the built-in Proxmox simulator, on embedded defaults."""

import json
import secrets
import shutil
import subprocess

from daphne.endpoints import build_endpoint_description_strings
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from console.flow import FlowControlServer
from metrics.scheduler import embedded_scheduler_start
from nexus.demo import (
    DEMO_PASSWORD,
    DEMO_TOTP_USER,
    SIMULATED_SERVERS,
    demo_idp_config,
    demo_seed,
    demo_spare_server,
    demo_sso_seed,
    demo_two_factor_seed,
)
from servers.pvesim import Simulator


class Command(BaseCommand):
    help = "Run the portal with demo tenants and users against simulated Proxmox VE servers."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--idp-port", type=int, default=None, help="the demo identity provider's (port + 100)")

    def handle(self, *args, bind, port, idp_port, **options):
        if not settings.DEBUG:
            raise CommandError("The demo uses generated local secrets; run it with DEBUG=true (the default).")
        call_command("migrate", interactive=False, verbosity=0)
        self._run_with_demo_data(bind, port, idp_port)

    def _run_with_demo_data(self, bind, port, idp_port) -> None:
        """The demo's data, simulated servers and identity provider, around _serve (stopped once it returns)."""
        simulator = Simulator(servers=SIMULATED_SERVERS, port=0).start()
        idp = None
        try:
            users = demo_seed(simulator=simulator)
            totp_secret = demo_two_factor_seed()
            idp, sso_people = self._start_idp(bind, port, idp_port or port + 100)
            self._start_health_checks()
            self._introduce(bind, port, simulator, users)
            self._introduce_sign_in(totp_secret, sso_people)
            self._serve(bind, port)
        finally:
            simulator.stop()
            if idp is not None:
                idp.terminate()
                idp.wait(timeout=10)

    def _start_health_checks(self) -> None:
        embedded_scheduler_start()  # health checks every interval, in this process (no Redis, no Celery)

    def _serve(self, bind, port) -> None:
        from nexus.asgi import application

        FlowControlServer(
            application=application,
            endpoints=build_endpoint_description_strings(host=bind, port=port),
            server_name="nexus-demo",
        ).run()

    def _start_idp(self, bind, port, idp_port):
        """The demo identity provider (nexus/idp.mjs on node), and the portal configured to use it."""
        if shutil.which("node") is None:
            self.stderr.write("node is not installed: the demo runs without its identity provider.")
            return None, []
        issuer = f"http://127.0.0.1:{idp_port}"
        secret = secrets.token_urlsafe(24)
        portals = [f"http://{bind}:{port}", f"http://localhost:{port}", f"http://127.0.0.1:{port}"]
        config = settings.DATA_DIR / "demo-idp.json"
        config.write_text(json.dumps(demo_idp_config(issuer=issuer, portal_urls=portals, client_secret=secret)))
        config.chmod(0o600)
        idp = subprocess.Popen(
            ["node", str(settings.BASE_DIR / "nexus" / "idp.mjs"), str(config)], stdout=subprocess.PIPE, text=True
        )
        if not idp.stdout.readline().startswith("ready"):
            idp.wait(timeout=10)
            self.stderr.write("The demo identity provider did not start: the demo runs without it.")
            return None, []
        return idp, demo_sso_seed(issuer=issuer, client_secret=secret)

    def _introduce_sign_in(self, totp_secret, sso_people):
        write = self.stdout.write
        write(f"{DEMO_TOTP_USER} has an authenticator app: add the secret {totp_secret} to yours (or run")
        write(f"  oathtool --totp -b {totp_secret}) and type its code after the password.")
        if sso_people:
            write(f'Single sign-on: "Log in with Demo SSO" on the login page; its people (password {DEMO_PASSWORD}):')
            for username, description in sso_people:
                write(f"  {username:<10} {description}")

    def _introduce(self, bind, port, simulator, users):
        write = self.stdout.write
        write(self.style.SUCCESS(f"\nProxmox VNC Nexus demo on http://{bind}:{port}/  (admin: /admin/, API: /api/v1/)"))
        write(f"Every demo user's password: {DEMO_PASSWORD}")
        for username, description in users:
            write(f"  {username:<10} {description}")
        spare = demo_spare_server(simulator)
        write("Simulated Proxmox VE servers (also usable with any Proxmox client):")
        for server in simulator.servers:
            if server is not spare:
                write(f"  {server.name}: {server.base_url}  fingerprint {server.fingerprint}")
        write("\nOne more that no tenant has yet: add it as alice (Manage servers > Add server) and see it online:")
        write(spare.describe())
        write("Press Ctrl+C to stop.\n")
