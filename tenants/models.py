from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from .access import RestrictedQuerySet
from .roles import POWER_ACTIONS, Role

slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
    "Use 1-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit.",
)


def default_power_actions() -> list[str]:
    return list(POWER_ACTIONS)


def validate_power_actions(value) -> None:
    if not isinstance(value, list) or not all(isinstance(action, str) for action in value):
        raise ValidationError("Allowed power actions must be a list of action names.")
    unknown = sorted(set(value) - set(POWER_ACTIONS))
    if unknown:
        raise ValidationError(f"Unknown power actions: {', '.join(unknown)}. Known: {', '.join(POWER_ACTIONS)}.")


class Tenant(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=63, unique=True, validators=[slug_validator])
    description = models.TextField(blank=True)
    logo_url = models.URLField(blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    max_servers = models.PositiveSmallIntegerField(
        default=50, validators=[MaxValueValidator(500)], help_text="How many Proxmox servers this tenant may add."
    )
    console_enabled = models.BooleanField(default=True, help_text="Whether members may open guest consoles.")
    console_idle_timeout = models.PositiveIntegerField(
        default=15 * 60, help_text="Seconds without keyboard or mouse input before a console closes; 0 for never."
    )
    console_max_duration = models.PositiveIntegerField(
        default=8 * 3600,
        validators=[MinValueValidator(60)],
        help_text="Seconds after which any console closes, however active.",
    )
    require_two_factor = models.BooleanField(
        default=False,
        help_text="Members must use a second factor (TOTP or a passkey) to log in; those without one are taken to "
        "enrolment and can do nothing else until they have enrolled.",
    )
    allowed_power_actions = models.JSONField(
        default=default_power_actions,
        validators=[validate_power_actions],
        help_text="Power actions members may use on this tenant's guests.",
    )

    objects = RestrictedQuerySet.as_manager()

    tenant_path = ""  # tenants.access: a tenant is its own tenant

    class Meta:
        ordering = ["name"]
        permissions = [
            ("view_members", "Can see the tenant's members"),
            ("manage_members", "Can add, change and remove the tenant's members"),
            ("view_audit", "Can read the tenant's audit log"),
            ("manage_consoles", "Can see and end the tenant's console sessions"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_additional_data(self) -> dict:
        """What django-auditlog keeps with each change, so the tenant's audit log finds it."""
        return {"tenant": self.pk}


class Membership(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["tenant__name", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="one_membership_per_user_and_tenant")]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display().lower()} of {self.tenant}"

    def get_additional_data(self) -> dict:
        return {"tenant": self.tenant_id}
