from django.contrib import admin

from .models import ConnectionMetric


@admin.register(ConnectionMetric)
class ConnectionMetricAdmin(admin.ModelAdmin):
    list_display = ["timestamp", "server", "kind", "success", "response_time_ms", "error"]
    list_filter = ["kind", "success", "server__tenant"]
    search_fields = ["server__name", "error"]
    date_hierarchy = "timestamp"
    list_select_related = ["server"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
