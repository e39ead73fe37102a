from django.contrib import admin

from nexus.forms import ADMIN_FOREIGN_KEYS

from .models import GuestGrant


@admin.register(GuestGrant)
class GuestGrantAdmin(admin.ModelAdmin):
    """Single guests granted to users (a customer's own VM; tenant admins also on the members page). Changes are
    recorded by django-auditlog."""

    formfield_overrides = ADMIN_FOREIGN_KEYS
    list_display = ["user", "server", "vmid", "console", "power", "created_at"]
    list_filter = ["console", "power", "server__tenant"]
    search_fields = ["user__username", "server__name", "server__tenant__name", "vmid"]
    autocomplete_fields = ["user", "server"]
    list_select_related = ["user", "server"]
    readonly_fields = ["created_by", "created_at"]
    fields = ["user", "server", "vmid", "console", "power", "created_by", "created_at"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
