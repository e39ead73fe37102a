from django import forms
from django.contrib import admin

from nexus.forms import ADMIN_FOREIGN_KEYS, SecretField, WriteOnlySecretFormMixin

from .models import ApiToken, GroupMapping, OidcIdentity, OidcProvider, PlatformSecurity


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["name", "user", "token_key", "created", "expiry", "last_used_at"]
    search_fields = ["name", "user__username"]
    fields = ["name", "user", "token_key", "created", "expiry", "last_used_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # made by their owners, who alone see the key once


@admin.register(PlatformSecurity)
class PlatformSecurityAdmin(admin.ModelAdmin):
    """The platform's sign-in policy: one row (the changelist shows it, or offers to make it)."""

    list_display = ["__str__", "require_two_factor_for_platform_admins", "require_two_factor_for_everyone"]

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not PlatformSecurity.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


class OidcProviderAdminForm(WriteOnlySecretFormMixin, forms.ModelForm):
    issuer = forms.URLField(assume_scheme="https", help_text=OidcProvider._meta.get_field("issuer").help_text)
    client_secret = SecretField(label="Client secret")
    secret_field = "client_secret"
    secret_missing = "A new provider needs its client secret."

    class Meta:
        model = OidcProvider
        fields = "__all__"


class GroupMappingInline(admin.TabularInline):
    model = GroupMapping
    extra = 0
    autocomplete_fields = ["tenant"]
    formfield_overrides = ADMIN_FOREIGN_KEYS


@admin.register(OidcProvider)
class OidcProviderAdmin(admin.ModelAdmin):
    form = OidcProviderAdminForm
    list_display = ["name", "slug", "issuer", "is_active", "create_users", "match_verified_email"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [GroupMappingInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "is_active"]}),
        ("Provider", {"fields": ["issuer", "client_id", "client_secret", "scopes", "groups_claim"]}),
        (
            "Accounts",
            {"fields": ["create_users", "match_verified_email", "password_login_disabled_domains"]},
        ),
        ("Two-factor", {"fields": ["mfa_amr_values", "mfa_acr_values"]}),
    ]


@admin.register(OidcIdentity)
class OidcIdentityAdmin(admin.ModelAdmin):
    """Which account each provider's subject logs in to; delete one to unlink it."""

    list_display = ["provider", "subject", "user", "created_at", "last_login_at"]
    list_filter = ["provider"]
    search_fields = ["subject", "user__username", "user__email"]
    fields = ["provider", "subject", "user", "created_at", "last_login_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False
