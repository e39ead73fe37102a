"""Run simulated Proxmox VE clusters until Ctrl+C, printing how to reach them."""

import time

from django.core.management.base import BaseCommand

from servers.pvesim import Simulator, load_config


class Command(BaseCommand):
    help = "Start simulated Proxmox VE servers (HTTPS API + consoles) on 127.0.0.1."

    def add_arguments(self, parser):
        parser.add_argument("--config", help="TOML file laid over servers/pvesim/default.toml")
        parser.add_argument("--servers", type=int, default=1, help="number of simulated clusters")
        parser.add_argument("--port", type=int, help="port of the first server (0 = free ports)")

    def handle(self, *args, config=None, servers=1, port=None, **options):
        simulator = Simulator(config=load_config(config), servers=servers, port=port)
        simulator.start()
        try:
            for server in simulator.servers:
                self.stdout.write(server.describe())
            self.stdout.write("Press Ctrl+C to stop.")
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            simulator.stop()
