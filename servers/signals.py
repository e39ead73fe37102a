"""What the servers app tells the apps above it; they connect their receivers in their AppConfig.ready (servers
imports none of them)."""

from django.dispatch import Signal

# A server's connection settings were saved (created, changed or imported), sent once the transaction committed.
# Arguments: server_id. metrics queues the server's first health check, so its status is not "unknown" for long.
server_connection_saved = Signal()
