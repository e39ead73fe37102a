from django.contrib import admin, messages

from nexus.errors import ApplicationError
from nexus.http import client_ip

from .models import ConsoleSession
from .services import console_session_terminate


@admin.register(ConsoleSession)
class ConsoleSessionAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "user",
        "tenant",
        "server",
        "guest_name",
        "vmid",
        "client_ip",
        "opened_at",
        "closed_at",
        "close_reason",
        "bytes_to_client",
        "bytes_to_server",
    ]
    list_filter = ["tenant", "close_reason", ("closed_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "server__name", "guest_name", "vmid", "client_ip"]
    date_hierarchy = "created_at"
    list_select_related = ["user", "tenant", "server"]
    exclude = ["token_hash"]
    actions = ["terminate"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="End the selected console sessions")
    def terminate(self, request, queryset):
        ended = 0
        for session in queryset.filter(closed_at__isnull=True):
            try:
                console_session_terminate(session=session, actor=request.user, client_ip=client_ip(request))
                ended += 1
            except ApplicationError as error:
                self.message_user(request, f"{session}: {error.message}", messages.WARNING)
        self.message_user(request, f"Ended {ended} console session(s).", messages.SUCCESS)
