from rest_framework import serializers, viewsets

from tenants.api import RestrictedViewSetMixin

from .models import ProxmoxServer


class ProxmoxServerSerializer(serializers.ModelSerializer):
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = ProxmoxServer
        # Never the token secret, encrypted or not.
        fields = [
            "id",
            "tenant",
            "name",
            "host",
            "port",
            "token_id",
            "tls_mode",
            "fingerprint",
            "use_tailscale",
            "tailscale_hostname",
            "connection_timeout",
            "is_active",
            "connection_status",
            "last_health_check_at",
            "health_check_error",
            "avg_response_time_ms",
            "success_rate",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class ProxmoxServerViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    queryset = ProxmoxServer.objects.select_related("tenant")
    serializer_class = ProxmoxServerSerializer
