"""The Celery application: the worker runs Proxmox health checks, beat schedules them."""

import os

from celery import Celery
from celery.signals import beat_init, task_postrun, worker_init

from .telemetry import observe_celery_task

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


@task_postrun.connect
def _count_task_outcome(task=None, state=None, **kwargs):
    observe_celery_task(task=task.name, outcome=(state or "unknown").lower())
