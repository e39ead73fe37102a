"""Figures of a guest as the pages show them."""

from django import template

register = template.Library()
NONE = "\u2013"  # an en dash: no figure


@register.filter
def percent(part, whole=1) -> int:
    """`part` of `whole` in whole percent, 0-100 (a CPU share of 0.23 with whole 1 is 23)."""
    try:
        share = float(part) / float(whole)
    except (TypeError, ValueError, ZeroDivisionError):
        return 0
    return max(0, min(100, round(share * 100)))


@register.filter
def uptime(seconds) -> str:
    """3 d 4 h, 5 h 12 min, 42 min, 30 s; a dash for none."""
    try:
        seconds = int(seconds)
    except (TypeError, ValueError):
        return NONE
    if seconds <= 0:
        return NONE
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min" if minutes else f"{seconds} s"
