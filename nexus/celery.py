"""The Celery application: the worker runs Proxmox health checks, beat schedules them."""

import os

from celery import Celery
from celery.signals import beat_init, worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nexus.settings")

app = Celery("nexus")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
@beat_init.connect
def _refuse_an_unready_production(**kwargs):
    import django

    django.setup()
    from .checks import require_production_ready

    require_production_ready()
