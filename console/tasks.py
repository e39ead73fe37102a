from celery import shared_task

from .services import console_sessions_close_stale


@shared_task(ignore_result=True)
def close_stale_sessions() -> None:
    console_sessions_close_stale()
