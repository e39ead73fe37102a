"""The API of health figures: a server's hourly buckets, a tenant's dashboard figures. Both scoped through
tenants.access (outsiders get 404)."""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from servers.selectors import server_for_user
from tenants import access
from tenants.models import Tenant

from .selectors import MAX_HOURS, server_hourly_buckets, tenant_stats


class HoursSerializer(serializers.Serializer):
    hours = serializers.IntegerField(min_value=1, max_value=MAX_HOURS, default=24)


class HourBucketSerializer(serializers.Serializer):
    hour = serializers.DateTimeField()
    checks = serializers.IntegerField()
    successes = serializers.IntegerField()
    success_rate = serializers.FloatField(allow_null=True)
    avg_ms = serializers.IntegerField(allow_null=True)
    p95_ms = serializers.IntegerField(allow_null=True)
    probe_ms = serializers.IntegerField(allow_null=True, help_text="Average time to console of the probe.")


class ServerMetricsSerializer(serializers.Serializer):
    server = serializers.IntegerField()
    status = serializers.CharField()
    learned_timeout_ms = serializers.IntegerField(allow_null=True)
    buckets = HourBucketSerializer(many=True)


class RunningStoppedSerializer(serializers.Serializer):
    running = serializers.IntegerField()
    stopped = serializers.IntegerField()


class GuestCountsSerializer(serializers.Serializer):
    qemu = RunningStoppedSerializer()
    lxc = RunningStoppedSerializer()
    servers_counted = serializers.IntegerField(help_text="Servers whose guest list was read in the last hour.")
    servers_not_counted = serializers.IntegerField()
    as_of = serializers.FloatField(allow_null=True, help_text="Unix time of the oldest list counted.")


class ServerStatusCountsSerializer(serializers.Serializer):
    online = serializers.IntegerField()
    degraded = serializers.IntegerField()
    offline = serializers.IntegerField()
    unknown = serializers.IntegerField()


class TenantStatsSerializer(serializers.Serializer):
    servers = ServerStatusCountsSerializer()
    guests = GuestCountsSerializer()
    success_rate = serializers.FloatField(allow_null=True, help_text="0-100, health checks of the last 24 hours.")
    avg_response_ms = serializers.IntegerField(allow_null=True)
    consoles_open = serializers.IntegerField()


class ServerMetricsView(APIView):
    """A server's health checks per hour (`hours`: 1 to 168, the current hour last)."""

    @extend_schema(
        parameters=[OpenApiParameter("hours", int, description="1 to 168; 24 by default")],
        responses=ServerMetricsSerializer,
    )
    def get(self, request, server_id: int):
        server = server_for_user(request.user, server_id)
        query = HoursSerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        buckets = server_hourly_buckets(server_ids=[server.pk], hours=query.validated_data["hours"])[server.pk]
        return Response(
            {
                "server": server.pk,
                "status": server.connection_status,
                "learned_timeout_ms": server.learned_timeout_ms,
                "buckets": [bucket.as_dict() for bucket in buckets],
            }
        )


class TenantStatsView(APIView):
    """A tenant's dashboard figures, of what you may see of it."""

    @extend_schema(responses=TenantStatsSerializer)
    def get(self, request, slug: str):
        tenant = access.get_object_for_user(Tenant.objects.all(), request.user, slug=slug)
        return Response(tenant_stats(tenant=tenant, user=request.user))
