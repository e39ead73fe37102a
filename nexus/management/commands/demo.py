"""`make demo`: the portal with demo data against the built-in Proxmox simulator, on embedded defaults."""

from daphne.endpoints import build_endpoint_description_strings
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from console.flow import FlowControlServer
from metrics.services import servers_health_check
from nexus.demo import DEMO_PASSWORD, SIMULATED_SERVERS, demo_seed, demo_spare_server
from servers.pvesim import Simulator


class Command(BaseCommand):
    help = "Run the portal with demo tenants and users against simulated Proxmox VE servers."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, bind, port, **options):
        if not settings.DEBUG:
            raise CommandError("The demo uses generated local secrets; run it with DEBUG=true (the default).")
        call_command("migrate", interactive=False, verbosity=0)
        simulator = Simulator(servers=SIMULATED_SERVERS, port=0).start()
        try:
            users = demo_seed(simulator=simulator)
            servers_health_check()  # so the portal shows who is online; beat repeats it where Redis runs
            self._introduce(bind, port, simulator, users)
            from nexus.asgi import application

            FlowControlServer(
                application=application,
                endpoints=build_endpoint_description_strings(host=bind, port=port),
                server_name="nexus-demo",
            ).run()
        finally:
            simulator.stop()

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
