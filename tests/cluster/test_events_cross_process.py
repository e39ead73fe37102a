"""A tenant event published by a Celery worker reaches browsers connected to either web process (through Redis'
channel layer): the health check of a server, run by a real `celery worker`, tells the tenant's members on A and B."""

import asyncio
import json
import subprocess
import sys
import uuid

import pytest
from celery import current_app
from websockets.asyncio.client import connect

from tests.cluster.test_cross_process import session_cookie

pytestmark = pytest.mark.cluster
pytest.importorskip("nexus.events", reason="the tenant events stream (nexus.events) comes with the live branch")

# The worker starts (a few seconds), checks the simulator, and the event crosses Redis twice.
HEARD_WITHIN = 60.0


def start_worker(env: dict, queue: str, log) -> subprocess.Popen:
    command = [sys.executable, "-m", "celery", "-A", "nexus", "worker", "-n", f"{queue}@%h", "-Q", queue]
    command += ["-P", "threads", "-c", "2", "--without-gossip", "-l", "info"]
    return subprocess.Popen(command, env={**env, "CELERY_QUEUE": queue}, stdout=log, stderr=subprocess.STDOUT)


async def events_of(base_url: str, tenant_slug: str, cookie: str):
    return await connect(
        f"{base_url.replace('http', 'ws')}/ws/tenants/{tenant_slug}/events/",
        origin=base_url,
        additional_headers={"Cookie": cookie},
    )


async def first_of_kind(websocket, kind: str) -> dict:
    while True:
        event = json.loads(await websocket.recv())
        if event["kind"] == kind:
            return event["data"]


def test_a_health_check_in_a_worker_reaches_members_on_both_web_processes(
    local_cluster, manager_a, sim_server, tmp_path
):
    cookie = session_cookie(manager_a)
    queue = f"nexus-events-test-{uuid.uuid4().hex[:8]}"
    with open(tmp_path / "worker.log", "wb") as log:
        worker = start_worker(local_cluster.env, queue, log)
        try:

            async def scenario():
                streams = [await events_of(url, sim_server.tenant.slug, cookie) for url in local_cluster.web_urls]
                current_app.send_task("metrics.tasks.check_server", args=[sim_server.pk], queue=queue)
                async with asyncio.timeout(HEARD_WITHIN):
                    heard = await asyncio.gather(*(first_of_kind(stream, "server.health") for stream in streams))
                for stream in streams:
                    await stream.close()
                return heard

            on_a, on_b = asyncio.run(scenario())
        finally:
            worker.terminate()
            worker.wait(20)
    assert on_a == on_b
