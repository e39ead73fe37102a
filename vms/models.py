from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from tenants import roles
from tenants.access import RestrictedQuerySet


class GuestGrant(models.Model):
    """One guest of a server (by its vmid) granted to one user: they see it, and may open its console or use its
    power actions when the grant says so. They see nothing else of the server but its name."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="guest_grants")
    server = models.ForeignKey("servers.ProxmoxServer", on_delete=models.CASCADE, related_name="guest_grants")
    vmid = models.PositiveIntegerField(
        "VM id", validators=[MinValueValidator(100), MaxValueValidator(999_999_999)], help_text="The guest's VM id."
    )
    console = models.BooleanField(default=False, help_text="May open the guest's console.")
    power = models.BooleanField(
        default=False, help_text="May start, stop, reset (and so on) the guest, as far as the tenant allows."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()

    # tenants.access: a grant belongs to its server's tenant and is seen by those who manage the tenant's members;
    # it grants one part (a guest, by vmid) of its server.
    tenant_path = "server__tenant"
    grant_path = None
    view_permission = roles.MANAGE_MEMBERS
    part_of = "server"
    part_key = "vmid"
    part_permission_fields = {roles.OPEN_CONSOLE: "console", roles.POWER_GUESTS: "power"}

    class Meta:
        ordering = ["server__name", "vmid", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "server", "vmid"], name="one_grant_per_user_and_guest"),
        ]

    def __str__(self) -> str:
        given = ", ".join(name for name, on in (("console", self.console), ("power", self.power)) if on)
        return f"{self.user} on {self.server} guest {self.vmid} (view{', ' + given if given else ''})"

    def get_additional_data(self) -> dict:
        """What django-auditlog keeps with each change, so the tenant's audit log finds it."""
        return {"tenant": self.server.tenant_id}
