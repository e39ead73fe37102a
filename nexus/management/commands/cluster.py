"""`make cluster`: the demo as several processes on this machine's PostgreSQL and Redis.

Two web processes, two Celery workers and one beat (the Procfile, run by honcho), HAProxy in front of the web
processes (nexus.cluster), and the demo's data and simulated servers as `make demo` brings them (its command's
steps). Prometheus' multiprocess directory is emptied first, so /metrics covers this run's processes only.
"""

import os
import shutil
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from honcho.environ import expand_processes, parse_procfile
from honcho.manager import Manager

from metrics.services import servers_health_check
from nexus.cluster import HAPROXY, PROCFILE, create_database, haproxy_config, haproxy_missing

from .demo import Command as DemoCommand

PROCESSES = {"web": 2, "worker": 2, "beat": 1}


class Command(DemoCommand):
    help = "Run the demo as two web processes, two Celery workers and beat behind HAProxy (PostgreSQL, Redis)."

    def handle(self, *args, bind, port, idp_port, **options):
        self._check_services()
        if why := haproxy_missing():
            raise CommandError(why)
        create_database(settings.DATABASES["default"])
        call_command("migrate", interactive=False, verbosity=0)
        self._run_with_demo_data(bind, port, idp_port)

    def _start_health_checks(self) -> None:
        servers_health_check()  # the first at once; then beat and the workers

    def _serve(self, bind, port) -> None:
        self.stdout.write(f"Two web processes on {port + 1} and {port + 2} behind HAProxy on {bind}:{port}.\n")
        sys.exit(self._run_processes(bind, port))

    def _check_services(self) -> None:
        if not settings.DEBUG:
            raise CommandError("The cluster demo uses generated local secrets; run it with DEBUG=true (the default).")
        if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql" or not settings.REDIS_URL:
            raise CommandError("Several processes share PostgreSQL and Redis: set DATABASE_URL and REDIS_URL.")

    def _run_processes(self, bind: str, port: int) -> int:
        metrics_dir = settings.DATA_DIR / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        env = {
            **os.environ,
            "DATA_DIR": str(settings.DATA_DIR),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "TRUSTED_PROXY_COUNT": "1",
            "METRICS_ALLOWED_NETWORKS": os.environ.get("METRICS_ALLOWED_NETWORKS", "127.0.0.0/8"),
            "PATH": f"{os.path.dirname(sys.executable)}{os.pathsep}{os.environ.get('PATH', '')}",
        }
        manager = Manager()
        processes = parse_procfile(PROCFILE.read_text()).processes
        for process in expand_processes(processes, concurrency=PROCESSES, env=env, port=port + 1):
            manager.add_process(process.name, process.cmd, env=process.env, cwd=settings.BASE_DIR)
        config = settings.DATA_DIR / "haproxy.cfg"
        config.write_text(haproxy_config(bind=bind, port=port, web_ports=[port + 1, port + 2]))
        manager.add_process("haproxy", f"{HAPROXY} -f {config} -db", env=env)
        manager.loop()
        return manager.returncode
