"""Helpers of the two-factor tests: a fixed clock for TOTP, and users with devices."""

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

NOW = 1_800_000_000  # a fixed moment: codes are computed for it, not for the machine's clock


class Clock:
    def __init__(self, now: float):
        self.now = now

    def time(self) -> float:
        return self.now


def code_at(device: TOTPDevice, when: float) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits)
    totp.time = when
    return f"{totp.token():0{device.digits}d}"


def enrol_totp(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
