from django.core.management.base import BaseCommand, CommandError

from metrics.models import ConnectionMetric
from metrics.services import servers_health_check
from servers.models import ProxmoxServer


class Command(BaseCommand):
    help = "Check the health of every active server (or one) now, record the results and print them."

    def add_arguments(self, parser):
        parser.add_argument("--server", type=int, help="the id of the one server to check")

    def handle(self, *args, server=None, **options):
        servers = ProxmoxServer.objects.filter(is_active=True).select_related("tenant")
        if server is not None:
            servers = servers.filter(pk=server)
            if not servers.exists():
                raise CommandError(f"No active server with id {server}.")
        metrics = servers_health_check(servers=servers)
        checked = {metric.server_id: metric for metric in metrics if metric.kind == ConnectionMetric.Kind.HEALTH_CHECK}
        for found in servers.order_by("tenant__name", "name"):
            metric = checked.get(found.pk)
            if metric is None:
                self.stdout.write(f"{found.tenant.slug}/{found.name}: skipped, another check of it is running")
                continue
            found.refresh_from_db()
            took = f"{metric.response_time_ms} ms" if metric.success else metric.error
            timeout = f", timeout {found.learned_timeout_ms} ms" if found.learned_timeout_ms else ""
            self.stdout.write(f"{found.tenant.slug}/{found.name}: {found.connection_status} ({took}{timeout})")
        if not all(metric.success for metric in checked.values()):
            self.stderr.write("Some servers did not answer.")
