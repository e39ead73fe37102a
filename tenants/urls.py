from django.urls import path

from . import api, views

app_name = "tenants"
urlpatterns = [
    path("tenants/switch/", views.tenant_switch, name="switch"),
    path("tenants/<slug:slug>/members/", views.members_page, name="members"),
    path("tenants/<slug:slug>/members/add/", views.member_add, name="member-add"),
    path("tenants/<slug:slug>/members/<int:member_id>/role/", views.member_role, name="member-role"),
    path("tenants/<slug:slug>/members/<int:member_id>/remove/", views.member_remove, name="member-remove"),
    path("tenants/<slug:slug>/grants/add/", views.grant_add, name="grant-add"),
    path("tenants/<slug:slug>/grants/<slug:grant_id>/revoke/", views.grant_revoke, name="grant-revoke"),
    path("tenants/<slug:slug>/settings/", views.settings_page, name="settings"),
    path("audit/", views.audit_page, name="audit"),
]

# Included by nexus under /api/v1/ in the "api" namespace.
api_urlpatterns = [
    path("tenants/", api.TenantListView.as_view(), name="tenant-list"),
    path("tenants/<slug:slug>/", api.TenantDetailView.as_view(), name="tenant-detail"),
    path("tenants/<slug:slug>/settings/", api.TenantSettingsView.as_view(), name="tenant-settings"),
    path("tenants/<slug:slug>/members/", api.MemberListView.as_view(), name="member-list"),
    path("tenants/<slug:slug>/members/<int:member_id>/", api.MemberDetailView.as_view(), name="member-detail"),
    path("tenants/<slug:slug>/grants/", api.GrantListView.as_view(), name="grant-list"),
    path("tenants/<slug:slug>/grants/<slug:grant_id>/", api.GrantDetailView.as_view(), name="grant-detail"),
    path("audit/", api.AuditLogView.as_view(), name="audit-list"),
    path("audit/export.csv", api.AuditExportView.as_view(), name="audit-export"),
]
