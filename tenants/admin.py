from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm
from django.contrib.auth.models import User
from django.db import transaction

from nexus.forms import ADMIN_FOREIGN_KEYS
from nexus.signals import password_changed

from .models import Membership, Tenant
from .roles import POWER_ACTIONS


class TenantAdminForm(forms.ModelForm):
    logo_url = forms.URLField(label="Logo URL", required=False, assume_scheme="https")
    allowed_power_actions = forms.MultipleChoiceField(
        choices=[(action, action) for action in POWER_ACTIONS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Tenant
        fields = "__all__"


class MembershipInline(admin.TabularInline):
    model = Membership
    formfield_overrides = ADMIN_FOREIGN_KEYS
    extra = 1
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    form = TenantAdminForm
    list_display = ["name", "slug", "is_active", "server_count", "max_servers", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created_by", "created_at", "updated_at"]
    inlines = [MembershipInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "logo_url", "is_active"]}),
        (
            "Limits and console",
            {"fields": ["max_servers", "console_enabled", "console_idle_timeout", "console_max_duration"]},
        ),
        ("Power", {"fields": ["allowed_power_actions"]}),
        ("Record", {"fields": ["created_by", "created_at", "updated_at"]}),
    ]

    @admin.display(description="servers")
    def server_count(self, tenant):
        return tenant.servers.count()

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    formfield_overrides = ADMIN_FOREIGN_KEYS
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["role", "tenant"]
    search_fields = ["user__username", "user__email", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["user", "tenant"]


class UserMembershipInline(admin.TabularInline):
    model = Membership
    formfield_overrides = ADMIN_FOREIGN_KEYS
    extra = 0
    autocomplete_fields = ["tenant"]
    verbose_name = "tenant role"


class PasswordSetForm(AdminPasswordChangeForm):
    """The admin's password form for an account: its logins end (Django's session hash), and so do their consoles."""

    def save(self, commit=True):
        user = super().save(commit)
        transaction.on_commit(
            lambda: password_changed.send(sender=type(user), user=user, kept_session_key=None, new_session_key=None)
        )
        return user


class NexusUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, UserMembershipInline]
    change_password_form = PasswordSetForm


admin.site.unregister(User)
admin.site.register(User, NexusUserAdmin)
